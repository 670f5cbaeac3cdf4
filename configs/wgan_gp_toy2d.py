"""WGAN-GP on the 25-Gaussian grid (toy2d/25gaussians), the WGAN-GP paper's toy experiment: minutes on a CPU.

  python train.py --config=configs/wgan_gp_toy2d.py --workdir=runs/wgan_gp_toy2d
  python sample.py --workdir=runs/wgan_gp_toy2d --num=2500
  python -m jaxgen.evaluate --workdir=runs/wgan_gp_toy2d       # modes covered, high-quality fraction, reverse KL

Models as gan_toy.py (Gulrajani et al., 2017): generator 2-d noise -> 3 x (Dense 512, ReLU) -> 2; critic
2 -> 3 x (Dense 512, ReLU) -> 1. The paper's toy code trains 100k iterations at lr 1e-4; this config is tuned to
reach the mode-coverage target in a few thousand steps (see the comments).
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "gan"
  c.data.name = "toy2d/25gaussians"

  m = c.model
  m.objective = "wgan_gp"
  m.latent_dim = 2                    # gan_toy.py: noise of dimension 2
  m.num_classes = 0
  m.mlp_hidden = (512, 512, 512)      # DIM = 512, 3 hidden ReLU layers
  m.n_critic = 5                      # CRITIC_ITERS
  m.gp_weight = 0.1                   # LAMBDA = 0.1 in gan_toy.py ("smaller lambda seems to help for toy tasks")
  m.gp_alpha_dist = "uniform"
  m.critic_data = "same"

  o = c.optim
  o.name = "adam"
  o.learning_rate = 1e-3              # gan_toy.py: 1e-4 for 100k iterations; 1e-3 reaches the target far sooner
  o.b1 = 0.5
  o.b2 = 0.9
  o.eps = 1e-7

  t = c.train
  t.batch_size = 256                  # BATCH_SIZE
  t.num_steps = 2000
  t.log_every = 100
  t.checkpoint_every = 1000
  t.sample_every = 1000
  t.num_sample_images = 2500
  return c
