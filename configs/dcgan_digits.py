"""DCGAN on the embedded digits at 16x16: the reference DCGAN (docs/reference.md §4) scaled down, minutes on CPU.

  python train.py --config=configs/dcgan_digits.py --workdir=runs/dcgan_digits
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  m = c.model
  m.objective = "bce"
  m.n_critic = 1                      # bce updates both players at once
  m.label_noise = 0.1                 # the notebook's NOISE_PARAM
  c.optim.b2 = 0.999
  return c
