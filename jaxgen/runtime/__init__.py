"""Operations around training, wired into the loop's Hooks (docs/design.md §6): the checks made before anything is
written, the workdir lock (lock.py), SIGTERM/SIGINT (signals.py), peer liveness (peers.py), log files that survive
a full disk and the terminal (writers.py); session.py runs one training with them. Failures are exceptions
(JaxgenError: a user mistake; RunFailure: the run cannot go on); the command-line tools turn them into one `error:`
line and an exit status (jaxgen.cli).

Importing this package loads no JAX: train.py checks the workdir's lock (lock.py) before JAX loads.
"""


def train(config, workdir, *, progress: bool = True, on_failure=None):
  """Trains `config` in `workdir` (resuming from its newest readable checkpoint) and returns the final State.

  progress: print progress lines (a bar on a terminal) on process 0. on_failure(): called when training fails,
  before its cleanup (the command-line tools silence library threads there).
  """
  from jaxgen.runtime import session  # local import: a busy workdir is refused before JAX loads (package docstring)
  return session.train(config, workdir, progress=progress, on_failure=on_failure)
