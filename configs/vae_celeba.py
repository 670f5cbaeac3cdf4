"""VAE on CelebA faces 32x32x3, 200-d latent: the notebook 03_vae/03_vae_faces (docs/reference.md §3).

  python train.py --config=configs/vae_celeba.py --workdir=runs/vae_celeba
"""
from jaxgen.configs import vae


def get_config():
  c = vae.get_config()
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 32              # IMAGE_SIZE = 32, the whole image squashed (no crop)
  c.data.channels = 3
  c.data.label = "Blond_Hair"         # only for attribute vectors (LABEL in vae_utils)
  m = c.model
  m.encoder_features = (128, 128, 128, 128)
  m.decoder_features = (128, 128, 128, 128)
  m.latent_dim = 200                  # Z_DIM
  m.batch_norm = True
  m.activation = "leaky_relu"         # LeakyReLU() = slope 0.3
  m.output_layer = "conv_transpose"   # Conv2DTranspose(3, 3x3, strides=1, sigmoid)
  m.recon_loss = "mse"
  m.recon_weight = 2000.0             # BETA
  c.optim.learning_rate = 5e-4
  t = c.train
  t.batch_size = 128
  t.num_steps = 10 * 1583             # EPOCHS = 10 of ceil(202,599 / 128) = 1,583 steps
  t.log_every = 100
  t.eval_every = 0                    # the notebook has no validation split in fit
  t.checkpoint_every = 1583
  t.sample_every = 1583
  t.num_sample_images = 30
  return c
