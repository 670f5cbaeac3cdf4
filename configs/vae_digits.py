"""VAE on scikit-learn's embedded 8x8 digits at 16x16, 2-d latent: the VAE family's default, about a minute on CPU.

  python train.py --config=configs/vae_digits.py --workdir=runs/vae_digits
"""
from jaxgen.configs import vae


def get_config():
  c = vae.get_config()
  return c
