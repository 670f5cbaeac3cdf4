"""StyleGAN2 on CelebA faces at 64x64x3, [-1, 1] (the GAN chapter's image size; 10 styles, W+ is 10 x 512).

  python train.py --config=configs/stylegan_celeba.py --workdir=runs/stylegan_celeba
  python sample.py --workdir=runs/stylegan_celeba --truncation=0.7 --mix-crossover=4

Mapping 8 x 512 (the StyleGAN reference); synthesis channels min(8192 / res, 256): 4-32: 256, 64: 128 (the paper's
config-f 64x64 network has 512 channels; halved to keep a CPU/TPU-v2-sized benchmark). Needs the TFDS `celeb_a`
data set prepared (see jaxgen.data). Boundary directions need an attribute classifier, which jaxgen does not have
for CelebA offline: use `direction=pca:K` here, or `jaxgen.latent.directions.linear_boundary` with your own labels.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "stylegan"
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 64
  c.data.channels = 3
  c.data.range = "symmetric"

  m = c.model
  m.arch = "compact"            # jaxgen's CPU-sized generator; "stylegan2_ada": the published one
  m.z_dim = 512
  m.w_dim = 512
  m.mapping_layers = 8          # reference: 8 x 512
  m.mapping_lr_mul = 0.01
  m.channel_base = 8192
  m.channel_max = 256
  m.mbstd_group = 4
  m.loss = "logistic"           # "wgan_gp": the GAN family's WGAN-GP objective
  m.r1_gamma = 0.05             # StyleGAN2-ADA heuristic 0.0002 * 64^2 / 32 ~ 0.026; FFHQ-64-ish setting
  m.r1_subsample = 4            # R1 on batch/4 reals per step (amortised; StyleGAN2: lazy R1 every 16 steps)
  m.gp_weight = 10.0
  m.n_critic = 1
  m.style_mixing_prob = 0.9
  m.ema_decay = 0.999           # ~ StyleGAN2's 10k-image half-life at batch 32 (0.5 ** (32 / 10000) = 0.9978)
  m.ema_warmup = True           # EMA decay min(ema_decay, (1 + step) / (10 + step))
  m.w_avg_beta = 0.995
  m.conv_clamp = 0.0            # stylegan2_ada only: clamp conv outputs to +-conv_clamp (0: off)
  m.inference_only = False      # True for converted pretrained generators (no D, no optimizer state)

  o = c.optim
  o.learning_rate = 0.0025       # StyleGAN2-ADA's low-resolution settings: Adam(0.0025, (0, 0.99), 1e-8)
  o.b1 = 0.0
  o.b2 = 0.99
  o.eps = 1e-8

  t = c.train
  t.num_steps = 200_000         # 6.4 M images at batch 32 (~32 epochs of CelebA's 202 599)
  t.batch_size = 32
  t.log_every = 100
  t.checkpoint_every = 5000
  t.sample_every = 5000

  s = c.sample
  s.truncation = 1.0            # psi; the StyleGAN reference value for truncated samples is 0.7 (--truncation=0.7)
  s.noise_mode = "random"
  s.pca_samples = 10000
  s.boundary_samples = 4000
  s.layer_weights = "all"         # e.g. "0:4=1,4:10=0.25": strong on coarse layers, weak on fine ones
  s.alpha_units = "std"
  s.interp_space = "w"
  return c
