"""The published StyleGAN2-ADA FFHQ generator, 1024x1024x3; `python -m jaxgen.convert stylegan2_ada ffhq.pkl` fills it.

  python train.py --config=configs/stylegan2_ada_ffhq.py --workdir=runs/ffhq --config.data.name=folder:PATH
"""
from jaxgen.configs import stylegan


def get_config():
  c = stylegan.get_config()
  c.data.name = "folder:ffhq"
  c.data.image_size = 1024
  c.data.channels = 3
  m = c.model
  m.arch = "stylegan2_ada"
  m.z_dim = 512
  m.w_dim = 512
  m.mapping_layers = 8
  m.channel_base = 32768
  m.channel_max = 512
  m.conv_clamp = 256.0
  m.r1_gamma = 10.0                   # FFHQ-1024 config-f
  m.ema_decay = 0.999
  t = c.train
  t.num_steps = 781_250               # 25 M images at batch 32
  t.checkpoint_every = 5000
  t.sample_every = 5000
  t.num_sample_images = 4
  s = c.sample
  s.truncation = 0.7                  # the exercise's psi
  s.noise_mode = "const"
  return c
