"""The EBM family's default: contrastive divergence with short-run Langevin chains on the digits' native 8x8."""
import ml_collections

from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "ebm"
  c.data.image_size = 8                   # must divide by 2 ** len(conv_features)
  c.data.range = "symmetric"              # [-1, 1]
  m = c.model
  m.kind = "conv"                         # "conv" (images) | "mlp" (toy2d)
  m.conv_features = (64, 128, 256)        # conv: stride-2 widths (swish)
  m.kernel_sizes = (3, 3, 3)              # conv: one kernel size per conv layer
  m.dense_features = 128                  # conv: the dense layer before the energy
  m.hidden = (128, 128, 128)              # mlp: hidden widths (swish)
  m.box = 2.0                             # toy2d: samples and densities live in [-box, box]^2, > 0
  m.density_resolution = 200              # toy2d: grid side of eval_step's grid-normalised nll
  m.alpha = 0.01                          # weight of the regulariser mean(E_real^2 + E_fake^2), >= 0
  m.real_noise = 0.005                    # std of the noise added to real samples
  m.buffer_size = 2048                    # replay buffer capacity
  m.buffer_init = 128                     # uniform-noise samples the buffer starts with
  m.buffer_fresh_prob = 1.0               # fraction of chains started from fresh noise, in [0, 1] (1: short-run)
  m.langevin = ml_collections.ConfigDict(dict(
      kind="sgld",                        # "sgld": noise_scale set apart from the step | "ula": sqrt(2 step_size)
      steps=60,                           # Langevin steps per training update, >= 1
      step_size=3.0,                      # step on the energy gradient, > 0
      noise_scale=0.005,                  # sgld: noise std per step, >= 0
      grad_clip=0.03,                     # per-element gradient clip (<= 0 or None: off)
      step_size_end=0.3))                 # > 0: the step anneals geometrically to it over the chain (0: constant)
  o = c.optim                             # Adam
  o.learning_rate = 6e-4
  o.b1, o.b2, o.eps = 0.9, 0.999, 1e-7
  o.decay = "linear"                      # "none" | "linear" (to 0 over train.num_steps)
  t = c.train
  t.batch_size = 64
  t.num_steps = 6000
  t.log_every = 100
  t.eval_every = 1000
  t.checkpoint_every = 1000
  t.sample_every = 2000
  t.num_sample_images = 16
  s = c.sample
  s.steps = 60                            # Langevin steps from uniform noise
  s.step_size_start = 3.0                 # first step, annealed geometrically to langevin.step_size_end (or step_size)
  s.temperature = 1.0                     # noise std x sqrt(T) (< 1: a sharpened density)
  return c
