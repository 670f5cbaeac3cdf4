"""StyleGAN2 on MNIST padded 28 -> 32 (with -1, i.e. black), [-1, 1]; 8 styles, W+ is 8 x 128.

  python train.py --config=configs/stylegan_mnist.py --workdir=runs/stylegan_mnist
  python sample.py --workdir=runs/stylegan_mnist --direction=boundary:7 --alphas=-3:3:7

Needs the TFDS `mnist` data set prepared (see jaxgen.data). Boundary directions use jaxgen's MNIST classifier.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "stylegan"
  c.data.name = "tfds/mnist"
  c.data.image_size = 32
  c.data.channels = 1
  c.data.pad = 2
  c.data.range = "symmetric"

  m = c.model
  m.arch = "compact"            # jaxgen's CPU-sized generator; "stylegan2_ada": the published one
  m.z_dim = 128
  m.w_dim = 128
  m.mapping_layers = 8
  m.mapping_lr_mul = 0.01
  m.channel_base = 2048         # 4x4 .. 16x16: 128 channels, 32x32: 64
  m.channel_max = 128
  m.mbstd_group = 4
  m.loss = "logistic"
  m.r1_gamma = 0.1
  m.r1_subsample = 4
  m.gp_weight = 10.0
  m.n_critic = 1
  m.style_mixing_prob = 0.9
  m.ema_decay = 0.999
  m.ema_warmup = True           # EMA decay min(ema_decay, (1 + step) / (10 + step))
  m.w_avg_beta = 0.995
  m.conv_clamp = 0.0            # stylegan2_ada only: clamp conv outputs to +-conv_clamp (0: off)
  m.inference_only = False      # True for converted pretrained generators (no D, no optimizer state)

  o = c.optim
  o.learning_rate = 0.002       # StyleGAN2: Adam(0.002, (0, 0.99), 1e-8)
  o.b1 = 0.0
  o.b2 = 0.99
  o.eps = 1e-8

  t = c.train
  t.num_steps = 20_000          # ~21 epochs of 60 000 at batch 64
  t.batch_size = 64
  t.log_every = 100
  t.checkpoint_every = 2000
  t.sample_every = 2000

  s = c.sample
  s.truncation = 1.0            # --truncation=0.7 for the StyleGAN reference value
  s.noise_mode = "random"
  s.pca_samples = 10000
  s.boundary_samples = 4000
  s.layer_weights = "all"
  s.alpha_units = "std"
  s.interp_space = "w"
  return c
