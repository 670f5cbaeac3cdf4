"""Energy-based model on 2-D toy data (toy2d/8gaussians; others with model.box around them): a density to look at.

  python train.py --config=configs/ebm_toy2d.py --workdir=runs/ebm_toy2d
"""
from jaxgen.configs import ebm


def get_config():
  c = ebm.get_config()
  c.data.name = "toy2d/8gaussians"
  c.data.image_size = 32              # unused by toy2d data (the value runs recorded)
  c.data.range = "unit"               # unused by toy2d data (the value runs recorded)
  m = c.model
  m.kind = "mlp"
  m.buffer_size = 8192
  m.buffer_fresh_prob = 0.05
  lv = m.langevin
  lv.kind = "ula"                     # noise std sqrt(2 step_size) = 0.014, the modes' std
  lv.step_size = 1e-4
  lv.noise_scale = 0.0
  lv.grad_clip = None
  lv.step_size_end = 0.0
  c.optim.learning_rate = 1e-3
  c.optim.decay = "none"
  t = c.train
  t.batch_size = 128
  t.num_steps = 2000
  t.eval_every = 500
  t.sample_every = 1000
  t.num_sample_images = 1000
  s = c.sample
  s.steps = 500
  s.step_size_start = 1e-3            # annealed to the trained 1e-4
  s.temperature = 0.1                 # samples from exp(-E / 0.1)
  return c
