"""Energy-based model on MNIST 32x32: the reference's network, buffer and Langevin sampler (ebm_mnist), briefly.

  python train.py --config=configs/ebm_mnist_short.py --workdir=runs/ebm_mnist_short

Why this recipe: every update pays 60 Langevin steps, so on 2 CPU cores the reference's 60 epochs take hours;
its persistent replay buffer (5 % fresh chains) keeps improving the negatives, which is what 2.5 epochs rely on.
"""
from jaxgen.configs import ebm


def get_config():
  c = ebm.get_config()
  c.data.name = "tfds/mnist"
  c.data.image_size = 32
  c.data.pad = 2
  m = c.model
  m.conv_features = (16, 32, 64, 64)
  m.kernel_sizes = (5, 3, 3, 3)
  m.dense_features = 64
  m.alpha = 0.1
  m.buffer_size = 8192
  m.buffer_fresh_prob = 0.05
  m.langevin.step_size = 10.0
  m.langevin.step_size_end = 0.0
  c.optim.learning_rate = 1e-4
  c.optim.decay = "none"
  t = c.train
  t.batch_size = 128
  t.num_steps = 1200                  # ~2.6 epochs of 60,000 at batch 128
  t.eval_every = 400
  t.checkpoint_every = 400
  t.sample_every = 1200
  c.sample.steps = 1000
  c.sample.step_size_start = 10.0
  return c
