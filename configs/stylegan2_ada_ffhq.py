"""The published StyleGAN2-ADA FFHQ generator: 1024x1024x3, 18 styles, 512-d z and w, 8 x 512 mapping (lr x0.01),
channels min(32768 / res, 512), conv_clamp 256 (30.37 M generator parameters).

  python -m jaxgen.convert stylegan2_ada ffhq.pkl --workdir=runs/ffhq       # NVIDIA's pickle -> this config
  python sample.py --workdir=runs/ffhq --num=4 --truncation=0.7 --noise_mode=const

Training it from scratch needs an image folder (data.name="folder:<path>") and an accelerator; the discriminator is
jaxgen's residual one (model.channel_base/channel_max as the generator's), the optimizer StyleGAN2-ADA's paper1024
setting Adam(0.002, (0, 0.99), 1e-8).
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "stylegan"
  c.data.name = "folder:ffhq"
  c.data.image_size = 1024
  c.data.channels = 3
  c.data.range = "symmetric"

  m = c.model
  m.arch = "stylegan2_ada"
  m.z_dim = 512
  m.w_dim = 512
  m.mapping_layers = 8
  m.mapping_lr_mul = 0.01
  m.channel_base = 32768
  m.channel_max = 512
  m.conv_clamp = 256.0
  m.mbstd_group = 4
  m.loss = "logistic"
  m.r1_gamma = 10.0             # StyleGAN2-ADA paper1024: gamma 2 at batch 32 with lazy R1; FFHQ-1024 config-f: 10
  m.r1_subsample = 4
  m.gp_weight = 10.0
  m.n_critic = 1
  m.style_mixing_prob = 0.9
  m.ema_decay = 0.999
  m.ema_warmup = True
  m.w_avg_beta = 0.995
  m.inference_only = False

  o = c.optim
  o.learning_rate = 0.002
  o.b1 = 0.0
  o.b2 = 0.99
  o.eps = 1e-8

  t = c.train
  t.num_steps = 781_250         # 25 M images at batch 32
  t.batch_size = 32
  t.log_every = 100
  t.checkpoint_every = 5000
  t.sample_every = 5000
  t.num_sample_images = 4

  s = c.sample
  s.truncation = 0.7            # the exercise's psi
  s.noise_mode = "const"
  s.pca_samples = 10000
  s.boundary_samples = 4000
  s.layer_weights = "all"       # e.g. "coarse=1,middle=0.5,fine=0.1"
  s.alpha_units = "std"         # alpha in standard deviations of w along the direction ("raw": units of w)
  s.interp_space = "w"
  return c
