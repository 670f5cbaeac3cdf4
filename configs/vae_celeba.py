"""VAE on CelebA faces, 32x32x3 in [0, 1], 200-d latent — notebook 03_vae/03_vae_faces (docs/reference.md §3).

  python train.py --config=configs/vae_celeba.py --workdir=runs/vae_celeba
  python sample.py --workdir=runs/vae_celeba --num=30

Encoder 4 x [Conv 128 3x3 s2 -> BatchNorm -> LeakyReLU(0.3)] -> z_mean, z_log_var (Dense 200 each); decoder
Dense 512 -> BN -> LeakyReLU -> 2x2x128 -> 4 x [Conv2DTranspose 128 3x3 s2 -> BN -> LeakyReLU] ->
Conv2DTranspose 3 3x3 s1 (sigmoid); 1,354,387 parameters (BN: momentum 0.99, eps 1e-3). loss = 2000 * per-element
MSE + KL; Adam 5e-4, batch 128, 10 epochs. The whole image is squashed to 32x32 (no crop), as the notebook.
Attribute vectors (e.g. Blond_Hair): jaxgen.latent.attributes on the encodings of labelled images.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "vae"
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 32              # IMAGE_SIZE = 32 (not 64: docs/reference.md §9.1)
  c.data.channels = 3
  c.data.range = "unit"
  c.data.label = "Blond_Hair"         # used only for attribute vectors (LABEL in vae_utils)

  m = c.model
  m.encoder_features = (128, 128, 128, 128)   # NUM_FEATURES = 128
  m.decoder_features = (128, 128, 128, 128)
  m.latent_dim = 200                  # Z_DIM
  m.batch_norm = True
  m.activation = "leaky_relu"         # LeakyReLU() = slope 0.3
  m.decoder = "transpose"
  m.output_layer = "conv_transpose"   # Conv2DTranspose(3, 3x3, strides=1, sigmoid)
  m.recon_loss = "mse"                # BETA * mean_squared_error
  m.recon_weight = 2000.0             # BETA
  m.recon_reduction = "mean"

  o = c.optim
  o.learning_rate = 5e-4              # LEARNING_RATE
  o.b1, o.b2, o.eps = 0.9, 0.999, 1e-7

  t = c.train
  t.batch_size = 128
  t.num_steps = 10 * 1583             # EPOCHS = 10; ceil(202,599 / 128) = 1,583 steps per epoch = 15,830
  t.log_every = 100
  t.eval_every = 0                    # the notebook has no validation split in fit
  t.checkpoint_every = 1583
  t.sample_every = 1583               # after every epoch: 10 images from z ~ N(0, I)
  t.num_sample_images = 30
  return c
