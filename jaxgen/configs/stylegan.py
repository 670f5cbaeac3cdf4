"""The style-based GAN family's default: the compact StyleGAN2 on 16x16 digits (6 styles, W+ = 6 x 64)."""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "stylegan"
  c.data.image_size = 16                  # a power of two >= 4
  c.data.range = "symmetric"              # [-1, 1]
  m = c.model
  m.arch = "compact"                      # "compact" (jaxgen's CPU-sized generator) | "stylegan2_ada" (published)
  m.z_dim = 64                            # dimension of z
  m.w_dim = 64                            # dimension of w (one style per layer)
  m.mapping_layers = 4                    # dense layers of the mapping network, >= 1
  m.mapping_lr_mul = 0.01                 # learning-rate multiplier of the mapping network
  m.channel_base = 512                    # channels at resolution r: min(channel_base / r, channel_max)
  m.channel_max = 64
  m.c_dim = 0                             # classes of a conditional generator (converted stylegan2_ada only)
  m.conv_clamp = 0.0                      # stylegan2_ada: clamp conv outputs to +-conv_clamp (0: off)
  m.mbstd_group = 4                       # minibatch-stddev group size of the discriminator
  m.loss = "logistic"                     # "logistic" (non-saturating + R1) | "wgan_gp"
  m.r1_gamma = 0.1                        # R1 penalty weight, >= 0
  m.r1_subsample = 4                      # R1 on batch / r1_subsample reals per step
  m.gp_weight = 10.0                      # loss "wgan_gp": gradient-penalty weight
  m.n_critic = 1                          # discriminator updates per generator update, >= 1
  m.style_mixing_prob = 0.9               # probability of mixing two latents per sample, in [0, 1]
  m.ema_decay = 0.995                     # generator EMA used for sampling, in [0, 1)
  m.ema_warmup = True                     # EMA decay min(ema_decay, (1 + step) / (10 + step))
  m.w_avg_beta = 0.995                    # running average of w (the truncation centre)
  m.inference_only = False                # True for converted pretrained generators (no D, no optimizer state)
  o = c.optim                             # Adam for G and D
  o.learning_rate = 0.002
  o.b1, o.b2, o.eps = 0.0, 0.99, 1e-8     # StyleGAN2's
  t = c.train
  t.batch_size = 32
  t.num_steps = 3000
  t.log_every = 100
  t.checkpoint_every = 1000
  t.sample_every = 1000
  s = c.sample
  s.truncation = 1.0                      # psi: w_avg + psi (w - w_avg) (1: none)
  s.noise_mode = "random"                 # "random" | "const" | "none"
  s.pca_samples = 10000                   # mapped w for PCA directions
  s.boundary_samples = 4000               # classified samples for boundary directions
  s.layer_weights = "all"                 # per-layer edit weights, e.g. "0:2=1,2:6=0.25" or "coarse=1,fine=0.1"
  s.alpha_units = "std"                   # edit alphas in std of w along the direction | "raw"
  s.interp_space = "w"                    # "w": lerp in W | "z": slerp in Z
  return c
