"""Denoising diffusion on the 25-Gaussian grid with an MLP eps-network, scored by mode coverage.

  python train.py --config=configs/ddm_toy2d.py --workdir=runs/ddm_toy2d
"""
from jaxgen.configs import diffusion


def get_config():
  c = diffusion.get_config()
  c.data.name = "toy2d/25gaussians"
  c.data.image_size = 32                  # unused by toy2d data (the value runs recorded)
  m = c.model
  m.network = "mlp"
  m.max_signal_rate = 0.999               # the modes (std 0.0177) need a last prediction at low noise
  t = c.train
  t.batch_size = 512
  t.num_steps = 10000
  t.log_every = 200
  t.checkpoint_every = 5000
  t.sample_every = 5000
  t.num_sample_images = 2500
  c.sample.steps = 100
  return c
