"""Denoising diffusion on Oxford 102 Flowers 64x64x3 — the reference notebook 08_diffusion/01_ddm (docs/reference.md §8).

  python train.py --config=configs/ddm_flowers.py --workdir=runs/ddm_flowers
  python sample.py --workdir=runs/ddm_flowers --steps=20                       # DDIM, 20 steps (the reference)
  python sample.py --workdir=runs/ddm_flowers --steps_sweep=1,2,3,5,20,100     # same noise, one row per step count
  python sample.py --workdir=runs/ddm_flowers --interpolate=11                 # spherical noise interpolation

U-Net widths [32, 64, 96], block depth 2, 2 x 128 bottleneck; 32-d sinusoidal embedding of the noise variance;
offset-cosine schedule (signal 0.95 -> 0.02); L1 on eps; AdamW(1e-3, wd 1e-4); EMA 0.999. Images in [0, 1] are
standardised per channel with statistics of the training data (kept in the State).
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "diffusion"
  c.data.name = "tfds/oxford_flowers102"  # the reference reads the Kaggle folder: --config.data.name=folder:<path>
  c.data.image_size = 64                  # IMAGE_SIZE
  c.data.channels = 3
  c.data.range = "unit"                   # x / 255, then per-channel standardisation inside the family

  m = c.model
  m.network = "unet"
  m.widths = (32, 64, 96)
  m.block_depth = 2
  m.bottleneck_width = 128
  m.bottleneck_depth = 2
  m.embedding_dim = 32                    # NOISE_EMBEDDING_SIZE
  m.schedule = "offset_cosine"            # also: "cosine", "linear" (DDPM's beta 1e-4 .. 0.02, T = 1000)
  m.min_signal_rate = 0.02
  m.max_signal_rate = 0.95
  m.loss = "mae"                          # the reference's L1 on eps; "mse" is DDPM's simple loss
  m.ema_decay = 0.999                     # EMA
  m.ema_warmup = False                    # the reference: constant decay (True ramps it as min(0.999, (1+n)/(10+n)))
  m.ddpm_variance = "posterior"           # sigma^2 of the ancestral sampler: "posterior" (beta-tilde) or "beta"

  o = c.optim
  o.learning_rate = 1e-3                  # LEARNING_RATE
  o.b1 = 0.9
  o.b2 = 0.999
  o.weight_decay = 1e-4                   # WEIGHT_DECAY (decoupled, on every variable, as Keras AdamW)
  o.eps = 1e-7                            # Keras epsilon

  t = c.train
  t.batch_size = 64                       # BATCH_SIZE
  # EPOCHS = 50 of DATASET_REPETITIONS = 5 passes: with the TFDS "train" split (train+validation, 2,040 images)
  # one epoch = floor(5 * 2040 / 64) = 159 steps -> 50 * 159 = 7,950 steps. The reference's Kaggle folder holds
  # N ~ 8k images (docs/reference.md §10: ~640 steps per epoch -> ~32,000 steps): set train.num_steps for that budget.
  t.num_steps = 7950
  t.log_every = 50
  t.checkpoint_every = 159                # once per epoch, as the reference's checkpoint callback
  t.sample_every = 159                    # generate(10, 20) after every epoch in the reference
  t.num_sample_images = 10

  c.sample.steps = 20                     # PLOT_DIFFUSION_STEPS
  c.sample.sampler = "ddim"               # the reference's deterministic reverse diffusion; "ddpm" is ancestral
  return c
