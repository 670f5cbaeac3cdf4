"""WGAN-GP on CelebA 64x64x3: the notebook 04_gan/02_wgan_gp (docs/reference.md §5).

  python train.py --config=configs/wgan_gp_celeba.py --workdir=runs/wgan_gp_celeba
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 64
  c.data.channels = 3
  m = c.model
  m.latent_dim = 128                  # Z_DIM
  m.g_features = (512, 256, 128, 64)
  m.d_features = (64, 128, 256, 512)
  t = c.train
  t.batch_size = 512                  # BATCH_SIZE
  t.num_steps = 400                   # fit(epochs=200, steps_per_epoch=2)
  t.log_every = 10
  t.checkpoint_every = 100
  t.sample_every = 100
  return c
