"""Conditional WGAN-GP on CelebA 64x64x3, label Blond_Hair: the notebook 04_gan/03_cgan (docs/reference.md §6).

  python train.py --config=configs/cgan_celeba.py --workdir=runs/cgan_celeba
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  c.data.name = "tfds/celeb_a"
  c.data.label = "Blond_Hair"         # label 1 where the attribute is true, else 0
  c.data.image_size = 64
  c.data.channels = 3
  m = c.model
  m.num_classes = 2                   # CLASSES
  m.g_features = (128, 128, 128, 64)
  m.d_features = (64, 128, 128, 128)
  c.optim.learning_rate = 5e-5
  t = c.train
  t.batch_size = 128
  t.log_every = 20
  t.sample_every = 500
  return c
