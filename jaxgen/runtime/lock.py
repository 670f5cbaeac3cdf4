"""One trainer per work directory: `<workdir>/lock` holds {"host", "pid", "started", "proc_start"} of the holder."""
import json
import os
import socket
import time

from jaxgen.errors import JaxgenError, warn
from jaxgen.train import workdir as workdir_lib

LOCK_FILE = "lock"


def _process_start(pid: int) -> str | None:
  """The kernel's start time of `pid` (Linux /proc), to tell a live holder from a reused pid; None if unknown."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[19]
  except (OSError, IndexError):
    return None


def _alive(pid: int, proc_start) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  now = _process_start(pid)
  return proc_start is None or now is None or now == proc_start


def _age(p) -> float:
  try:
    return time.time() - p.stat().mtime
  except (OSError, AttributeError):
    return 0.0


class WorkdirLock:
  """Exclusive use of a workdir by one trainer: `<workdir>/lock` names the holder (host, pid, start time).

  A lock left by a process that died (kill -9, a crash) on this host is detected (pid not alive, or reused by
  another process) and taken over with a warning. A lock from another host is never broken automatically:
  the message says to delete the file if that trainer is gone.

  On a local or POSIX shared filesystem the lock is created atomically (O_CREAT | O_EXCL). An object store
  (gs://, through etils.epath) has no exclusive create, so there the file is checked, then written: the lock
  guards against starting a second trainer on a running workdir, not against two started at the same instant.
  """

  def __init__(self, workdir):
    self.file = workdir_lib.path(workdir) / LOCK_FILE
    self.held = False

  def _info(self) -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": workdir_lib.now(),
            "proc_start": _process_start(os.getpid())}

  def _create(self) -> bool:
    data = json.dumps(self._info()).encode()
    if "://" in str(self.file):  # object stores have no exclusive create: check, then write
      if self.file.exists():
        return False
      self.file.write_bytes(data)
      return True
    try:
      fd = os.open(os.fspath(self.file), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
      return False
    try:
      os.write(fd, data)
    finally:
      os.close(fd)
    return True

  def _holder(self) -> dict | None:
    """The lock's record ({} when it cannot be read), or None when there is no lock."""
    try:
      holder = json.loads(self.file.read_text())
    except FileNotFoundError:
      return None
    except (OSError, ValueError):
      return {}
    return holder if isinstance(holder, dict) else {}

  def _is_stale(self, holder: dict) -> bool:
    """A lock whose holder died on this host (pid gone or reused)."""
    pid = holder.get("pid")
    return (holder.get("host") == socket.gethostname() and isinstance(pid, int)
            and not _alive(pid, holder.get("proc_start")))

  def _busy(self, holder: dict) -> JaxgenError:
    host, pid = holder.get("host", "?"), holder.get("pid")
    how = ("stop it first, or use another --workdir" if host == socket.gethostname() else
           f"if that trainer is gone, delete {self.file}")
    return JaxgenError(f"--workdir={str(self.file.parent)!r} is in use by another trainer: pid {pid} on host "
                       f"{host}, started {holder.get('started', '?')}; {how}.")

  def check_free(self) -> None:
    """Raises the JaxgenError `acquire` would for a live holder, writing nothing: train.py calls it before JAX
    loads, so a busy workdir is refused in about a second. No lock, a stale one (taken over by `acquire`) or one
    being written (`acquire` waits for it) passes."""
    holder = self._holder()
    if holder and not self._is_stale(holder):
      raise self._busy(holder)

  def acquire(self) -> None:
    self.file.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
      if self._create():
        self.held = True
        return
      holder = self._holder()
      if holder is None:
        continue  # released meanwhile
      if self._is_stale(holder):
        warn(f"removing the stale lock {self.file} of pid {holder['pid']} (started {holder.get('started', '?')}), "
             "which is no longer running.")
        self.file.unlink(missing_ok=True)
        continue
      if not holder and _age(self.file) > 10:  # an empty lock: its writer died between create and write
        warn(f"removing the unreadable lock {self.file}.")
        self.file.unlink(missing_ok=True)
        continue
      raise self._busy(holder)
    raise JaxgenError(f"cannot take the lock {self.file}; another trainer keeps taking it.")

  def release(self) -> None:
    if self.held:
      try:
        self.file.unlink(missing_ok=True)
      except OSError:
        pass
      self.held = False
