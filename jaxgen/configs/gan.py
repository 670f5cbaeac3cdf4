"""The GAN family's default, for every objective (bce, wgan, wgan_gp; conditional with num_classes > 0): WGAN-GP
(docs/reference.md §5) on 16x16 digits."""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "gan"
  c.data.image_size = 16                  # 4·2^k, k >= 1 (the generator doubles a 4x4 map k times)
  c.data.range = "symmetric"              # [-1, 1]: the generator ends in tanh
  m = c.model
  m.objective = "wgan_gp"                 # "bce" (DCGAN) | "wgan" (weight clipping) | "wgan_gp" (gradient penalty)
  m.latent_dim = 32                       # dimension of z
  m.num_classes = 0                       # > 0: conditional on one-hot labels (must match the data's classes)
  m.g_features = (64, 32)                 # images: ConvTranspose widths, 4x4 first, one per doubling
  m.d_features = (32, 64)                 # images: critic Conv stride-2 widths, one per halving
  m.mlp_hidden = (512, 512, 512)          # toy2d: hidden widths of the generator and critic MLPs
  m.critic_second_slope = 0.3             # images, wgan/wgan_gp: LeakyReLU slope after the 2nd critic conv
  m.dropout = 0.3                         # images: critic dropout rate
  m.bn_momentum = 0.9                     # images: BatchNorm momentum (generator; bce discriminator)
  m.n_critic = 3                          # wgan/wgan_gp: critic updates per generator update, >= 1
  m.gp_weight = 10.0                      # wgan_gp: gradient-penalty weight, >= 0
  m.gp_alpha_dist = "uniform"             # wgan_gp: interpolation weight law, "uniform" (paper) | "normal" (notebook)
  m.critic_data = "same"                  # critic batches: "same" real batch for every update | "split" the batch
  m.clip_value = 0.01                     # wgan: weight clipping bound, > 0
  m.label_noise = 0.0                     # bce: real targets 1 + u·U, fake targets -u·U (0: none)
  o = c.optim
  o.name = "adam"                         # "adam" | "rmsprop", the same for both players
  o.learning_rate = 2e-4
  o.b1, o.b2, o.eps = 0.5, 0.9, 1e-7
  o.decay = "none"                        # "none" | "linear" (to 0 over train.num_steps)
  t = c.train
  t.batch_size = 64
  t.num_steps = 2000                      # generator steps; ~89 epochs of the 1,437 training digits
  t.log_every = 100
  t.sample_every = 1000
  s = c.sample                            # discriminator optimal transport after the generator (gan.sample)
  s.dot_steps = 0                         # gradient steps (0: the generator's own samples)
  s.dot_step_size = 0.01                  # step in data units
  s.dot_k = 0.5                           # K: a sample moves where the critic rises faster than K per unit
  return c
