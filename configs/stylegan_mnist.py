"""StyleGAN2 (compact) on MNIST padded 28 -> 32: 8 styles of w in R^64.

  python train.py --config=configs/stylegan_mnist.py --workdir=runs/stylegan_mnist

Why this recipe: the compact generator at channel_base 1024 (64 channels up to 16x16, 32 at 32x32) keeps a step
under a third of a second on 2 CPU cores, so a few epochs fit in twenty minutes.
"""
from jaxgen.configs import stylegan


def get_config():
  c = stylegan.get_config()
  c.data.name = "tfds/mnist"
  c.data.image_size = 32
  c.data.pad = 2
  m = c.model
  m.channel_base = 1024               # 4x4 .. 16x16: 64 channels, 32x32: 32
  m.ema_decay = 0.999
  t = c.train
  t.num_steps = 4000                  # ~2.1 epochs of 60,000 at batch 32
  return c
