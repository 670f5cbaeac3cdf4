"""The other processes of a multi-process run: are they alive, and do they see the same workdir.

A process that dies (kill -9, a crashed host) leaves the others waiting in their next collective, and JAX's own
heartbeat check would abort them after 100 s with a C++ dump. Instead `PeerMonitor` (a thread the command-line
tools start) notices within `--peer_timeout` s, and `lost_peer` ends this process with one `error:` line (exit 1)
naming the checkpoint the next start resumes from; a collective that fails outright ends the same way at once.
With one process every function here is a no-op.
"""
import atexit
import os
import re
import sys
import threading
import time
import uuid

import jax
import numpy as np
from jax._src import distributed as jax_distributed

from jaxgen.errors import JaxgenError
from jaxgen.train import collectives

MARKER_DIR = ".processes"
SHARED_WORKDIR_TIMEOUT = float(os.environ.get("JAXGEN_SHARED_WORKDIR_TIMEOUT", "60"))


def check_shared_workdir(root, timeout: float | None = None) -> None:
  """Raises JaxgenError on every process unless all processes see the marker process 0 writes in `root` (a
  workdir on each host's local disk would make the processes hang in their first checkpoint save)."""
  if jax.process_count() == 1:
    return
  timeout = SHARED_WORKDIR_TIMEOUT if timeout is None else timeout
  marker = root / MARKER_DIR / collectives.broadcast_text(uuid.uuid4().hex)
  if jax.process_index() == 0:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
  deadline = time.time() + timeout
  seen = marker.exists()
  while not seen and time.time() < deadline:
    time.sleep(0.2)
    seen = marker.exists()
  ok = collectives.all_flags(seen)
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
LOST_PEER_EXIT = 1


def _print_and_exit(message: str) -> None:
  sys.stderr.write(f"error: {message}\n")
  sys.stderr.flush()
  os._exit(LOST_PEER_EXIT)


def set_exit_handler(fn) -> None:
  """`fn(message)` ends the process after a lost peer (it must not return); the command-line tools print the
  message as their one `error:` line. The default prints it to stderr and exits with status 1."""
  _exit_handler[0] = fn


_exit_handler = [_print_and_exit]


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
  _exit_handler[0](f"{reason}; this process stops too. Start all processes again with the same command: the "
                   f"run resumes from the last checkpoint{_resume_note}.")


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
  """The coordination-service client jax.distributed.initialize made (JAX has no public handle; Orbax reaches
  it the same way)."""
  return jax_distributed.global_state.client


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
  if _monitor is not None or jax.process_count() == 1:
    return
  _monitor = PeerMonitor(timeout, coordinator).start()
  atexit.register(_monitor.stop)  # runs before JAX's shutdown (registered earlier, atexit runs last-in first)
