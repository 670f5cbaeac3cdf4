"""DCGAN on the LEGO bricks images 64x64x1: the notebook 04_gan/01_dcgan (docs/reference.md §4); data from Kaggle.

  python train.py --config=configs/dcgan_lego.py --workdir=runs/dcgan_lego --config.data.name=folder:PATH/dataset
"""
from jaxgen.configs import gan


def get_config():
  c = gan.get_config()
  c.data.name = "folder:data/lego"    # placeholder: point it at the extracted dataset/ folder
  c.data.image_size = 64
  m = c.model
  m.objective = "bce"
  m.latent_dim = 100                  # Z_DIM
  m.g_features = (512, 256, 128, 64)
  m.d_features = (64, 128, 256, 512)
  m.n_critic = 1
  m.label_noise = 0.1                 # NOISE_PARAM
  c.optim.b2 = 0.999
  t = c.train
  t.batch_size = 128
  t.num_steps = 93900                 # EPOCHS = 300 of ceil(40,000 / 128) = 313 steps
  t.checkpoint_every = 2000
  t.sample_every = 2000
  return c
