"""Denoising diffusion on CelebA faces 64x64x3: the reference flowers model (docs/reference.md §8) on faces.

  python train.py --config=configs/ddm_celeba.py --workdir=runs/ddm_celeba
  python sample.py --workdir=runs/ddm_celeba --steps=20

Same U-Net, schedule, loss, optimiser and EMA as configs/ddm_flowers.py; the book trains this model only on
flowers, so the step budget here is a choice: ~4 epochs of CelebA's 162,770 training faces at batch 64.
"""
import importlib.util
import os


def _flowers():
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddm_flowers.py")
  spec = importlib.util.spec_from_file_location("ddm_flowers", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def get_config():
  c = _flowers()
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 64
  c.data.channels = 3
  t = c.train
  t.batch_size = 64
  t.num_steps = 10000                     # 10,000 * 64 = 640,000 images ~ 3.9 epochs of 162,770
  t.checkpoint_every = 1000
  t.sample_every = 1000
  t.num_sample_images = 16
  return c
