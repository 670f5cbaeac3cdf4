"""WGAN-GP on the 25-Gaussian grid, the WGAN-GP paper's toy experiment (gan_toy.py), sampled with DOT: minutes on CPU.

  python train.py --config=configs/wgan_gp_toy2d.py --workdir=runs/wgan_gp_toy2d
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  c.data.name = "toy2d/25gaussians"
  c.data.image_size = 32              # unused by toy2d data (the value runs recorded)
  c.data.range = "unit"               # unused by toy2d data (the value runs recorded)
  m = c.model
  m.latent_dim = 2                    # gan_toy.py: noise of dimension 2
  m.n_critic = 5                      # CRITIC_ITERS
  m.gp_weight = 0.1                   # LAMBDA = 0.1 in gan_toy.py
  m.critic_data = "split"             # Algorithm 1: a fresh real batch of 256 for each critic update
  c.optim.learning_rate = 1e-3        # gan_toy.py: 1e-4 for 100k iterations (docs/results.md)
  c.optim.decay = "linear"            # the paper's DECAY
  t = c.train
  t.batch_size = 1280                 # n_critic x BATCH_SIZE (256)
  t.num_steps = 4000
  t.checkpoint_every = 1000
  t.num_sample_images = 2500
  c.sample.dot_steps = 100            # discriminator optimal transport (Tanaka 2019) after the generator
  return c
