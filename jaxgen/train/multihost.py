"""What a run with several processes (a multi-host TPU slice, a GPU cluster) must agree on, and how.

JAX runs one process per host; every process runs the same program on its share of the global batch, and a
collective that one process skips leaves the others waiting forever. So:

- a check that can fail on some processes only (a config mismatch, a busy or unshared workdir) ends with
  `agree`: every process learns whether all passed and all stop together with one clear line;
- a signal that reaches one process (a preempted host) is turned into a stop that all processes take at the
  same step (`any_process`, an all-gather of one flag per step), so all save the same checkpoint;
- `check_shared_workdir`: process 0 writes a marker file, every other process must see it within a timeout:
  a workdir on each host's local disk would make the processes hang in their first checkpoint save.
- a process that dies (kill -9, a crashed host) leaves the others waiting in their next collective; JAX's own
  heartbeat check would abort them after 100 s with a long C++ dump. Instead, `PeerMonitor` (a thread started
  by the command-line tools) sees within `--peer_timeout` seconds that a process stopped counting up its
  liveness key in the coordination service (or that the coordinator is gone), and `lost_peer` ends this
  process with one `error:` line (exit 1). A collective that fails outright (gloo's "Connection reset by peer"
  on CPU) ends the same way at once (`is_peer_failure`).

With one process every function here is a no-op or a plain local check.
"""
import os
import re
import threading
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


ALIVE_KEY = "jaxgen_alive/"
_PEER_FAILURE_TEXT = ("gloo", "nccl", "connection reset", "connection closed", "connection refused", "socket closed",
                      "heartbeat", "unavailable", "deadline_exceeded", "coordination service", "barrier")
_lost = threading.Lock()
_resume_note = ""   # " (step N in WORKDIR)" once the loop knows its newest checkpoint
_complete = [None]  # the newest checkpoint step known to be complete
_on_lost = []       # cleanups (the workdir lock) run before a lost_peer exit


def note_checkpoint(step, workdir, complete: bool = True) -> None:
  """Lets a lost_peer line name the checkpoint the next start resumes from: `step` (None: none yet), either
  known to be complete or (complete=False) an asynchronous save still in flight."""
  global _resume_note
  if step is None:
    _resume_note = f" in {workdir} (none was written yet: it starts over)"
  elif complete:
    _complete[0] = step
    _resume_note = f" (step {step} in {workdir})"
  else:
    before = f"step {_complete[0]}" if _complete[0] is not None else "none: it starts over"
    _resume_note = f" (step {step} in {workdir} if its save completed, else {before})"


def on_lost(fn) -> None:
  """Runs `fn()` (e.g. releasing the workdir lock) before a lost_peer exit."""
  _on_lost.append(fn)


def forget_lost(fn) -> None:
  """Undoes `on_lost(fn)` (the run that registered it has ended and released its lock itself)."""
  if fn in _on_lost:
    _on_lost.remove(fn)


def lost_peer(reason: str):
  """Ends this process at once with one `error:` line: `reason`, and that the next start resumes from the
  last checkpoint. Exit status 1, without interpreter teardown: a normal exit would wait in collectives,
  Orbax's barriers and jax.distributed's shutdown barrier for the process that is gone. Called from any thread;
  only the first caller reports, later ones wait for the exit."""
  if not _lost.acquire(blocking=False):
    while True:
      time.sleep(3600)
  for fn in _on_lost:
    try:
      fn()
    except Exception:
      pass
  from jaxgen import cli
  cli.quiet_library_threads()  # JAX's and gloo's own logs about the same loss stay out of the terminal
  cli.fail(f"{reason}; this process stops too. Start all processes again with the same command: the run "
           f"resumes from the last checkpoint{_resume_note}.", cli.RUN_FAILURE, hard=True)


def is_peer_failure(e: BaseException) -> bool:
  """True when `e`, raised in a run of several processes, is a collective or coordination-service call that
  failed because another process (or the connection to it) is gone."""
  if not isinstance(e, Exception) or type(e).__name__ not in ("JaxRuntimeError", "XlaRuntimeError"):
    return False
  try:
    if jax.process_count() == 1:
      return False
  except Exception:
    return False
  text = str(e)[:4000].lower()
  return any(t in text for t in _PEER_FAILURE_TEXT)


def exit_if_peer_failure(e: BaseException) -> None:
  """lost_peer when `e` is a peer failure (see is_peer_failure); otherwise returns and the caller re-raises."""
  if is_peer_failure(e):
    text = re.sub(r"\[[^\]\s]+\.(cc|h):\d+\] ", "", " ".join(str(e).split()))  # gloo's source locations
    text = re.sub(r"(Error dispatching computation: )+|^(INTERNAL|UNKNOWN): ", "", text)  # wrappers round the cause
    detail = text.split("UNKNOWN: ", 1)[-1]
    lost_peer(f"a collective with the other processes failed ({type(e).__name__}: {detail[:200]}): another "
              "process stopped or lost its connection")


def _client():
  from jax._src import distributed  # the coordination-service client jax.distributed.initialize made (Orbax
  return distributed.global_state.client  # reaches it the same way)


class PeerMonitor:
  """A daemon thread that notices a process of a multi-process run that died or hangs, within `timeout` s.

  Every `interval` s each process increments its own key `jaxgen_alive/<process>` in JAX's coordination
  service (a key-value store served by process 0) and reads everyone's. A process whose count has not moved for
  `timeout` s, or a coordinator that has not answered for `timeout` s, ends this process through `lost_peer`.
  Counting from a thread of its own, a live process stays visible while it compiles, saves or waits in a
  collective, so a slow peer is not mistaken for a dead one. timeout > 0; interval defaults to timeout / 5,
  clamped to [0.2, 5] s.
  """

  def __init__(self, timeout: float, coordinator: str | None = None, interval: float | None = None):
    self.timeout = float(timeout)
    self.interval = interval if interval is not None else min(5.0, max(0.2, self.timeout / 5))
    self.coordinator = coordinator
    self.client = _client()
    self.me, self.n = jax.process_index(), jax.process_count()
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, name="jaxgen-peer-monitor", daemon=True)

  def start(self) -> "PeerMonitor":
    if self.client is not None and self.n > 1:
      self._thread.start()
    return self

  def stop(self) -> None:
    self._stop.set()

  def _run(self) -> None:
    last_count, last_change = {}, {}
    last_answer = time.monotonic()
    # Each call has its own thread with a deadline, so an RPC that blocks cannot delay the verdict.
    while not self._stop.wait(self.interval):
      now = time.monotonic()
      try:
        counts = self._call(lambda: self._beat_and_read(), self.timeout)
      except Exception as e:
        if self._stop.is_set():
          return
        if time.monotonic() - last_answer >= self.timeout:
          where = f" at {self.coordinator}" if self.coordinator else ""
          lost_peer(f"lost the connection to the coordinator (process 0{where}) for {self.timeout:g} s "
                    f"({type(e).__name__}: {' '.join(str(e).split())[:120]}); --peer_timeout sets the limit")
        continue
      last_answer = now = time.monotonic()
      for i in range(self.n):
        if i == self.me:
          continue
        if counts.get(i) != last_count.get(i) or i not in last_change:
          last_count[i], last_change[i] = counts.get(i), now
        elif now - last_change[i] >= self.timeout and not self._stop.is_set():
          lost_peer(f"process {i} of {self.n} stopped responding (no sign of life for {self.timeout:g} s; "
                    "--peer_timeout sets the limit)")

  def _beat_and_read(self) -> dict:
    self.client.key_value_increment(f"{ALIVE_KEY}{self.me}", 1)
    counts = {}
    for key, value in self.client.key_value_dir_get(ALIVE_KEY):
      try:
        counts[int(key.rsplit("/", 1)[-1])] = value
      except ValueError:
        pass
    return counts

  def _call(self, fn, timeout):
    box = {}

    def target():
      try:
        box["value"] = fn()
      except Exception as e:
        box["error"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
      raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
      raise box["error"]
    return box["value"]


_monitor = None


def start_peer_monitor(timeout: float, coordinator: str | None = None) -> None:
  """Starts the PeerMonitor of this process (after jax.distributed.initialize; a no-op with one process) and
  stops it before jax.distributed's own shutdown at exit."""
  global _monitor
  import atexit
  if _monitor is not None or jax.process_count() == 1:
    return
  _monitor = PeerMonitor(timeout, coordinator).start()
  atexit.register(_monitor.stop)  # runs before JAX's shutdown (registered earlier, atexit runs last-in first)
