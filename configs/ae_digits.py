"""Autoencoder on scikit-learn's embedded 8x8 digits at 16x16: the autoencoder family's default, about a minute on CPU.

  python train.py --config=configs/ae_digits.py --workdir=runs/ae_digits
"""
from jaxgen.configs import autoencoder


def get_config():
  c = autoencoder.get_config()
  return c
