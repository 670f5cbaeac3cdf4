"""The work directory of a training run: its recorded config and the checks made before anything in it is
written.

  <workdir>/config.json           the config of the run (rewritten only with compatible changes)
  <workdir>/config_history.jsonl  one record per start that changed an allowed key: {"time", "step", "changes"}

A resumed run must be the same experiment: every key but the RUN_LENGTH_KEYS (how long and how often to log,
save and sample) has to equal the recorded one. Paths may be local or gs:// (etils.epath).
"""
import datetime
import json
import os

import ml_collections
from etils import epath

from jaxgen import config as config_lib
from jaxgen import configs
from jaxgen.errors import JaxgenError
from jaxgen.fileio import append_bytes, atomic_write

CONFIG_FILE = "config.json"
HISTORY_FILE = "config_history.jsonl"
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
  p = path(workdir) / CONFIG_FILE
  if not p.exists():
    return None
  try:
    recorded = json.loads(p.read_text())
  except (OSError, ValueError) as e:
    raise JaxgenError(f"cannot read {p}: {e}") from None
  if not isinstance(recorded, dict):
    raise JaxgenError(f"cannot read {p}: not a JSON object.")
  family = recorded.get("family")
  defaults = configs.get(family) if family in configs.FAMILIES else None
  upgraded = config_lib.upgrade_recorded(recorded, defaults)
  if defaults is not None:
    check_recorded_types(upgraded, defaults, p)
  return upgraded


def _same_type(value, default) -> bool:
  """Whether a recorded value can stand where the family default `default` (a bool, int, float or str) does."""
  if isinstance(default, bool):
    return isinstance(value, bool)
  if isinstance(default, int):
    return isinstance(value, int) and not isinstance(value, bool)
  if isinstance(default, float):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
  return isinstance(value, str)


def check_recorded_types(recorded: dict, defaults, where) -> None:
  """Raises JaxgenError when a value of a recorded config has another type than the family default's (a hand-edited
  or damaged config.json, e.g. "batch_size": "16"): jaxgen writes config.json with its config's types (None, a
  setting turned off, may stand for any)."""
  flat = flatten(recorded)
  for key, default in config_lib.flat_keys(defaults).items():
    value = flat.get(key)
    if isinstance(default, (bool, int, float, str)) and value is not None and not _same_type(value, default):
      raise JaxgenError(f"cannot use {where}: {key}={json.dumps(value)[:60]} is a {type(value).__name__} where a "
                        f"{type(default).__name__} belongs (e.g. {json.dumps(default)}); the file was edited or "
                        "damaged: fix that value.")


def is_run_length_key(key: str) -> bool:
  return key in RUN_LENGTH_KEYS or key.startswith(RUN_LENGTH_PREFIXES)


def compare(recorded: dict, new: dict) -> tuple[dict, dict]:
  """(allowed changes, incompatible changes) between two configs as {dotted key: (recorded, new)};
  a key missing on one side shows as "<unset>"."""
  a, b = flatten(recorded), flatten(new)
  changes = {k: (a.get(k, "<unset>"), b.get(k, "<unset>")) for k in sorted(set(a) | set(b))
             if a.get(k, "<unset>") != b.get(k, "<unset>")}
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
  text = config.to_json(indent=2, sort_keys=True)
  atomic_write(root / CONFIG_FILE, lambda tmp: epath.Path(tmp).write_text(text))
  if changes:
    record = {"time": now(), "step": int(step), "changes": {k: list(v) for k, v in changes.items()}}
    append_bytes(root / HISTORY_FILE, (json.dumps(record) + "\n").encode())


def now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def read_config(workdir) -> ml_collections.ConfigDict:
  """The recorded config of a training directory; JaxgenError when it has none."""
  recorded = recorded_config(workdir)
  if recorded is None:
    raise JaxgenError(f"workdir {str(workdir)!r} has no {CONFIG_FILE}; is it a jaxgen training directory?")
  return ml_collections.ConfigDict(recorded)
