"""VAE on scikit-learn's 8x8 digits (embedded, offline) resized to 16x16: trains in about a minute on CPU.

  python train.py --config=configs/vae_digits.py --workdir=runs/vae_digits
  python sample.py --workdir=runs/vae_digits --num=36
  python -m jaxgen.evaluate --workdir=runs/vae_digits            # ELBO / IWAE bound in nats

The reference Fashion-MNIST VAE (docs/reference.md §2) with two stride-2 stages (16x16 input) and a 2-d latent;
the reference loss scale (w = 500 on the pixel-mean BCE of 256 pixels); Adam 1e-3, batch 100, 600 steps.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "vae"
  c.data.name = "digits"
  c.data.image_size = 16
  c.data.channels = 1
  c.data.range = "unit"

  m = c.model
  m.encoder_features = (32, 64)
  m.decoder_features = (64, 32)
  m.latent_dim = 2
  m.batch_norm = False
  m.activation = "relu"
  m.decoder = "transpose"
  m.output_layer = "conv"
  m.recon_loss = "bce"
  m.recon_weight = 500.0
  m.recon_reduction = "mean"

  o = c.optim
  o.learning_rate = 1e-3
  o.b1, o.b2, o.eps = 0.9, 0.999, 1e-7

  t = c.train
  t.batch_size = 100
  t.num_steps = 600
  t.log_every = 50
  t.eval_every = 200
  t.checkpoint_every = 300
  t.sample_every = 300
  t.num_sample_images = 36
  return c
