"""Autoencoder on scikit-learn's 8x8 digits (embedded, offline) resized to 16x16: trains in about a minute on CPU.

  python train.py --config=configs/ae_digits.py --workdir=runs/ae_digits
  python sample.py --workdir=runs/ae_digits --latent_grid=10

The reference autoencoder (docs/reference.md §1) with two stride-2 stages instead of three (16x16 input), 2-d
embedding, BCE, Adam 1e-3, batch 100; 600 steps (~42 epochs of the 1,437 training digits).
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "autoencoder"
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
  m.box_decay = 0.99

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
