"""DCGAN objective (BCE, label noise) on the 25-Gaussian grid with the WGAN-GP paper's toy MLPs: wgan_gp_toy2d's foil.

  python train.py --config=configs/dcgan_toy2d.py --workdir=runs/dcgan_toy2d
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  c.data.name = "toy2d/25gaussians"
  c.data.image_size = 32              # unused by toy2d data (the value runs recorded)
  c.data.range = "unit"               # unused by toy2d data (the value runs recorded)
  m = c.model
  m.objective = "bce"
  m.latent_dim = 2
  m.n_critic = 1
  m.label_noise = 0.1                 # the DCGAN notebook's NOISE_PARAM
  c.optim.learning_rate = 1e-3
  t = c.train
  t.batch_size = 256
  t.checkpoint_every = 1000
  t.num_sample_images = 2500
  return c
