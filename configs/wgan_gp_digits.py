"""WGAN-GP on scikit-learn's embedded 8x8 digits at 16x16: the GAN family's default, minutes on a 2-core CPU.

  python train.py --config=configs/wgan_gp_digits.py --workdir=runs/wgan_gp_digits
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  return c
