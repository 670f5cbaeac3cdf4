"""Energy-based model on scikit-learn's 8x8 digits resized to 32x32, [-1, 1]: trains in minutes on a 2-core CPU.

  python train.py --config=configs/ebm_digits.py --workdir=runs/ebm_digits
  python sample.py --workdir=runs/ebm_digits --num=10 --chain      # the reference's chain strip

The reference EBM (REFERENCE.md §7) unchanged — network, Langevin settings (60 steps, step 10, noise 0.005,
gradient clip 0.03), buffer with 5% fresh starts, alpha 0.1 — except: batch 64, a 2,048-entry buffer (the
1,437 training digits), Adam 3e-4 and 1,000 steps, so a run takes a few minutes on CPU.
"""
import importlib.util
import os


def _reference_config():
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ebm_mnist.py")
  spec = importlib.util.spec_from_file_location("_jaxgen_config_ebm_mnist", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def get_config():
  c = _reference_config()
  c.data.name = "digits"
  c.data.image_size = 32              # 8x8 -> 32x32 bilinear
  c.data.pad = 0

  c.model.buffer_size = 2048
  c.optim.learning_rate = 3e-4

  t = c.train
  t.batch_size = 64
  t.num_steps = 1000                  # ~45 epochs of 1,437 // 64 = 22 batches
  t.log_every = 50
  t.eval_every = 250
  t.checkpoint_every = 250
  t.sample_every = 500
  t.num_sample_images = 16

  c.sample.steps = 1000
  return c
