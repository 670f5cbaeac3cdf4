"""Energy-based model on MNIST 32x32x1: the notebook 07_ebm/01_ebm (docs/reference.md §7).

  python train.py --config=configs/ebm_mnist.py --workdir=runs/ebm_mnist
"""
from jaxgen.configs import ebm


def get_config():
  c = ebm.get_config()
  c.data.name = "tfds/mnist"
  c.data.image_size = 32
  c.data.pad = 2                      # 28 -> 32, padded with -1, as the notebook
  m = c.model
  m.conv_features = (16, 32, 64, 64)  # Conv2D 16 5x5 s2, 32 3x3 s2, 64 3x3 s2, 64 3x3 s2, swish
  m.kernel_sizes = (5, 3, 3, 3)
  m.dense_features = 64
  m.alpha = 0.1                       # ALPHA
  m.buffer_size = 8192                # BUFFER_SIZE
  m.buffer_fresh_prob = 0.05          # persistent chains, ~5 % fresh starts
  m.langevin.step_size = 10.0         # STEP_SIZE, constant
  m.langevin.step_size_end = 0.0
  c.optim.learning_rate = 1e-4
  c.optim.decay = "none"
  t = c.train
  t.batch_size = 128
  t.num_steps = 60 * 468              # EPOCHS = 60 of 60,000 // 128 = 468 full batches
  t.eval_every = 468
  t.checkpoint_every = 468
  t.sample_every = 2340               # every 5 epochs (each grid runs 1,000 Langevin steps)
  c.sample.steps = 1000               # generate_samples(..., steps=1000, step_size=10, noise=0.005)
  c.sample.step_size_start = 10.0
  return c
