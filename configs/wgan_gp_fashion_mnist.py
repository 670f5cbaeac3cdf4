"""WGAN-GP on Fashion-MNIST 32x32 (the reference's WGAN-GP, notebook 04_gan/02_wgan_gp, on clothes).

  python train.py --config=configs/wgan_gp_fashion_mnist.py --workdir=runs/wgan_gp_fashion_mnist

Why this recipe: the digits recipe (3 critic updates, GP 10, Adam 2e-4, β = (0.5, 0.9)) with one more doubling
of the generator for 32x32; the critic's loss keeps every mode in play, which is what recall measures.
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  c.data.name = "tfds/fashion_mnist"
  c.data.image_size = 32
  c.data.pad = 2
  m = c.model
  m.g_features = (128, 64, 32)
  m.d_features = (32, 64, 128)
  t = c.train
  t.num_steps = 3500                  # ~3.7 epochs of 60,000 at batch 64 (x3 critic updates)
  t.sample_every = 3500
  return c
