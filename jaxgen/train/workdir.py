"""The work directory of a training run: its recorded config, its lock, and the checks made before anything
in it is written.

  <workdir>/config.json           the config of the run (rewritten only with compatible changes)
  <workdir>/config_history.jsonl  one record per start that changed an allowed key: {"time", "step", "changes"}
  <workdir>/lock                  {"host", "pid", "started", "proc_start"} of the trainer that holds the workdir

A resumed run must be the same experiment: every key but the RUN_LENGTH_KEYS (how long and how often to log,
save and sample) has to equal the recorded one. Paths may be local or gs:// (etils.epath).
"""
import datetime
import json
import os
import socket

import ml_collections
from etils import epath

from jaxgen.errors import JaxgenError

CONFIG_FILE = "config.json"
HISTORY_FILE = "config_history.jsonl"
LOCK_FILE = "lock"
CHECKPOINTS = "checkpoints"

# Keys a resumed run may change: they decide how long it trains and what it reports, not what it learns.
RUN_LENGTH_KEYS = ("train.num_steps", "train.log_every", "train.checkpoint_every", "train.keep_checkpoints",
                   "train.sample_every", "train.num_sample_images", "train.eval_every")
RUN_LENGTH_PREFIXES = ("sample.",)  # sampling options only affect the sample grids


def path(workdir) -> epath.Path:
  p = epath.Path(workdir)
  return p if "://" in str(workdir) else p.absolute()


def check_usable(workdir) -> None:
  """Raises JaxgenError when `workdir` exists but is not a directory."""
  p = path(workdir)
  if p.exists() and not p.is_dir():
    raise JaxgenError(f"--workdir={str(workdir)!r} is a file, not a directory; pass a directory (new or "
                      "written by train.py).")


def flatten(tree: dict, prefix: str = "") -> dict:
  """{"a": {"b": 1}} -> {"a.b": 1}."""
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      out.update(flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def config_dict(config: ml_collections.ConfigDict) -> dict:
  """The config as the JSON data config.json holds (tuples become lists)."""
  return json.loads(config.to_json(sort_keys=True))


def recorded_config(workdir) -> dict | None:
  """The JSON of `<workdir>/config.json` under today's key names (`config.upgrade_recorded`), or None."""
  from jaxgen import config as config_lib
  p = path(workdir) / CONFIG_FILE
  if not p.exists():
    return None
  try:
    recorded = json.loads(p.read_text())
  except (OSError, ValueError) as e:
    raise JaxgenError(f"cannot read {p}: {e}") from None
  if not isinstance(recorded, dict):
    raise JaxgenError(f"cannot read {p}: not a JSON object.")
  return config_lib.upgrade_recorded(recorded)


def is_run_length_key(key: str) -> bool:
  return key in RUN_LENGTH_KEYS or key.startswith(RUN_LENGTH_PREFIXES)


def compare(recorded: dict, new: dict) -> tuple[dict, dict]:
  """(allowed changes, incompatible changes) between two configs as {dotted key: (recorded, new)};
  a key missing on one side shows as "<unset>"."""
  a, b = flatten(recorded), flatten(new)
  changes = {k: (a.get(k, "<unset>"), b.get(k, "<unset>")) for k in sorted(set(a) | set(b)) if a.get(k, "<unset>") != b.get(k, "<unset>")}
  allowed = {k: v for k, v in changes.items() if is_run_length_key(k)}
  return allowed, {k: v for k, v in changes.items() if k not in allowed}


def checkpoint_steps(workdir) -> list[int]:
  """The completed checkpoint steps in `<workdir>/checkpoints` (integer directory names), without writing."""
  p = path(workdir) / CHECKPOINTS
  if not p.is_dir():
    return []
  return sorted(int(c.name) for c in p.iterdir() if c.name.isdigit())


def check_config(config: ml_collections.ConfigDict, workdir) -> dict:
  """Checks `config` against the workdir's recorded config, writing nothing.

  Returns the allowed changes {key: (old, new)}; raises JaxgenError naming every incompatible key.
  """
  recorded = recorded_config(workdir)
  if recorded is None:
    if checkpoint_steps(workdir):
      raise JaxgenError(f"--workdir={str(workdir)!r} has checkpoints but no {CONFIG_FILE}; cannot tell which "
                        "config they belong to. Use a new --workdir.")
    return {}
  allowed, bad = compare(recorded, config_dict(config))
  if bad:
    listed = "; ".join(f"{k}: {_short(old)} (recorded) vs {_short(new)}" for k, (old, new) in list(bad.items())[:8])
    listed += f"; and {len(bad) - 8} more" if len(bad) > 8 else ""
    raise JaxgenError(f"the config differs from the run recorded in {path(workdir) / CONFIG_FILE} in {listed}. "
                      "A resumed run must be the same experiment (only train.num_steps, the log/checkpoint/"
                      "sample/eval intervals and sample.* may change); use a new --workdir for a new experiment.")
  return allowed


def _short(value) -> str:
  text = json.dumps(value)
  return text if len(text) <= 40 else text[:37] + "..."


def record_config(config: ml_collections.ConfigDict, workdir, changes: dict, step: int) -> None:
  """Writes config.json (atomically) and, when allowed keys changed, appends a record to config_history.jsonl."""
  root = path(workdir)
  root.mkdir(parents=True, exist_ok=True)
  tmp = root / (CONFIG_FILE + ".tmp")
  tmp.write_text(config.to_json(indent=2, sort_keys=True))
  tmp.replace(root / CONFIG_FILE)
  if changes:
    from jaxgen.train.logging import append_bytes
    record = {"time": _now(), "step": int(step), "changes": {k: list(v) for k, v in changes.items()}}
    append_bytes(root / HISTORY_FILE, (json.dumps(record) + "\n").encode())


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- lock ---------------------------------------------------------------------------------------------------

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
  import time
  try:
    return time.time() - p.stat().mtime
  except (OSError, AttributeError):
    return 0.0


class WorkdirLock:
  """Exclusive use of a workdir by one trainer: `<workdir>/lock` names the holder (host, pid, start time).

  A lock left by a process that died (kill -9, a crash) on this host is detected (pid not alive, or reused by
  another process) and taken over with a warning. A lock from another host is never broken automatically:
  the message says to delete the file if that trainer is gone.

  On a local or POSIX shared filesystem the lock is created atomically (O_CREAT | O_EXCL). On an object store
  (gs://, through etils.epath) it is NOT: epath's cloud paths open only in modes r/w/a (no exclusive 'x', no GCS
generation precondition; etils 1.x, gpath.py), so
  `_create` checks for the file and then writes it, and two trainers started on the same gs:// workdir within
  that window can both believe they hold it. It guards against the common mistake (starting a second trainer
  on a running workdir), not against a race; this was not tested against real cloud storage.
  """

  def __init__(self, workdir):
    self.file = path(workdir) / LOCK_FILE
    self.held = False

  def _info(self) -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _now(),
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

  def acquire(self) -> None:
    from jaxgen.train.logging import warn
    self.file.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
      if self._create():
        self.held = True
        return
      try:
        holder = json.loads(self.file.read_text())
      except FileNotFoundError:
        continue  # released meanwhile
      except (OSError, ValueError):
        holder = {}
      host, pid = holder.get("host", "?"), holder.get("pid")
      same_host = host == socket.gethostname()
      if same_host and isinstance(pid, int) and not _alive(pid, holder.get("proc_start")):
        warn(f"removing the stale lock {self.file} of pid {pid} (started {holder.get('started', '?')}), "
             "which is no longer running.")
        self.file.unlink(missing_ok=True)
        continue
      if not holder and _age(self.file) > 10:  # an empty lock: its writer died between create and write
        warn(f"removing the unreadable lock {self.file}.")
        self.file.unlink(missing_ok=True)
        continue
      how = ("stop it first, or use another --workdir" if same_host else
             f"if that trainer is gone, delete {self.file}")
      raise JaxgenError(f"--workdir={str(self.file.parent)!r} is in use by another trainer: pid {pid} on host "
                        f"{host}, started {holder.get('started', '?')}; {how}.")
    raise JaxgenError(f"cannot take the lock {self.file}; another trainer keeps taking it.")

  def release(self) -> None:
    if self.held:
      try:
        self.file.unlink(missing_ok=True)
      except OSError:
        pass
      self.held = False

  def __enter__(self):
    self.acquire()
    return self

  def __exit__(self, *exc):
    self.release()
