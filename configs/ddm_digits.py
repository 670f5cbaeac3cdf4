"""Denoising diffusion on the embedded digits at their native 8x8: the diffusion family's default, minutes on CPU.

  python train.py --config=configs/ddm_digits.py --workdir=runs/ddm_digits
"""
from jaxgen.configs import diffusion


def get_config():
  c = diffusion.get_config()
  return c
