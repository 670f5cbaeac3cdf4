"""Random-access sources of finite splits: the one interface the pipeline and `load_split` read through.

A source has `num_examples`, `has_labels` and `get(indices) -> {"x": float32 preprocessed, "label": int32}`
(rows in the order of `indices`). Small sets live in memory, preprocessed once; large ones (CelebA, image
folders) decode and preprocess only the rows a batch asks for.
"""
from __future__ import annotations

import collections
import concurrent.futures
import threading
from typing import Callable

import numpy as np


class InMemorySource:
  """A split held as preprocessed NumPy arrays (read-only)."""

  def __init__(self, arrays: dict):
    self._arrays = {}
    for k, v in arrays.items():
      v = np.ascontiguousarray(v, np.float32 if k == "x" else np.int32)
      v.flags.writeable = False
      self._arrays[k] = v
    self.num_examples = int(self._arrays["x"].shape[0])
    self.has_labels = "label" in self._arrays

  def get(self, indices) -> dict:
    indices = np.asarray(indices, np.int64)
    return {k: v[indices] for k, v in self._arrays.items()}

  def get_all(self) -> dict:
    return dict(self._arrays)


class LazySource:
  """Decodes and preprocesses rows on demand.

  `read(indices) -> (raw_images, labels or None)`: raw images as a list of (H, W[, C]) uint8 arrays, or an array;
  `prep(raw_list) -> float32 (n, s, s, c)` preprocesses images of possibly different sizes.
  """

  def __init__(self, num_examples: int, read: Callable, prep: Callable, has_labels: bool,
               chunk: int = 512):
    self.num_examples = int(num_examples)
    self.has_labels = bool(has_labels)
    self._read = read
    self._prep = prep
    self._chunk = chunk

  def get(self, indices) -> dict:
    indices = np.asarray(indices, np.int64)
    images, labels = self._read(indices)
    out = {"x": self._prep(images)}
    if self.has_labels:
      out["label"] = np.asarray(labels, np.int32)
    return out

  def get_all(self) -> dict:
    parts = [self.get(np.arange(i, min(i + self._chunk, self.num_examples)))
             for i in range(0, self.num_examples, self._chunk)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def parallel_map(fn: Callable, items, threads: int = 8) -> list:
  """[fn(x) for x in items] in order, on a thread pool when there are many (image decoding releases the GIL)."""
  items = list(items)
  if len(items) <= 16:
    return [fn(x) for x in items]
  with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    return list(pool.map(fn, items))


def prep_images(images, preprocess_fn: Callable) -> np.ndarray:
  """Preprocesses a list of images: in one call when they share a shape, else one at a time (CelebA vs flowers)."""
  images = [np.asarray(im) for im in images]
  if len({im.shape for im in images}) == 1:
    return preprocess_fn(np.stack(images))
  return np.concatenate([preprocess_fn(im[None]) for im in images], axis=0)


IN_MEMORY_BYTES = 2 << 30   # splits whose preprocessed float32 arrays fit in this are decoded once and cached


def fits_in_memory(config, num_examples: int) -> bool:
  """Whether `num_examples` preprocessed float32 images of config.data's shape fit in IN_MEMORY_BYTES."""
  s = int(config.data.image_size)
  return num_examples * s * s * int(config.data.channels) * 4 <= IN_MEMORY_BYTES


_CACHE: "collections.OrderedDict[tuple, InMemorySource]" = collections.OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def cached_in_memory(key: tuple, build: Callable[[], dict]) -> InMemorySource:
  """InMemorySource(build()), built once per `key` (the data settings and split) and then shared (LRU of 8)."""
  with _LOCK:
    if key in _CACHE:
      _CACHE.move_to_end(key)
      return _CACHE[key]
    source = InMemorySource(build())
    _CACHE[key] = source
    while len(_CACHE) > _CACHE_SIZE:
      _CACHE.popitem(last=False)
    return source
