"""Command-line plumbing shared by train.py, sample.py and `python -m jaxgen.evaluate`.

User mistakes (bad flags, unknown config keys, bad values, missing work directories) end the program with one
clear line on stderr and exit status 2 — never a traceback.
"""
import os
import re
import sys

from absl import app, flags

USAGE_ERROR = 2


def fail(message: str) -> None:
  """Prints `message` as one line and exits with status 2."""
  print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
  sys.exit(USAGE_ERROR)


def _parse_flags(argv):
  for arg in argv[1:]:
    if arg.startswith("--config="):
      path = arg.split("=", 1)[1]
      if not os.path.isfile(path):
        fail(f"--config={path!r}: no such config file; the configs are in configs/, e.g. configs/ddm_digits.py.")
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(_explain(str(e), argv))
  except Exception as e:  # config overrides raise AttributeError/KeyError/ValueError/TypeError
    fail(_explain(f"{type(e).__name__}: {e}", argv))


def _explain(text: str, argv) -> str:
  """One line for a flag-parsing failure; unknown config keys are named with the argument that set them."""
  key = re.search(r"'([A-Za-z0-9_.]+)\\?'", text)
  if key and ("AttributeError" in text or "KeyError" in text or "Unknown command line flag 'config." in text):
    name = key.group(1).split("config.", 1)[-1]
    culprit = next((a for a in argv[1:] if a.startswith("--config.") and name.split(".")[-1] in a), name)
    hint = re.search(r'Did you mean "([^"]+)"', text)
    return (f"unknown config key in {culprit}" + (f" (did you mean {hint.group(1)!r}?)" if hint else "")
            + "; the config file lists the keys it defines.")
  return text.strip().splitlines()[0] if text.strip() else text


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
