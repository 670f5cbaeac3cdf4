"""JAX's persistent compilation cache for the command-line programs.

Every `train.py` / `sample.py` / `python -m jaxgen.evaluate` start otherwise pays the full XLA compilation of the
train step and the samplers again (seconds per program on a CPU, more on accelerators). With the cache, a second
run of the same config (same shapes, same jax/jaxlib, same backend) loads the compiled executables from disk.

  JAXGEN_COMPILATION_CACHE unset or ""   the default directory: $XDG_CACHE_HOME/jaxgen/xla (~/.cache/jaxgen/xla)
  JAXGEN_COMPILATION_CACHE=/some/dir     that directory (created if missing)
  JAXGEN_COMPILATION_CACHE=off           no persistent cache (also "0", "false", "none", "no")

If JAX's own `JAX_COMPILATION_CACHE_DIR` (or jax.config's jax_compilation_cache_dir) is already set, it is kept.
Entries are keyed by the computation, the compile options and the jax/jaxlib/backend versions, so a stale entry
is never used; deleting the directory is always safe.
"""
from __future__ import annotations

import os
import sys

ENV = "JAXGEN_COMPILATION_CACHE"
OFF = ("off", "0", "false", "none", "no")
MIN_COMPILE_TIME_S = 0.2   # cache every computation whose compilation takes longer than this (JAX's default: 1 s)


def default_dir() -> str:
  """$XDG_CACHE_HOME/jaxgen/xla, or ~/.cache/jaxgen/xla."""
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jaxgen", "xla")


def cache_dir(setting: str | None = None) -> str | None:
  """The directory `enable` uses for `setting` (default: the JAXGEN_COMPILATION_CACHE variable); None = off."""
  setting = os.environ.get(ENV, "") if setting is None else setting
  setting = setting.strip()
  if setting.lower() in OFF:
    return None
  return os.path.abspath(os.path.expanduser(setting)) if setting else default_dir()


def enable(setting: str | None = None) -> str | None:
  """Turns the persistent compilation cache on (see the module docstring); returns its directory or None.

  Call once at program start, before the first computation is compiled. Before JAX is imported it only sets the
  environment variables JAX reads when it loads, so the command-line tools answer flag, config and lock mistakes
  without loading JAX (jaxgen.cli).
  """
  if "jax" not in sys.modules:
    return _enable_by_environment(setting)
  import jax  # local import: only when JAX is loaded already; otherwise the environment variables above do it
  current = jax.config.jax_compilation_cache_dir
  if current:                                    # set by JAX_COMPILATION_CACHE_DIR or the caller: keep it
    return current
  directory = _make(cache_dir(setting))
  if directory is None:
    return None
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return directory


def _enable_by_environment(setting: str | None) -> str | None:
  """`enable` before JAX loads: JAX_COMPILATION_CACHE_DIR (kept when set) and the two thresholds, as environment
  variables JAX reads at import."""
  current = os.environ.get("JAX_COMPILATION_CACHE_DIR")
  if current:
    return current
  directory = _make(cache_dir(setting))
  if directory is not None:
    os.environ.update({"JAX_COMPILATION_CACHE_DIR": directory,
                       "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(MIN_COMPILE_TIME_S),
                       "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"})
  return directory


def _make(directory: str | None) -> str | None:
  """`directory`, created if missing; None when it is None or cannot be created (an unwritable location must not
  stop a training run)."""
  if directory is None:
    return None
  try:
    os.makedirs(directory, exist_ok=True)
  except OSError:
    return None
  return directory
