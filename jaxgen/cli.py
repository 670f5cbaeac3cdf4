"""Command-line plumbing shared by train.py, sample.py and `python -m jaxgen.evaluate`.

Every failure ends the program with one `error: ...` line on stderr — never a traceback — and an exit status:
  0  done (for train.py also: stopped by SIGTERM/SIGINT after saving a checkpoint; run it again to resume)
  1  the run cannot go on: disk full, a failed checkpoint save, an unwritable file, out of memory
  2  a user mistake: bad flags, unknown config keys, bad values, missing or incompatible work directories
  3  train.py: training diverged (NaN/Inf); the last good checkpoint is kept
`--help` prints the usage and exits 0.

What can be checked from the flags, the config and the workdir's files (unknown keys, a config that does not match
the workdir's, a workdir another trainer holds, a sample option the run's family does not take, an existing
evaluate.json) is checked before JAX loads, so each mistake is answered in about a second, not after the imports
and the checkpoint restore.
"""
import importlib.util
import logging
import os
import sys
import textwrap

from absl import app, flags
from absl import logging as absl_logging

from jaxgen import compile_cache
from jaxgen import config as config_lib
from jaxgen.errors import JaxgenError, RunFailure
from jaxgen.runtime.lock import WorkdirLock
from jaxgen.train import workdir as workdir_lib

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
      _exit_after_help()
    raise
  except BrokenPipeError:  # `--help | head`: the reader stopped reading, which is not an error either
    _exit_after_help()
  except flags.Error as e:
    fail(_first_line(str(e)))
  except Exception as e:  # anything the checks above did not foresee: still one line
    fail(_first_line(f"{type(e).__name__}: {e}"))


def _exit_after_help() -> None:
  """Exit 0 after --help, also when its reader has closed the pipe (stdout then points at /dev/null, so the
  interpreter's final flush cannot fail)."""
  try:
    sys.stdout.flush()
  except BrokenPipeError:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
  sys.exit(0)


def _first_line(text: str) -> str:
  lines = [line for line in text.strip().splitlines() if line.strip()]
  return lines[0] if lines else text


def start(command: str, define_flags, early_checks=None) -> None:
  """The first step of a tool whose module imports JAX, called before those imports: names the tool `command` in
  its help, defines its flags, answers --help (the __main__ docstring and the flags), and in a one-process run
  parses the flags and calls `early_checks(argv)` (argv: the arguments left after the flags, as `main` gets them),
  which raises JaxgenError for what the flags, config.json and the files show. Each of these answers in about a second instead of after the imports; `run(main)` follows."""
  sys.argv[0] = command            # absl lists __main__'s flags under sys.argv[0]: the command, not a file path
  define_flags()
  if any(a.split("=", 1)[0] in HELP_FLAGS for a in sys.argv[1:]):
    run(lambda argv: None)         # absl prints the help while parsing the flags and exits
  if early_checks is not None:
    argv = _parse_flags(sys.argv)  # `run` parses them again, to the same values
    if not is_distributed():       # several processes agree on these checks after they start (collectives)
      try:
        early_checks(argv)
      except JaxgenError as e:
        fail(str(e))


def config_catalog(directory: str, width: int = 100) -> str:
  """The config files in `directory` (their names without .py), wrapped into indented lines, for train.py's help."""
  names = sorted(f[:-3] for f in os.listdir(directory) if f.endswith(".py") and not f.startswith("_"))
  return textwrap.fill(" ".join(names), width=width, initial_indent="  ", subsequent_indent="  ")


def describe_config(config, path: str) -> str:
  """Every key of `config` with its value, one `KEY = value` line each (the KEY of `--config.KEY=VALUE`), under a
  heading naming the file and where the family's keys are explained."""
  family = config.get("family", "?")
  lines = [f"{path}: family {family}; set any key with --config.KEY=VALUE; jaxgen/configs/{family}.py explains "
           "each key (a config file sets only what differs from it)."]
  width = max(len(k) for k in config_lib.flat_keys(config))
  lines += [f"  {key:<{width}} = {value!r}" for key, value in config_lib.flat_keys(config).items()]
  return "\n".join(lines)


def check_training_workdir(config, workdir: str) -> None:
  """train.py's checks that need only the config and the workdir's files, made before JAX loads: a usable
  directory, a config the recorded run allows (workdir.check_config) and no live trainer holding its lock. The
  training session makes them again; here they answer in a second instead of after the imports."""
  workdir_lib.check_usable(workdir)
  workdir_lib.check_config(config, workdir)
  WorkdirLock(workdir).check_free()


def recorded_family(workdir: str) -> str:
  """config.family of the run in `workdir`, read from its config.json without JAX: sample.py's and evaluate's first
  look at a run. JaxgenError when the workdir does not exist, is a file or has no config.json."""
  p = workdir_lib.path(workdir)
  if not p.exists():
    raise JaxgenError(f"--workdir={workdir!r} does not exist; pass the directory a train.py run wrote.")
  if not p.is_dir():
    raise JaxgenError(f"--workdir={workdir!r} is a file, not a directory; pass the directory a train.py run wrote.")
  return workdir_lib.read_config(workdir).get("family", "")


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
  train.py, sample.py and `python -m jaxgen.evaluate` for running on every host of a multi-host job, listed in
  the tool's own --help."""
  tool = {"module_name": sys.argv[0]}   # absl's --help lists the flags filed under sys.argv[0]
  flags.DEFINE_bool("jax_distributed", False, "Start a multi-process run with jax.distributed.initialize(); on "
                    "Cloud TPU VMs and Slurm the coordinator, process count and id are detected.", **tool)
  flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0, the same on every process (default: "
                      "$JAX_COORDINATOR_ADDRESS). Implies --jax_distributed.", **tool)
  flags.DEFINE_integer("num_processes", None, "Number of processes (default: $JAX_NUM_PROCESSES).", **tool)
  flags.DEFINE_integer("process_id", None, "This process's index in [0, num_processes) (default: $JAX_PROCESS_ID).",
                       **tool)
  flags.DEFINE_float("peer_timeout", None, "Seconds without a sign of life from another process (or the "
                     "coordinator) after which every survivor stops with one error line, exit 1 (default: "
                     f"$JAXGEN_PEER_TIMEOUT or {DEFAULT_PEER_TIMEOUT:g}).", **tool)


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


def _distributed_settings():
  """(coordinator address, process count, process id) from the flags or the environment; each may be None."""
  f = flags.FLAGS
  address = f.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS") or None
  num = f.num_processes if f.num_processes is not None else _env_int("JAX_NUM_PROCESSES")
  pid = f.process_id if f.process_id is not None else _env_int("JAX_PROCESS_ID")
  return address, num, pid


def is_distributed() -> bool:
  """Whether the flags or the environment ask for a multi-process run (`init_distributed` starts it). The checks
  made before JAX loads run only in a one-process run: in a multi-process one, the processes agree on them."""
  return flags.FLAGS.jax_distributed or any(v is not None for v in _distributed_settings())


def init_distributed() -> None:
  """Calls jax.distributed.initialize when the flags (or $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES,
  $JAX_PROCESS_ID) ask for a multi-process run; any failure is one `error:` line (exit 2) saying what to pass."""
  f = flags.FLAGS
  if not is_distributed():
    return
  address, num, pid = _distributed_settings()
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
