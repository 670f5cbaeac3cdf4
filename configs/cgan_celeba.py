"""Conditional WGAN-GP on CelebA 64x64x3, label Blond_Hair — the reference notebook 04_gan/03_cgan (docs/reference.md §6).

  python train.py --config=configs/cgan_celeba.py --workdir=runs/cgan_celeba
  python sample.py --workdir=runs/cgan_celeba --label=1          # blond
  python sample.py --workdir=runs/cgan_celeba --class_grid       # row 0: not blond, row 1: blond (same z per column)

The one-hot label (2 classes) is concatenated to the latent for G and enters the critic as 2 constant channels;
the gradient penalty differentiates w.r.t. the image only.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "gan"
  c.data.name = "tfds/celeb_a"
  c.data.label = "Blond_Hair"          # label 1 where the attribute is true, else 0
  c.data.image_size = 64
  c.data.channels = 3
  c.data.range = "symmetric"

  m = c.model
  m.objective = "wgan_gp"
  m.latent_dim = 32                    # Z_DIM
  m.num_classes = 2                    # CLASSES
  m.g_features = (128, 128, 128, 64)   # ConvT 128 (valid), 128, 128, 64 -> ConvT 3 tanh (bias)
  m.d_features = (64, 128, 128, 128)   # on image (3) + label maps (2) = 5 channels
  m.critic_second_slope = 0.3          # LeakyReLU() default in the notebook
  m.dropout = 0.3
  m.bn_momentum = 0.9
  m.n_critic = 3                       # CRITIC_STEPS
  m.gp_weight = 10.0                   # GP_WEIGHT
  m.gp_alpha_dist = "uniform"          # paper; the notebook draws alpha ~ N(0,1): --config.model.gp_alpha_dist=normal
  m.critic_data = "same"
  m.clip_value = 0.01                  # weight clipping bound (objective "wgan" only)
  m.label_noise = 0.0                  # noisy BCE targets (objective "bce" only)

  o = c.optim
  o.name = "adam"
  o.learning_rate = 5e-5
  o.b1 = 0.5
  o.b2 = 0.9                           # overrides the notebook's first 0.999
  o.eps = 1e-7
  o.decay = "none"                    # constant learning rate, as the reference ("linear": decay to 0 over the run)

  t = c.train
  t.batch_size = 128
  t.num_steps = 2000                   # fit(epochs=20*100, steps_per_epoch=1) = 2,000 generator steps
  t.log_every = 20
  t.checkpoint_every = 500
  t.sample_every = 500
  t.num_sample_images = 64
  return c
