"""VAE on Fashion-MNIST 32x32x1, 2-d latent: the notebook 03_vae/02_vae_fashion (docs/reference.md §2).

  python train.py --config=configs/vae_fashion_mnist.py --workdir=runs/vae_fashion_mnist
"""
from jaxgen.configs import vae


def get_config():
  c = vae.get_config()
  c.data.name = "tfds/fashion_mnist"
  c.data.image_size = 32
  c.data.pad = 2                      # 28 -> 32 with zeros
  m = c.model
  m.encoder_features = (32, 64, 128)
  m.decoder_features = (128, 64, 32)
  c.optim.learning_rate = 5e-4        # optimizers.Adam(learning_rate=0.0005)
  t = c.train
  t.num_steps = 5 * 600               # EPOCHS = 5 of 600 steps
  t.log_every = 100
  t.eval_every = 600
  t.checkpoint_every = 600
  t.sample_every = 600
  t.num_sample_images = 18
  return c
