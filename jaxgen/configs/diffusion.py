"""The diffusion family's default: the reference U-Net (docs/reference.md §8) scaled down, on 8x8 digits."""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "diffusion"
  c.data.image_size = 8                   # must divide by 2 ** len(widths); images are standardised per channel
  m = c.model
  m.network = "unet"                      # "unet" (images) | "mlp" (toy2d)
  m.widths = (32, 64)                     # unet: one DownBlock per width, each halving the side
  m.block_depth = 2                       # unet: residual blocks per Down/UpBlock
  m.bottleneck_width = 64                 # unet
  m.bottleneck_depth = 2                  # unet: residual blocks at the bottom
  m.hidden = (256, 256, 256)              # mlp: hidden widths (swish)
  m.embedding_dim = 32                    # sinusoidal embedding of the noise variance
  m.schedule = "offset_cosine"            # "offset_cosine" | "cosine" | "linear" (DDPM betas 1e-4 .. 0.02)
  m.min_signal_rate = 0.02                # offset_cosine: signal rate at t = 1, 0 < min < max < 1
  m.max_signal_rate = 0.95                # offset_cosine: signal rate at t = 0
  m.loss = "mae"                          # on eps: "mae" (the reference's L1) | "mse" (DDPM's)
  m.ema_decay = 0.999                     # EMA of the weights used for sampling, in [0, 1)
  m.ema_warmup = True                     # decay min(ema_decay, (1 + n) / (10 + n))
  m.ddpm_variance = "posterior"           # ancestral sampler's sigma^2: "posterior" (beta-tilde) | "beta"
  m.num_classes = 0                       # > 0: class-conditional (the data's label count), classifier-free guidance
  m.label_dropout = 0.1                   # conditional: probability of training on the null class, in [0, 1)
  o = c.optim                             # AdamW
  o.learning_rate = 1e-3
  o.b1, o.b2 = 0.9, 0.999
  o.weight_decay = 1e-4                   # decoupled, on every variable (Keras AdamW)
  o.eps = 1e-7
  t = c.train
  t.batch_size = 64
  t.num_steps = 3000                      # ~134 epochs of the 1,437 training digits
  t.log_every = 100
  t.checkpoint_every = 1000
  t.sample_every = 1000
  s = c.sample
  s.steps = 20                            # reverse-diffusion steps, >= 1
  s.sampler = "ddim"                      # "ddim" (the reference) | "ddpm" (ancestral) | "dpm_solver_2m" | "heun"
  s.guidance = 0.0                        # conditional: classifier-free guidance weight w >= 0 (0: none)
  return c
