"""Denoising diffusion on scikit-learn's digits at their native 8x8x1: recognisable digits in minutes on a CPU.

  python train.py --config=configs/ddm_digits.py --workdir=runs/ddm_digits
  python sample.py --workdir=runs/ddm_digits --steps=20
  python sample.py --workdir=runs/ddm_digits --steps_sweep=1,2,3,5,20,100
  python sample.py --workdir=runs/ddm_digits --interpolate=11

The reference U-Net (docs/reference.md §8) scaled down: widths [32, 64] (two DownBlocks, 8 -> 4 -> 2 px), block depth 2,
a 2 x 64 bottleneck; same embedding, offset-cosine schedule, L1 on eps, AdamW(1e-3, wd 1e-4) and EMA.

Why 8x8: every digits image is an 8x8 scan; at 16x16 (the bilinear 2x upsampling the other digits configs use)
three quarters of the U-Net's compute went to interpolated pixels. At 8x8 the same ~5 CPU-minutes buy twice the
widths, and the samples are more often recognisable. Measured with `python -m jaxgen.evaluate` (1,000 samples,
jaxgen's digits classifier, which scores every digits size at 16x16; real digits 98 % confident, FD 9.6), 3,000
steps (5.0 min on 2 idle cores):
  this config, DDIM-20 (the default sampler): 86.3 / 86.2 / 87.6 % confident for sample seeds 0 / 1 / 2,
    FD 13.7 / 12.8 / 12.1, label entropy 0.99-1.00 of the maximum; training seed 1 (--config.seed=1):
    87.5 / 88.1 % for sample seeds 0 / 1, FD 15.7 / 14.3;
    DDPM-100 (`--sampler=ddpm --steps=100`): 90.8 %, FD 23.0 (sharper but less varied).
  the previous default, 16x16 with widths [16, 32] and a 2 x 32 bottleneck (7.2 min): DDIM-20 67 %, FD 15.9;
    DDPM-100 78 %, FD 12.2; 6,000 steps + DDPM-100 84 %. Raising max_signal_rate to 0.995/0.999 made it worse
    (64-66 %). `--config.data.image_size=16` gives 16x16 samples from this config.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "diffusion"
  c.data.name = "digits"
  c.data.image_size = 8                   # the digits' native resolution (no resize)
  c.data.channels = 1
  c.data.range = "unit"

  m = c.model
  m.network = "unet"
  m.widths = (32, 64)                     # two DownBlocks: 8 -> 4 -> 2 px
  m.block_depth = 2
  m.bottleneck_width = 64
  m.bottleneck_depth = 2
  m.embedding_dim = 32
  m.schedule = "offset_cosine"
  m.min_signal_rate = 0.02
  m.max_signal_rate = 0.95
  m.loss = "mae"
  m.ema_decay = 0.999
  m.ema_warmup = True                     # decay min(0.999, (1+n)/(10+n)): without it 0.999^2000 = 13% of the EMA is still the init
  m.ddpm_variance = "posterior"

  o = c.optim
  o.learning_rate = 1e-3
  o.b1 = 0.9
  o.b2 = 0.999
  o.weight_decay = 1e-4
  o.eps = 1e-7

  t = c.train
  t.batch_size = 64
  t.num_steps = 3000                      # ~134 epochs of the 1,437 training digits
  t.log_every = 100
  t.checkpoint_every = 1000
  t.sample_every = 1000
  t.num_sample_images = 64

  c.sample.steps = 20
  c.sample.sampler = "ddim"
  return c
