"""Command-line plumbing shared by train.py, sample.py and `python -m jaxgen.evaluate`.

User mistakes (bad flags, unknown config keys, bad values, missing work directories) end the program with one
clear line on stderr and exit status 2 — never a traceback.
"""
import os
import sys

from absl import app, flags

USAGE_ERROR = 2


def fail(message: str) -> None:
  """Prints `message` as one line and exits with status 2."""
  print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
  sys.exit(USAGE_ERROR)


def _load_config_file(path: str):
  """get_config() of a config file (as ml_collections' config_flags loads it; `path:arg` passes arg)."""
  import importlib.util
  path, _, arg = path.partition(":")
  spec = importlib.util.spec_from_file_location("jaxgen_user_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()


def _check_config_args(argv) -> None:
  """Validates `--config=PATH` and every `--config.KEY=VALUE` against the config file itself (its keys and value
  types are the schema) before absl parses them, so mistakes end in one line whatever the library versions."""
  from jaxgen import config as config_lib
  from jaxgen.errors import JaxgenError
  path = next((a.split("=", 1)[1] for a in argv[1:] if a.startswith("--config=")), None)
  if path is None:
    return
  if not os.path.isfile(path.partition(":")[0]):
    fail(f"--config={path!r}: no such config file; the configs are in configs/, e.g. configs/ddm_digits.py.")
  try:
    config = _load_config_file(path)
  except Exception as e:  # a broken config file: name it and the error, one line
    fail(f"--config={path!r} could not be loaded: {type(e).__name__}: {e}")
  overrides = {}
  for arg in argv[1:]:
    if arg.startswith(("--config.", "--noconfig.")):
      key, has_value, value = arg.split(".", 1)[1].partition("=")
      overrides[key] = value if has_value else "true"
  try:
    config_lib.check_overrides(config, overrides)
  except JaxgenError as e:
    fail(str(e))


def _parse_flags(argv):
  _check_config_args(argv)
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(_first_line(str(e)))
  except Exception as e:  # anything the checks above did not foresee: still one line
    fail(_first_line(f"{type(e).__name__}: {e}"))


def _first_line(text: str) -> str:
  lines = [line for line in text.strip().splitlines() if line.strip()]
  return lines[0] if lines else text


def run(main) -> None:
  """`absl.app.run(main)` with flag and config errors turned into one line and exit status 2."""
  from jaxgen import compile_cache
  from jaxgen.errors import JaxgenError

  def wrapped(argv):
    from absl import logging
    logging.set_verbosity(logging.WARNING)  # library INFO chatter (Orbax) stays out of the terminal
    compile_cache.enable()                  # JAXGEN_COMPILATION_CACHE=off|DIR (default ~/.cache/jaxgen/xla)
    try:
      main(argv)
    except JaxgenError as e:
      fail(str(e))

  app.run(wrapped, flags_parser=_parse_flags)
