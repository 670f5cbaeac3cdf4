"""Agreement between the processes of a multi-host run (a TPU slice, a GPU cluster).

Every process runs the same program on its share of the global batch, and a collective that one process skips
leaves the others waiting forever. So a decision that can differ between processes (a check that fails on one
host, a signal that reached one host, a full disk seen by process 0) is all-gathered first and taken by all.
With one process every function here is a plain local computation.
"""
import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxgen.errors import JaxgenError


def all_flags(flag: bool) -> np.ndarray:
  """The flags of all processes, in process order: bool (num_processes,)."""
  if jax.process_count() == 1:
    return np.asarray([bool(flag)])
  gathered = multihost_utils.process_allgather(np.asarray([int(bool(flag))], np.int32))
  return np.asarray(gathered).reshape(-1).astype(bool)


def any_process(flag: bool) -> bool:
  """True on every process when `flag` is True on any one of them."""
  return bool(all_flags(flag).any())


def agree(fn, what: str):
  """Runs `fn()` on every process; when it raises JaxgenError on any process, every process raises (the ones
  that failed with their own message, the others naming the processes that failed)."""
  error, result = None, None
  try:
    result = fn()
  except JaxgenError as e:
    error = e
  ok = all_flags(error is None)
  if error is not None:
    raise error
  if not ok.all():
    failed = ", ".join(str(i) for i in np.flatnonzero(~ok))
    raise JaxgenError(f"process {failed} could not {what}; see its error line.")
  return result


def broadcast_text(text: str, length: int = 64) -> str:
  """Process 0's `text` (ASCII, up to `length` characters) on every process."""
  if jax.process_count() == 1:
    return text
  codes = np.zeros(length, np.int32)
  raw = np.frombuffer(text.encode()[:length], np.uint8)
  codes[:len(raw)] = raw
  out = np.asarray(multihost_utils.broadcast_one_to_all(codes))
  return bytes(out[out > 0].astype(np.uint8)).decode()


def gather_examples(local: dict) -> dict:
  """Every process's rows of a dict of arrays, concatenated in process order (identical on all processes)."""
  if jax.process_count() == 1:
    return local
  return {k: np.asarray(multihost_utils.process_allgather(v, tiled=True)) for k, v in local.items()}


def sync(name: str) -> None:
  """A barrier: returns once every process has reached it."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)
