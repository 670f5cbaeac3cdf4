"""StyleGAN2 (compact) on MNIST padded 28 -> 32, 8 styles, W+ = 8 x 128.

  python train.py --config=configs/stylegan_mnist.py --workdir=runs/stylegan_mnist
"""
from jaxgen.configs import stylegan


def get_config():
  c = stylegan.get_config()
  c.data.name = "tfds/mnist"
  c.data.image_size = 32
  c.data.pad = 2
  m = c.model
  m.z_dim = 128
  m.w_dim = 128
  m.mapping_layers = 8
  m.channel_base = 2048               # 4x4 .. 16x16: 128 channels, 32x32: 64
  m.channel_max = 128
  m.ema_decay = 0.999
  t = c.train
  t.num_steps = 20_000                # ~21 epochs of 60,000 at batch 64
  t.batch_size = 64
  t.checkpoint_every = 2000
  t.sample_every = 2000
  return c
