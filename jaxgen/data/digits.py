"""scikit-learn's bundled 8x8 handwritten digits: real, labelled image data that works offline.

1,797 gray images with values 0..16 (-> /16 into [0, 1]) and labels 0..9. The train/test split is a fixed
permutation from a constant seed (NOT config.seed): the first 1,437 indices train, the last 360 test, so every
model and the metrics classifier share the same held-out images whatever seed they were trained with.
"""
from __future__ import annotations

import functools

import numpy as np

from jaxgen.errors import JaxgenError

SPLIT_SEED = 1797          # fixed; independent of config.seed
NUM_TEST = 360
NUM_TRAIN = 1437


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
  from sklearn.datasets import load_digits
  d = load_digits()
  images = (d.images.astype(np.float32) / np.float32(16.0))[..., None]   # (1797, 8, 8, 1) in [0, 1]
  return images, d.target.astype(np.int32)


def split_indices(split: str) -> np.ndarray:
  """Indices of `split` ("train": 1437, "test": 360) into load_digits(), from the fixed permutation."""
  if split not in ("train", "test"):
    raise JaxgenError(f"split={split!r} is not allowed for digits; choose 'train' or 'test'.")
  perm = np.random.default_rng(SPLIT_SEED).permutation(NUM_TRAIN + NUM_TEST)
  return perm[:NUM_TRAIN] if split == "train" else perm[NUM_TRAIN:]


def raw_split(split: str) -> tuple[np.ndarray, np.ndarray]:
  """(images float32 (N, 8, 8, 1) in [0, 1], labels int32 (N,)) of the split, before preprocessing."""
  images, labels = _load()
  idx = split_indices(split)
  return images[idx], labels[idx]
