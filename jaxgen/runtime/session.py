"""One training session (`jaxgen.runtime.train`): the checks that need JAX, the lock, signals, writers and the loop.
"""
import jax

from jaxgen import families
from jaxgen.errors import JaxgenError
from jaxgen.runtime import peers, writers
from jaxgen.runtime.lock import WorkdirLock
from jaxgen.runtime.signals import Preemption
from jaxgen.train import collectives, loop, setup, sharding
from jaxgen.train import workdir as workdir_lib


def train(config, workdir, *, progress: bool = True, on_failure=None):
  """`jaxgen.runtime.train` (its docstring says what it does)."""
  family = families.check_config(config)
  lead = jax.process_index() == 0
  bar = writers.Progress(0, config.train.num_steps, enabled=progress and lead)
  bar.message(f"training {config.family} on {config.data.name} to step {config.train.num_steps} in {workdir} "
              "(loading data, building the model) ...")
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.train.batch_size, mesh)
  changes = collectives.agree(lambda: _check_before_writing(config, family, mesh, workdir), "use the workdir")
  lock = WorkdirLock(workdir)
  collectives.agree(lambda: _acquire(lock, workdir) if lead else None, "lock the workdir")
  peers.on_lost(lock.release)  # a process that is gone ends this one at once: free the workdir first
  writer = writers.MetricsWriter(workdir) if lead else loop.Quiet()

  def failed(error):
    peers.exit_if_peer_failure(error)  # another process is gone: one line now, before the cleanup waits for it
    if on_failure is not None:
      on_failure()

  try:
    peers.check_shared_workdir(workdir_lib.path(workdir))
    with Preemption() as preemption:
      hooks = loop.Hooks(writer=writer, progress=bar, stop_requested=lambda: preemption.requested,
                         on_checkpoint=lambda step, complete: peers.note_checkpoint(step, workdir, complete),
                         on_failure=failed)
      return loop.train(config, workdir, family, hooks, changes)
  finally:
    writer.close()
    bar.close()
    peers.forget_lost(lock.release)  # a later lost_peer must not release a lock this run no longer holds
    lock.release()


def _check_before_writing(config, family, mesh, workdir) -> dict:
  """The checks that read the workdir but write nothing; returns the allowed config changes."""
  workdir_lib.check_usable(workdir)
  changes = workdir_lib.check_config(config, workdir)
  setup.check_memory(config, family, mesh)
  return changes


def _acquire(lock, workdir) -> None:
  try:
    lock.acquire()
  except OSError as e:
    raise JaxgenError(f"cannot write to --workdir={str(workdir)!r}: {e.strerror or e}.") from None
