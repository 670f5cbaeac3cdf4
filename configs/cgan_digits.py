"""Conditional WGAN-GP on scikit-learn's 8x8 digits resized to 16x16, [-1, 1], 10 classes: minutes on a 2-core CPU.

  python train.py --config=configs/cgan_digits.py --workdir=runs/cgan_digits
  python sample.py --workdir=runs/cgan_digits --label=7
  python sample.py --workdir=runs/cgan_digits --class_grid      # rows 0..9, same z in every column
  python -m jaxgen.evaluate --workdir=runs/cgan_digits            # label accuracy by the digits classifier

The reference conditional GAN (§6) scaled down: one-hot label concatenated to the latent for G and as 10
constant channels for the critic; gradient penalty w.r.t. the image only.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "gan"
  c.data.name = "digits"
  c.data.image_size = 16
  c.data.channels = 1
  c.data.range = "symmetric"

  m = c.model
  m.objective = "wgan_gp"
  m.latent_dim = 32
  m.num_classes = 10
  m.g_features = (64, 32)              # ConvT 64 (4x4 valid) -> ConvT 32 (8x8) -> ConvT 1 (16x16), tanh
  m.d_features = (32, 64)              # 16 -> 8 -> 4 -> Conv 4x4 valid -> 1 (half the reference's first widths)
  m.critic_second_slope = 0.3
  m.dropout = 0.3
  m.bn_momentum = 0.9
  m.n_critic = 3
  m.gp_weight = 10.0
  m.gp_alpha_dist = "uniform"
  m.critic_data = "same"
  m.clip_value = 0.01                  # weight clipping bound (objective "wgan" only)
  m.label_noise = 0.0                  # noisy BCE targets (objective "bce" only)

  o = c.optim
  o.name = "adam"
  o.learning_rate = 2e-4               # the CelebA cGAN's 5e-5 is tuned for 2,000 steps at 64x64; digits learn faster
  o.b1 = 0.5
  o.b2 = 0.9
  o.eps = 1e-7
  o.decay = "none"                    # constant learning rate, as the reference ("linear": decay to 0 over the run)

  t = c.train
  t.batch_size = 64
  t.num_steps = 2000                   # 2000 * 64 / 1437 = ~89 epochs of the training digits
  t.log_every = 100
  t.checkpoint_every = 500
  t.sample_every = 1000
  t.num_sample_images = 64
  return c
