"""Deterministic, resumable batches for the training loop (the rules: docs/design.md §5, "Pipeline").

`Pipeline(config, split).batch(step)` is a PURE function of (config.seed, step): resuming at step s reproduces
exactly the batches an uninterrupted run would have seen, with no iterator state to checkpoint. Finite sets take
step s's slice of epoch e's permutation `np.random.default_rng([seed, e])`, the remainder of each epoch dropped.

toy2d, split "train": the global batch of step s is `toy2d.sample(name, fold_in(data_key, s), B)` with
data_key = fold_in(PRNGKey(seed), DATA_KEY_TAG), a key no other part of jaxgen derives; steps_per_epoch is None.
toy2d, split "test": the fixed held-out 10,000 points of `load_split` (independent of the seed), batched like a
finite set, so every model is evaluated on the same points.

Sources read per batch are prefetched PREFETCH batches ahead on a background thread (safe because batch(s) is
pure; a non-sequential request just computes directly). Process p of P gets rows [p B/P, (p+1) B/P).
"""
from __future__ import annotations

import concurrent.futures

import jax
import numpy as np

from jaxgen.data import catalog, sources
from jaxgen.data import toy2d
from jaxgen.errors import JaxgenError

DATA_KEY_TAG = 0x64617461   # "data": folded into PRNGKey(seed) for the toy2d stream
PREFETCH = 2                # batches prepared ahead for per-batch (lazy) sources


def toy2d_data_key(seed: int) -> jax.Array:
  """The base key of the toy2d stream for `seed` (raw uint32 key)."""
  return jax.random.fold_in(jax.random.PRNGKey(int(seed)), DATA_KEY_TAG)


def epoch_permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  """The order of epoch `epoch`: np.random.default_rng([seed, epoch]).permutation(num_examples)."""
  return np.random.default_rng([int(seed), int(epoch)]).permutation(int(num_examples))


class Pipeline:
  """Batches of one split for one process.

  Attributes:
    global_batch_size: config.train.batch_size.
    local_batch_size: rows this process gets (global / process_count).
    steps_per_epoch: N // global_batch_size for finite sets; None for the infinite toy2d training stream.
    num_examples: N for finite sets; None for the toy2d training stream.
  """

  def __init__(self, config, split: str = "train", *, process_index: int | None = None,
               process_count: int | None = None):
    self.config = config
    self.split = split
    self.seed = int(config.seed)
    self.global_batch_size = int(config.train.batch_size)
    self.process_index = jax.process_index() if process_index is None else int(process_index)
    self.process_count = jax.process_count() if process_count is None else int(process_count)
    if self.global_batch_size % self.process_count:
      raise JaxgenError(f"train.batch_size={self.global_batch_size} does not divide evenly over "
                        f"{self.process_count} processes; choose a multiple of {self.process_count}.")
    self.local_batch_size = self.global_batch_size // self.process_count
    self._lo = self.process_index * self.local_batch_size
    self._hi = self._lo + self.local_batch_size

    kind, arg = catalog.parse_name(config.data.name)
    self.kind = kind
    self.is_stream = kind == "toy2d" and split == "train"
    if self.is_stream:
      self._toy_name = arg
      self._data_key = toy2d_data_key(self.seed)
      self.source = None
      self.num_examples = None
      self.steps_per_epoch = None
    else:
      self.source = catalog.open_source(config, split)
      self.num_examples = self.source.num_examples
      if self.num_examples < self.global_batch_size:
        raise JaxgenError(f"train.batch_size={self.global_batch_size} is larger than the {self.num_examples} "
                          f"examples of {config.data.name!r} ({split}); choose a batch size <= "
                          f"{self.num_examples}.")
      self.steps_per_epoch = self.num_examples // self.global_batch_size
    self._perm_cache = None
    self._lazy = self.source is not None and not isinstance(self.source, sources.InMemorySource)
    self._pool = None
    self._ahead: dict[int, concurrent.futures.Future] = {}

  def _permutation(self, epoch: int) -> np.ndarray:
    cached = self._perm_cache             # (epoch, permutation), replaced atomically (prefetch thread)
    if cached is None or cached[0] != epoch:
      cached = (epoch, epoch_permutation(self.seed, epoch, self.num_examples))
      self._perm_cache = cached
    return cached[1]

  def global_indices(self, step: int) -> np.ndarray:
    """Indices into the split of the global batch `step` (finite sets only). int64 (B,)."""
    if self.is_stream:
      raise JaxgenError("toy2d batches are sampled, not indexed; use batch(step).")
    step = int(step)
    if step < 0:
      raise JaxgenError(f"step={step} must be >= 0.")
    epoch, i = divmod(step, self.steps_per_epoch)
    b = self.global_batch_size
    return self._permutation(epoch)[i * b:(i + 1) * b]

  def batch(self, step: int) -> dict:
    """This process's slice of global batch `step`: {"x": float32 (B/P, ...), "label": int32 (B/P,)?}."""
    if self.is_stream:
      key = jax.random.fold_in(self._data_key, int(step))
      x = np.asarray(toy2d.sample_jit(self._toy_name, key, self.global_batch_size))
      return {"x": x[self._lo:self._hi]}
    step = int(step)
    if not self._lazy:
      return self._read(step)
    future = self._ahead.pop(step, None)
    for s in [s for s in self._ahead if s < step or s > step + PREFETCH]:
      self._ahead.pop(s).cancel()
    if self._pool is None:
      self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jaxgen-prefetch")
    for s in range(step + 1, step + 1 + PREFETCH):
      if s not in self._ahead:
        self._ahead[s] = self._pool.submit(self._read, s)
    return future.result() if future is not None else self._read(step)

  def _read(self, step: int) -> dict:
    idx = self.global_indices(step)[self._lo:self._hi]
    return self.source.get(idx)

  def close(self) -> None:
    """Stops prefetching (pending batches are dropped)."""
    for f in self._ahead.values():
      f.cancel()
    self._ahead.clear()
    if self._pool is not None:
      self._pool.shutdown(wait=False, cancel_futures=True)
      self._pool = None

  def global_batch(self, step: int, sharding) -> dict:
    """Global batch `step` as jax.Arrays laid out by `sharding` (one sharding, or a dict per entry)."""
    local = self.batch(step)
    out = {}
    for k, v in local.items():
      s = sharding[k] if isinstance(sharding, dict) else sharding
      out[k] = jax.make_array_from_process_local_data(s, v)
    return out

  def __iter__(self):
    step = 0
    while True:
      yield self.batch(step)
      step += 1
