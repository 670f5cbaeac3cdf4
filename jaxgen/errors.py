"""User-facing errors (docs/design.md §12): everything a user can get wrong raises :class:`JaxgenError` with one
sentence that names the bad value and what is allowed; the command-line tools print it alone and exit with status 2.
"""
import sys


class JaxgenError(ValueError):
  """A bad input from the user: the message names the bad value and what is allowed."""


def check(condition: bool, message: str) -> None:
  """Raises JaxgenError(message) when `condition` is false."""
  if not condition:
    raise JaxgenError(message)


def supported_options(owner: str, options, allowed, also: str = "", renamed=None) -> dict:
  """`options` without its None values (None = not set); raises JaxgenError naming the first option not in
  `allowed` and listing the supported ones (`also`: a note appended to the list). `renamed` maps an old
  option name to its new one, which the error then suggests ("did you mean")."""
  given = {k: v for k, v in dict(options).items() if v is not None}
  unknown = sorted(set(given) - set(allowed))
  if unknown:
    hint = (renamed or {}).get(unknown[0])
    hint = f" (did you mean {hint!r}?)" if hint else ""
    raise JaxgenError(f"sample option {unknown[0]!r} is not supported by {owner}{hint}; supported: "
                      f"{', '.join(allowed)}{also}.")
  return given


def choice(name: str, value, allowed) -> None:
  """Raises a JaxgenError unless `value` is one of `allowed`."""
  allowed = list(allowed)
  if value not in allowed:
    raise JaxgenError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}.")


class RunFailure(RuntimeError):
  """A run that cannot go on for a reason outside the user's flags (disk full, a failed checkpoint save, out of
  memory). The command-line tools print the message as one `error:` line and exit with `exit_code`."""
  exit_code = 1


def warn(text: str) -> None:
  """One `warning: ...` line on stderr: something went wrong that the run survives."""
  print(f"warning: {' '.join(str(text).split())}", file=sys.stderr, flush=True)


def positive_ints(name: str, value, example: str) -> tuple:
  """'5,10,20' (or a sequence of ints) -> (5, 10, 20) in the given order; JaxgenError naming `name` and
  `example` unless it is a non-empty list of positive integers."""
  try:
    items = [int(v) for v in (value.split(",") if isinstance(value, str) else value)]
  except (TypeError, ValueError):
    items = []
  check(bool(items) and all(v > 0 for v in items),
        f"{name}={value!r} must be a comma-separated list of positive integers, e.g. {example}.")
  return tuple(items)
