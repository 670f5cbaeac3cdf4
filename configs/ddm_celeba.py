"""Denoising diffusion on CelebA faces 64x64x3: the reference flowers model (docs/reference.md §8) on faces.

  python train.py --config=configs/ddm_celeba.py --workdir=runs/ddm_celeba
"""
from jaxgen.configs import diffusion


def get_config():
  c = diffusion.get_config()
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 64
  c.data.channels = 3
  m = c.model                             # the U-Net of configs/ddm_flowers.py
  m.widths = (32, 64, 96)
  m.bottleneck_width = 128
  m.ema_warmup = False
  t = c.train
  t.num_steps = 10000                     # 640,000 images ~ 3.9 epochs of 162,770 (no reference budget)
  t.log_every = 50
  t.num_sample_images = 16
  return c
