"""Diffusion on MNIST 28x28: the reference U-Net with one residual block per level, for 2 CPU cores.

  python train.py --config=configs/ddm_mnist.py --workdir=runs/ddm_mnist

Why this recipe: at 28x28 (no padding to pay for) one block per level runs twice the steps of two in the same
minutes, and on a CPU budget more updates of a smaller net learned faster than fewer of a deeper one.
"""
from jaxgen.configs import diffusion


def get_config():
  c = diffusion.get_config()
  c.data.name = "tfds/mnist"
  c.data.image_size = 28              # 28 -> 14 -> 7
  m = c.model
  m.block_depth = 1
  m.bottleneck_depth = 1
  t = c.train
  t.num_steps = 2500                  # ~2.7 epochs of 60,000 at batch 64
  t.log_every = 250
  t.sample_every = 2500
  t.checkpoint_every = 500
  return c
