"""Denoising diffusion on the 25-Gaussian grid (WGAN-GP toy data): an MLP eps-network, mode-coverage evaluation.

  python train.py --config=configs/ddm_toy2d.py --workdir=runs/ddm_toy2d
  python sample.py --workdir=runs/ddm_toy2d --num=2500 --steps=100

The eps-network is an MLP (3 x 256, swish) on [x_t, sinusoidal embedding of the noise variance] with a zero
head. The modes are tiny (std 0.0177, spacing 0.707), so sampling uses 100 DDIM steps and the offset-cosine
schedule's top signal rate is raised from the image setting 0.95 to 0.999: the sampler returns x0_hat predicted
at t = 1/steps, and with 0.95 that prediction averages over a noise level comparable to the mode std.

The reference's L1 loss on eps matters here: its minimiser is the conditional *median* of eps, which picks one mode
where the posterior over modes is split, while MSE's conditional mean bridges modes. Measured (2,500 samples,
seed 7, 10,000 steps, ~12 min on a heavily shared 2-core CPU): 25/25 modes, 97.2% high-quality samples with 20 DDIM
steps, 96.5% with 100; reverse KL 0.02. The same run with model.loss="mse" for 6,000 steps: 9/25 modes, 21%.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "diffusion"
  c.data.name = "toy2d/25gaussians"

  m = c.model
  m.network = "mlp"
  m.hidden = (256, 256, 256)
  m.embedding_dim = 32
  m.schedule = "offset_cosine"
  m.min_signal_rate = 0.02
  m.max_signal_rate = 0.999
  m.loss = "mae"                          # the reference's L1: with MSE (6,000 steps) only 9/25 modes, 21% HQ
  m.ema_decay = 0.999
  m.ema_warmup = True
  m.ddpm_variance = "posterior"

  o = c.optim
  o.learning_rate = 1e-3
  o.b1 = 0.9
  o.b2 = 0.999
  o.weight_decay = 1e-4
  o.eps = 1e-7

  t = c.train
  t.batch_size = 512
  t.num_steps = 10000
  t.log_every = 200
  t.checkpoint_every = 5000
  t.sample_every = 5000
  t.num_sample_images = 2500

  c.sample.steps = 100
  c.sample.sampler = "ddim"
  return c
