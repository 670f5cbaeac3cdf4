"""Energy-based model on the embedded digits at their native 8x8: the EBM family's default, ~10 minutes on CPU.

  python train.py --config=configs/ebm_digits.py --workdir=runs/ebm_digits
"""
from jaxgen.configs import ebm


def get_config():
  c = ebm.get_config()
  return c
