"""Autoencoder on Fashion-MNIST 32x32x1, 2-d embedding: the notebook 03_vae/01_autoencoder (docs/reference.md §1).

  python train.py --config=configs/ae_fashion_mnist.py --workdir=runs/ae_fashion_mnist
"""
from jaxgen.configs import autoencoder


def get_config():
  c = autoencoder.get_config()
  c.data.name = "tfds/fashion_mnist"
  c.data.image_size = 32
  c.data.pad = 2                      # 28 -> 32 with zeros, as np.pad in the notebook
  m = c.model
  m.encoder_features = (32, 64, 128)
  m.decoder_features = (128, 64, 32)
  t = c.train
  t.num_steps = 3 * 600               # EPOCHS = 3 of 600 steps
  t.log_every = 100
  t.eval_every = 600                  # once per epoch (validation on the test set)
  t.checkpoint_every = 600
  t.sample_every = 600
  t.num_sample_images = 18            # the notebook decodes 18 points
  return c
