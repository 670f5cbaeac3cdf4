"""DCGAN objective (non-saturating BCE, label noise) on the 25-Gaussian grid, with the WGAN-GP paper's toy MLPs.

  python train.py --config=configs/dcgan_toy2d.py --workdir=runs/dcgan_toy2d
  python -m jaxgen.evaluate --workdir=runs/dcgan_toy2d

The comparison point for wgan_gp_toy2d: same data, networks, batch and step budget; the standard GAN loss is
known to drop modes here (the mode metrics show how many).
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "gan"
  c.data.name = "toy2d/25gaussians"

  m = c.model
  m.objective = "bce"
  m.latent_dim = 2
  m.num_classes = 0
  m.mlp_hidden = (512, 512, 512)
  m.label_noise = 0.1                 # the DCGAN notebook's NOISE_PARAM
  m.n_critic = 1                       # critic updates per generator update (wgan/wgan_gp; bce updates both at once)
  m.gp_weight = 10.0                   # gradient-penalty weight (wgan_gp only)
  m.gp_alpha_dist = "uniform"          # interpolation weight law of the penalty (wgan_gp only)
  m.critic_data = "same"               # critic batches: "same" real batch for every update, or "split"
  m.clip_value = 0.01                  # weight clipping bound (objective "wgan" only)

  o = c.optim
  o.name = "adam"
  o.learning_rate = 1e-3
  o.b1 = 0.5
  o.b2 = 0.9
  o.eps = 1e-7
  o.decay = "none"                    # constant learning rate, as the reference ("linear": decay to 0 over the run)

  t = c.train
  t.batch_size = 256
  t.num_steps = 2000
  t.log_every = 100
  t.checkpoint_every = 1000
  t.sample_every = 1000
  t.num_sample_images = 2500
  return c
