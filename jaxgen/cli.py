"""Command-line plumbing shared by train.py, sample.py and `python -m jaxgen.evaluate`.

Every failure ends the program with one `error: ...` line on stderr — never a traceback — and an exit status:
  0  done (for train.py also: stopped by SIGTERM/SIGINT after saving a checkpoint; run it again to resume)
  1  the run cannot go on: disk full, a failed checkpoint save, an unwritable file, out of memory
  2  a user mistake: bad flags, unknown config keys, bad values, missing or incompatible work directories
  3  train.py: training diverged (NaN/Inf); the last good checkpoint is kept
`--help` prints the usage and exits 0.
"""
import importlib.util
import logging
import os
import sys

from absl import app, flags
from absl import logging as absl_logging

from jaxgen import compile_cache
from jaxgen import config as config_lib
from jaxgen.errors import JaxgenError, RunFailure

USAGE_ERROR = 2
RUN_FAILURE = 1
DEFAULT_PEER_TIMEOUT = 60.0  # seconds; see define_distributed_flags
HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--helpxml")


_stderr_fd = None  # run() keeps a duplicate of the terminal's stderr here for the one error line


def quiet_library_threads() -> None:
  """After a run has failed, sends file descriptor 2 to /dev/null for the rest of the process, so tracebacks that
  library threads print about the same failure (Orbax's closed asyncio loop) never reach the terminal; `fail`
  still prints its line through the duplicate kept by `run`. Does nothing outside the command-line tools."""
  if _stderr_fd is not None:
    sys.stderr.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)


def _drop_closed_loop_noise(previous):
  """A sys.unraisablehook that drops RuntimeError('Event loop is closed'): when Orbax fails to read a damaged
  checkpoint it closes its asyncio loop while TensorStore reads are in flight, and each then reports it."""

  def hook(unraisable):
    exc = unraisable.exc_value
    if isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed":
      return
    previous(unraisable)
  return hook


def fail(message: str, status: int = USAGE_ERROR, hard: bool = False) -> None:
  """Prints `message` as one line and exits with `status` (default 2: a user mistake).

  hard=True (a run that failed mid-way, e.g. a full disk): exit without interpreter teardown, so library threads
  left behind by the failed I/O (Orbax's asyncio loop) cannot print tracebacks after the one line. Everything the
  run keeps is already on disk: checkpoints are written atomically and the logs synchronously.
  """
  line = f"error: {' '.join(str(message).split())}\n"
  if _stderr_fd is not None:
    sys.stderr.flush()
    os.write(_stderr_fd, line.encode())
  else:
    print(line, end="", file=sys.stderr, flush=True)
  if hard:
    sys.stdout.flush()
    os._exit(status)
  sys.exit(status)


def describe_os_error(e: OSError) -> str:
  """'cannot write /x/y: No space left on device' from an OSError."""
  name = getattr(e, "filename", None)
  return f"{e.strerror or e}" + (f": {name}" if name else "")


def check_writable(path: str, flag: str) -> None:
  """Raises JaxgenError unless a file can be written at `path` (creating its folder); checked before the work
  that produces the file, so a long sampling or evaluation never ends in a failed write."""
  existed = os.path.exists(path)
  try:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "ab"):
      pass
    if not existed:
      os.remove(path)
  except OSError as e:
    raise JaxgenError(f"{flag}={path!r}: cannot write there ({e.strerror or e}); choose a writable path.") from None


def _is_out_of_memory(e: BaseException) -> bool:
  return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in str(e)[:2000]


def _load_config_file(path: str):
  """get_config() of a config file (as ml_collections' config_flags loads it; `path:arg` passes arg)."""
  path, _, arg = path.partition(":")
  spec = importlib.util.spec_from_file_location("jaxgen_user_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()


def _check_config_args(argv) -> None:
  """Validates `--config=PATH` and every `--config.KEY=VALUE` against the config file itself (its keys and value
  types are the schema) before absl parses them, so mistakes end in one line whatever the library versions."""
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
  except SystemExit:  # absl ends --help with status 1; asking for help is not an error
    if any(a.split("=", 1)[0] in HELP_FLAGS for a in argv[1:]):
      sys.exit(0)
    raise
  except flags.Error as e:
    fail(_first_line(str(e)))
  except Exception as e:  # anything the checks above did not foresee: still one line
    fail(_first_line(f"{type(e).__name__}: {e}"))


def _first_line(text: str) -> str:
  lines = [line for line in text.strip().splitlines() if line.strip()]
  return lines[0] if lines else text


def run(main) -> None:
  """`absl.app.run(main)` with every failure turned into one `error:` line and the exit statuses above."""

  def wrapped(argv):
    global _stderr_fd
    _stderr_fd = os.dup(2)
    if not flags.FLAGS["verbosity"].present:  # library logs (Orbax's, with tracebacks of errors jaxgen reports
      absl_logging.set_verbosity(absl_logging.FATAL)  # as one line) stay out of the terminal unless --verbosity
      for name in ("", "concurrent.futures", "asyncio"):  # Orbax's worker threads report through these
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    compile_cache.enable()                    # JAXGEN_COMPILATION_CACHE=off|DIR (default ~/.cache/jaxgen/xla)
    sys.unraisablehook = _drop_closed_loop_noise(sys.unraisablehook)
    try:
      main(argv)
    except JaxgenError as e:
      fail(str(e))
    except RunFailure as e:
      fail(str(e), getattr(e, "exit_code", RUN_FAILURE), hard=True)
    except OSError as e:
      fail(describe_os_error(e), RUN_FAILURE, hard=True)
    except Exception as e:
      if type(e).__name__ in ("JaxRuntimeError", "XlaRuntimeError"):
        from jaxgen.runtime import peers  # local import: flag and config mistakes are answered before JAX loads
        peers.exit_if_peer_failure(e)  # another process is gone: one line, exit 1
      if _is_out_of_memory(e):
        fail(f"out of memory ({type(e).__name__}); lower train.batch_size or data.image_size "
             "(sample.py/evaluate: --num).", RUN_FAILURE)
      raise

  app.run(wrapped, flags_parser=_parse_flags)


def _lost_peer(message: str) -> None:
  """Ends the process after another process of the run is gone (runtime.peers): one line, exit 1, at once."""
  quiet_library_threads()  # JAX's and gloo's own logs about the same loss stay out of the terminal
  fail(message, RUN_FAILURE, hard=True)


def define_distributed_flags() -> None:
  """--jax_distributed, --coordinator_address, --num_processes, --process_id, --peer_timeout: the flags of
  train.py, sample.py and `python -m jaxgen.evaluate` for running on every host of a multi-host job."""
  flags.DEFINE_bool("jax_distributed", False, "Start a multi-process run with jax.distributed.initialize(); on "
                    "Cloud TPU VMs and Slurm the coordinator, process count and id are detected.")
  flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0, the same on every process (default: "
                      "$JAX_COORDINATOR_ADDRESS). Implies --jax_distributed.")
  flags.DEFINE_integer("num_processes", None, "Number of processes (default: $JAX_NUM_PROCESSES).")
  flags.DEFINE_integer("process_id", None, "This process's index in [0, num_processes) (default: $JAX_PROCESS_ID).")
  flags.DEFINE_float("peer_timeout", None, "Seconds without a sign of life from another process (or the "
                     "coordinator) after which every survivor stops with one error line, exit 1 (default: "
                     f"$JAXGEN_PEER_TIMEOUT or {DEFAULT_PEER_TIMEOUT:g}).")


def is_lead_process() -> bool:
  """Whether this process prints (process 0, or the only one), decided from the flags and environment before
  jax.distributed starts."""
  f = flags.FLAGS
  pid = f.process_id if f.process_id is not None else os.environ.get("JAX_PROCESS_ID", "0")
  return str(pid).strip() in ("", "0")


def _env_int(name: str):
  value = os.environ.get(name)
  if value is None or value == "":
    return None
  try:
    return int(value)
  except ValueError:
    fail(f"${name}={value!r} must be an integer.")


def init_distributed() -> None:
  """Calls jax.distributed.initialize when the flags (or $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES,
  $JAX_PROCESS_ID) ask for a multi-process run; any failure is one `error:` line (exit 2) saying what to pass."""
  f = flags.FLAGS
  address = f.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS") or None
  num = f.num_processes if f.num_processes is not None else _env_int("JAX_NUM_PROCESSES")
  pid = f.process_id if f.process_id is not None else _env_int("JAX_PROCESS_ID")
  if not (f.jax_distributed or address or num is not None or pid is not None):
    return
  how = ("pass --coordinator_address=HOST:PORT (process 0's address, the same everywhere), --num_processes=N "
         "and --process_id=I (0..N-1) to every process, or set $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES and "
         "$JAX_PROCESS_ID; on Cloud TPU VMs and Slurm --jax_distributed alone detects them")
  if num is not None and num < 1:
    fail(f"--num_processes={num} must be >= 1.")
  if pid is not None and num is not None and not 0 <= pid < num:
    fail(f"--process_id={pid} must be in [0, {num}) for --num_processes={num}.")
  timeout = f.peer_timeout
  if timeout is None:
    raw = os.environ.get("JAXGEN_PEER_TIMEOUT") or str(DEFAULT_PEER_TIMEOUT)
    try:
      timeout = float(raw)
    except ValueError:
      fail(f"$JAXGEN_PEER_TIMEOUT={raw!r} must be a number of seconds.")
  if not timeout > 0:
    fail(f"--peer_timeout={timeout:g} must be a positive number of seconds.")
  import jax
  from jaxgen.runtime import peers  # local import: flag and config mistakes are answered before JAX loads
  peers.set_exit_handler(_lost_peer)
  # CPU devices of different processes talk through gloo (accelerators use their own collectives).
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  try:
    # JAX's own heartbeat check aborts with a C++ dump; it must come after the peer monitor's one line.
    jax.distributed.initialize(coordinator_address=address, num_processes=num, process_id=pid,
                               heartbeat_timeout_seconds=int(max(100, 2 * timeout)))
  except Exception as e:  # ValueError for missing settings; RuntimeError/XlaRuntimeError for connection failures
    text = " ".join(str(e).split())[:300]
    fail(f"cannot start the multi-process run ({type(e).__name__}: {text}); {how}.")
  peers.start_peer_monitor(timeout, address)
