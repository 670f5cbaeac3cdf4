"""What a run with several processes (a multi-host TPU slice, a GPU cluster) must agree on, and how.

JAX runs one process per host; every process runs the same program on its share of the global batch, and a
collective that one process skips leaves the others waiting forever. So:

- a check that can fail on some processes only (a config mismatch, a busy or unshared workdir) ends with
  `agree`: every process learns whether all passed and all stop together with one clear line;
- a signal that reaches one process (a preempted host) is turned into a stop that all processes take at the
  same step (`any_process`, an all-gather of one flag per step), so all save the same checkpoint;
- `check_shared_workdir`: process 0 writes a marker file, every other process must see it within a timeout:
  a workdir on each host's local disk would make the processes hang in their first checkpoint save.

With one process every function here is a no-op or a plain local check.
"""
import os
import time
import uuid

import jax
import numpy as np

from jaxgen.errors import JaxgenError

MARKER_DIR = ".processes"
SHARED_WORKDIR_TIMEOUT = float(os.environ.get("JAXGEN_SHARED_WORKDIR_TIMEOUT", "60"))


def _allgather(values: np.ndarray) -> np.ndarray:
  from jax.experimental import multihost_utils
  return np.asarray(multihost_utils.process_allgather(values))


def all_true(flag: bool) -> np.ndarray:
  """The flags of all processes, in process order (an all-gather when there are several)."""
  if jax.process_count() == 1:
    return np.asarray([bool(flag)])
  return _allgather(np.asarray([int(bool(flag))], np.int32)).reshape(-1).astype(bool)


def any_process(flag: bool) -> bool:
  """True on every process when `flag` is True on any one of them."""
  return bool(all_true(flag).any())


def agree(fn, what: str):
  """Runs `fn()` on every process; when it raises JaxgenError on any process, every process raises (the ones
  that failed with their own message, the others naming the processes that failed)."""
  error = None
  try:
    result = fn()
  except JaxgenError as e:
    error, result = e, None
  ok = all_true(error is None)
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
  from jax.experimental import multihost_utils
  codes = np.zeros(length, np.int32)
  raw = np.frombuffer(text.encode()[:length], np.uint8)
  codes[:len(raw)] = raw
  out = np.asarray(multihost_utils.broadcast_one_to_all(codes))
  return bytes(out[out > 0].astype(np.uint8)).decode()


def check_shared_workdir(root, timeout: float | None = None) -> None:
  """Raises JaxgenError on every process unless all processes see the marker process 0 writes in `root`."""
  if jax.process_count() == 1:
    return
  timeout = SHARED_WORKDIR_TIMEOUT if timeout is None else timeout
  name = broadcast_text(uuid.uuid4().hex)
  marker = root / MARKER_DIR / name
  if jax.process_index() == 0:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
  deadline = time.time() + timeout
  seen = marker.exists()
  while not seen and time.time() < deadline:
    time.sleep(0.2)
    seen = marker.exists()
  ok = all_true(seen)
  if jax.process_index() == 0:
    marker.unlink(missing_ok=True)
  if not ok.all():
    missing = ", ".join(str(i) for i in np.flatnonzero(~ok))
    raise JaxgenError(f"process {missing} cannot see {root} as process 0 writes it (no marker file within "
                      f"{timeout:g} s): --workdir must be one directory shared by all processes (a shared "
                      "filesystem or gs://), not each host's local disk.")
