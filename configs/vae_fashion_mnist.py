"""VAE on Fashion-MNIST, 32x32x1 in [0, 1], 2-d latent — notebook 03_vae/02_vae_fashion (docs/reference.md §2).

  python train.py --config=configs/vae_fashion_mnist.py --workdir=runs/vae_fashion
  python sample.py --workdir=runs/vae_fashion --num=18               # z ~ N(0, I)
  python sample.py --workdir=runs/vae_fashion --latent_grid=15       # the norm.ppf latent grid
  python -m jaxgen.evaluate --workdir=runs/vae_fashion               # ELBO / IWAE bound in nats

Encoder Conv 32/64/128 3x3 s2 ReLU -> z_mean, z_log_var (Dense 2 each); decoder as the autoencoder's;
347,141 parameters. loss = 500 * mean-over-pixels BCE + KL (the notebook's scale: = 0.488 * (sum-BCE + 2.05 KL),
see jaxgen.families.vae); Adam 5e-4, batch 100, 5 epochs. `--config.model.recon_reduction=sum
--config.model.recon_weight=1` trains the textbook ELBO instead.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "vae"
  c.data.name = "tfds/fashion_mnist"
  c.data.image_size = 32
  c.data.channels = 1
  c.data.pad = 2                      # 28 -> 32 with zeros
  c.data.range = "unit"

  m = c.model
  m.encoder_features = (32, 64, 128)
  m.decoder_features = (128, 64, 32)
  m.latent_dim = 2                    # EMBEDDING_DIM
  m.batch_norm = False
  m.activation = "relu"
  m.decoder = "transpose"
  m.output_layer = "conv"             # Conv2D(1, 3x3, sigmoid)
  m.recon_loss = "bce"
  m.recon_weight = 500.0              # BETA
  m.recon_reduction = "mean"          # Keras binary_crossentropy(axis=(1,2,3)) averages the 1,024 pixels

  o = c.optim
  o.learning_rate = 5e-4              # optimizers.Adam(learning_rate=0.0005)
  o.b1, o.b2, o.eps = 0.9, 0.999, 1e-7

  t = c.train
  t.batch_size = 100
  t.num_steps = 5 * 600               # EPOCHS = 5; 60,000 / 100 = 600 steps per epoch
  t.log_every = 100
  t.eval_every = 600
  t.checkpoint_every = 600
  t.sample_every = 600
  t.num_sample_images = 18
  return c
