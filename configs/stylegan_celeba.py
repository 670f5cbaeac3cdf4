"""StyleGAN2 (compact) on CelebA faces 64x64x3, 10 styles, W+ = 10 x 512, half the paper's channels.

  python train.py --config=configs/stylegan_celeba.py --workdir=runs/stylegan_celeba
"""
from jaxgen.configs import stylegan


def get_config():
  c = stylegan.get_config()
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 64
  c.data.channels = 3
  m = c.model
  m.z_dim = 512
  m.w_dim = 512
  m.mapping_layers = 8                # the StyleGAN reference: 8 x 512
  m.channel_base = 8192               # 4-32: 256 channels, 64: 128
  m.channel_max = 256
  m.r1_gamma = 0.05
  m.ema_decay = 0.999
  c.optim.learning_rate = 0.0025      # StyleGAN2-ADA's low-resolution setting
  t = c.train
  t.num_steps = 200_000               # 6.4 M images at batch 32
  t.checkpoint_every = 5000
  t.sample_every = 5000
  return c
