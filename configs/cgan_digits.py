"""Conditional WGAN-GP on the embedded digits at 16x16: the reference cGAN (docs/reference.md §6) scaled down.

  python train.py --config=configs/cgan_digits.py --workdir=runs/cgan_digits
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  c.model.num_classes = 10
  return c
