"""StyleGAN2 (compact) on the embedded digits at 16x16: the stylegan family's default, minutes on CPU.

  python train.py --config=configs/stylegan_digits.py --workdir=runs/stylegan_digits
"""
from jaxgen.configs import stylegan


def get_config():
  c = stylegan.get_config()
  return c
