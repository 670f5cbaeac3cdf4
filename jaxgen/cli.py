"""Command-line plumbing shared by train.py, sample.py and `python -m jaxgen.evaluate`.

User mistakes (bad flags, unknown config keys, bad values, missing work directories) end the program with one
clear line on stderr and exit status 2 — never a traceback.
"""
import sys

from absl import app, flags

USAGE_ERROR = 2


def fail(message: str) -> None:
  """Prints `message` as one line and exits with status 2."""
  print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
  sys.exit(USAGE_ERROR)


def _parse_flags(argv):
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(_explain_flag_error(str(e)))
  except Exception as e:  # config files that fail to load raise many types
    fail(_explain_flag_error(f"{type(e).__name__}: {e}"))


def _explain_flag_error(text: str) -> str:
  first = text.strip().splitlines()[0] if text.strip() else text
  if "Could not find key" in text or "has no attribute" in text or "KeyError" in text:
    return f"{first} (unknown config key: see the config file for the keys it defines)"
  return first


def run(main) -> None:
  """`absl.app.run(main)` with flag and config errors turned into one line and exit status 2."""
  from jaxgen.errors import JaxgenError

  def wrapped(argv):
    try:
      main(argv)
    except JaxgenError as e:
      fail(str(e))

  app.run(wrapped, flags_parser=_parse_flags)
