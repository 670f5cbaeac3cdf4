"""StyleGAN2 on scikit-learn's 8x8 digits resized to 16x16, [-1, 1]: trains on a 2-core CPU in tens of minutes.

  python train.py --config=configs/stylegan_digits.py --workdir=runs/stylegan_digits
  python sample.py --workdir=runs/stylegan_digits --truncation=0.7
  python sample.py --workdir=runs/stylegan_digits --direction=boundary:3 --alphas=-3:3:7

16x16 keeps every detail of the 8x8 source (bilinear x2) at a quarter of the 32x32 cost; 6 styles (W+ is 6 x 64).
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "stylegan"
  c.data.name = "digits"
  c.data.image_size = 16
  c.data.channels = 1
  c.data.range = "symmetric"

  m = c.model
  m.arch = "compact"            # jaxgen's CPU-sized generator; "stylegan2_ada": the published one
  m.z_dim = 64
  m.w_dim = 64
  m.mapping_layers = 4          # reference StyleGAN: 8 x 512
  m.mapping_lr_mul = 0.01
  m.channel_base = 512          # channels min(512 / res, channel_max): 4x4: 64, 8x8: 64, 16x16: 32
  m.channel_max = 64
  m.mbstd_group = 4
  m.loss = "logistic"           # non-saturating logistic + R1; "wgan_gp": the GAN family's WGAN-GP objective
  m.r1_gamma = 0.1              # R1 weight (StyleGAN2-ADA's heuristic 0.0002 * R^2 / batch = 0.0016 is weaker)
  m.r1_subsample = 4            # R1 on batch/4 reals per step (amortised; StyleGAN2: lazy R1 every 16 steps)
  m.gp_weight = 10.0            # for loss="wgan_gp"
  m.n_critic = 1                # discriminator updates per generator update
  m.style_mixing_prob = 0.9     # StyleGAN2
  m.ema_decay = 0.995           # generator EMA used for sampling (short run: shorter horizon than StyleGAN's ~0.999)
  m.ema_warmup = True           # EMA decay min(ema_decay, (1 + step) / (10 + step))
  m.w_avg_beta = 0.995          # running average of w (truncation centre)
  m.conv_clamp = 0.0            # stylegan2_ada only: clamp conv outputs to +-conv_clamp (0: off)
  m.inference_only = False      # True for converted pretrained generators (no D, no optimizer state)

  o = c.optim
  o.learning_rate = 0.002       # StyleGAN2: Adam(0.002, betas (0, 0.99), eps 1e-8) for G and D
  o.b1 = 0.0
  o.b2 = 0.99
  o.eps = 1e-8

  t = c.train
  t.num_steps = 3000
  t.batch_size = 32
  t.log_every = 100
  t.checkpoint_every = 1000
  t.sample_every = 1000

  s = c.sample
  s.truncation = 1.0            # psi; the StyleGAN reference value for truncated samples is 0.7 (--truncation=0.7)
  s.noise_mode = "random"       # "random" | "const" | "none"
  s.pca_samples = 10000         # mapped w for PCA directions
  s.boundary_samples = 4000     # classified samples for boundary directions
  s.layer_weights = "all"       # per-layer edit weights, e.g. "0:2=1,2:6=0.25" or "coarse=1,middle=0.5,fine=0.1"
  s.alpha_units = "std"         # alphas in standard deviations of w along the direction ("raw": w + alpha * d)
  s.interp_space = "w"          # "w": lerp in W; "z": slerp in Z
  return c
