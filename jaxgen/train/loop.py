"""The generic training loop, shared by every family through the protocol.

  train(config, workdir) -> final State

- One jitted step function over a 1-D device mesh: batch sharded along 'data', State replicated.
- The key for step s is fold_in(train_key, s) and the batch for step s is a pure function of (seed, s), so a run
  resumed from a checkpoint continues exactly as the uninterrupted run would have. A checkpoint also holds the
  metric sums of a logging interval it cuts in two, so the resumed run logs the same means.
- Before anything in the workdir is written: the config is checked against the recorded one (only run-length
  keys may change, and the changes are recorded), and the workdir is locked against a second trainer.
- Orbax checkpoints every `train.checkpoint_every` steps, at the end, and on SIGTERM/SIGINT (preemption): the
  signal only sets a flag, the loop saves at the end of the current step and returns. A damaged latest
  checkpoint is moved aside to `unreadable_checkpoints/` and the newest readable one is used, with a warning.
- A failed save (disk full) raises CheckpointSaveError: training stops, the earlier checkpoints are intact.
  Log writers never block or stop the run; when they find the disk full, the loop saves a checkpoint at once,
  so a full disk stops the run within one logging interval instead of at the next periodic save.
- NaN/Inf in the metrics or the State stops training with a clear message; the last good checkpoint is kept
  (a checkpoint is written only after its State and the metrics since the previous one are checked finite).
"""
import math
import os
import signal
import tempfile
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from jaxgen import config as config_lib
from jaxgen import data as data_lib
from jaxgen import families
from jaxgen import viz
from jaxgen.errors import JaxgenError, RunFailure
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import multihost
from jaxgen.train import sharding
from jaxgen.train import workdir as workdir_lib
from jaxgen.train.logging import MetricsWriter, Progress, format_duration, to_scalars, warn

CONFIG_FILE = workdir_lib.CONFIG_FILE
INIT_EXAMPLES = 4096  # real examples handed to `init` (e.g. diffusion's normalisation statistics)
INIT_BYTES = 1 << 30  # ... but never more than this much host memory of them
UNREADABLE = "unreadable_checkpoints"


class TrainingDiverged(RunFailure):
  """Raised when a metric or the State becomes NaN/Inf; the last good checkpoint is left in place."""
  exit_code = 3


def rng_streams(seed: int):
  """The run's independent key streams from its one seed: (init, train, sample)."""
  init_key, train_key, sample_key = jax.random.split(jax.random.PRNGKey(seed), 3)
  return init_key, train_key, sample_key


def save_config(config: ml_collections.ConfigDict, workdir) -> None:
  workdir_lib.record_config(config, workdir, {}, 0)


def load_config(workdir) -> ml_collections.ConfigDict:
  recorded = workdir_lib.recorded_config(workdir)
  if recorded is None:
    raise JaxgenError(f"workdir {str(workdir)!r} has no {CONFIG_FILE}; is it a jaxgen training directory?")
  return ml_collections.ConfigDict(recorded)


def init_batch(config, pipeline) -> dict:
  """Up to INIT_EXAMPLES real training examples (whole global batches, at most INIT_BYTES) for `init`."""
  batch_bytes = 4 * config.train.batch_size * math.prod(data_lib.example_shape(config))
  num = max(1, min(INIT_EXAMPLES // config.train.batch_size, INIT_BYTES // batch_bytes,
                   pipeline.steps_per_epoch or 1 << 30))
  batches = [pipeline.batch(s) for s in range(num)]
  local = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
  if jax.process_count() > 1:  # every process must build identical initial State
    from jax.experimental import multihost_utils
    local = {k: np.asarray(multihost_utils.process_allgather(v, tiled=True)) for k, v in local.items()}
  return local


def init_state(config, mesh=None, pipeline=None):
  """Builds the family's initial State, replicated over `mesh`."""
  family = families.get(config.family)
  mesh = mesh or sharding.make_mesh()
  pipeline = pipeline or data_lib.make_pipeline(config, "train")
  init_key, _, _ = rng_streams(config.seed)
  return sharding.init_replicated(family.init, config, init_key, init_batch(config, pipeline), mesh)


def device_memory_bytes(device) -> int | None:
  """Memory one device can hold: the accelerator's limit, or the host's physical memory for CPU devices."""
  try:
    stats = device.memory_stats() or {}
    if stats.get("bytes_limit"):
      return int(stats["bytes_limit"])
  except Exception:
    pass
  try:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  except (ValueError, OSError, AttributeError):
    return None


def tree_bytes(tree) -> int:
  return sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree) if hasattr(x, "shape"))


def check_memory(config, family, mesh) -> None:
  """Refuses a config whose State plus one batch cannot fit in a device's memory, before anything is allocated.

  The State's size comes from `jax.eval_shape` of the family's init (nothing is materialised); a training step
  needs at least the State twice (the donated input and the output) and the device's share of the batch
  twice. A lower bound: activations come on top, so passing this check does not promise the step fits.
  """
  example = data_lib.example_batch(config, 1)
  init_key, _, _ = rng_streams(config.seed)
  try:
    state = jax.eval_shape(lambda k: family.init(config, k, example), init_key)
  except Exception:  # a family whose init needs concrete data: estimate from the batch alone
    state = {}
  devices = mesh.devices.size
  batch = 4 * config.train.batch_size * math.prod(data_lib.example_shape(config))
  need = 2 * tree_bytes(state) + 2 * batch // devices
  have = device_memory_bytes(mesh.devices.flat[0])
  if have and need > have:
    gib = lambda n: f"{n / 2**30:.1f} GiB"
    raise JaxgenError(
        f"data.image_size={config.data.image_size} with train.batch_size={config.train.batch_size} needs at "
        f"least {gib(need)} per device (State {gib(tree_bytes(state))}, batch {gib(batch)} over {devices} "
        f"device(s)) but a device has {gib(have)}; lower data.image_size or train.batch_size.")


def make_train_step(family, mesh):
  """Jits family.train_step once, with the batch sharded along 'data' and everything else replicated."""
  rep, dat = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  return jax.jit(family.train_step, in_shardings=(rep, dat, rep), out_shardings=(rep, rep),
                 donate_argnums=(0,))


def _write_samples(family, config, state, key, path):
  num = config.train.num_sample_images
  samples = np.asarray(family.sample(state, key, num, **config.sample.to_dict()))
  if samples.ndim == 2:
    viz.save_points(samples, path)
  else:
    viz.save_image_grid(samples, path)


class _Preemption:
  """Turns the first SIGTERM/SIGINT into a flag the loop checks between steps (save, then return cleanly);
  a second signal of the same kind gets its default action (ends the process at once)."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.requested = None  # the signal's name once one arrived
    self._previous = {}

  def __enter__(self):
    for sig in self.SIGNALS:
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread: no handler, nothing to restore
        pass
    return self

  def _handle(self, signum, frame):
    if self.requested:  # the second signal: stop waiting for a clean save
      signal.signal(signum, signal.SIG_DFL)
      os.kill(os.getpid(), signum)
      return
    self.requested = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, previous in self._previous.items():
      signal.signal(sig, previous)


def _restore_newest_readable(mngr, state, workdir, bar):
  """(state, step, progress) from the newest checkpoint that can be read; unreadable newer ones are moved to
  <workdir>/unreadable_checkpoints/ with a warning. (state, 0, {}) when there is none."""
  while mngr.latest_step() is not None:
    step = mngr.latest_step()
    try:
      return ckpt.restore(mngr, state, step, with_progress=True)
    except ckpt.CheckpointReadError as e:
      aside = workdir_lib.path(workdir) / UNREADABLE / f"{step}-{int(time.time())}"
      if jax.process_index() == 0:
        aside.parent.mkdir(parents=True, exist_ok=True)
        (epath.Path(mngr.directory) / str(step)).rename(aside)
      _sync("moved unreadable checkpoint")
      warn(f"{e}; moved it to {aside} and falling back to the previous checkpoint.")
      mngr.reload()
  return state, 0, {}


def _sync(name: str) -> None:
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)


def _interval_progress(acc, acc_n, pending) -> dict:
  """What a checkpoint keeps besides the State: the partial logging interval it cuts (exact float sums as JSON
  and their count) and the metrics.jsonl lines not yet on disk."""
  out = {"log_count": acc_n, "pending_metrics": pending}
  if acc_n:
    out.update(log_sums=to_scalars(acc), log_dtypes={k: str(np.asarray(v).dtype) for k, v in acc.items()})
  return out


def _resume_interval(progress: dict, mesh):
  n = int(progress.get("log_count", 0) or 0)
  if not n:
    return None, 0
  dtypes = progress.get("log_dtypes", {})
  acc = {k: np.asarray(v, dtypes.get(k, "float32")) for k, v in progress["log_sums"].items()}
  return sharding.replicate(acc, mesh), n


def train(config: ml_collections.ConfigDict, workdir: str, *, progress: bool = True):
  """Trains `config` in `workdir`, resuming from its newest readable checkpoint; returns the final State."""
  t_begin = time.time()
  config_lib.validate(config)
  family = families.get(config.family)
  lead = jax.process_index() == 0
  total = config.train.num_steps
  bar = Progress(0, total, enabled=progress and lead)
  bar.message(f"training {config.family} on {config.data.name} to step {total} in {workdir} "
              "(loading data, building the model) ...")
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.train.batch_size, mesh)
  # Every process checks, and all stop together if one fails (a process left behind would wait forever).
  changes = multihost.agree(lambda: _check_before_writing(config, family, mesh, workdir), "use the workdir")
  lock = workdir_lib.WorkdirLock(workdir)
  multihost.agree(lambda: _acquire(lock, workdir) if lead else None, "lock the workdir")
  multihost.on_lost(lock.release)  # a process that is gone ends this one at once: free the workdir first
  try:
    multihost.check_shared_workdir(workdir_lib.path(workdir))
    return _train_locked(config, workdir, family, mesh, changes, bar, t_begin)
  finally:
    multihost.forget_lost(lock.release)  # a later lost_peer must not release a lock this run no longer holds
    lock.release()


def _check_before_writing(config, family, mesh, workdir) -> dict:
  """The checks that read the workdir but write nothing; returns the allowed config changes."""
  workdir_lib.check_usable(workdir)
  changes = workdir_lib.check_config(config, workdir)
  check_memory(config, family, mesh)
  return changes


def _acquire(lock, workdir) -> None:
  try:
    lock.acquire()
  except OSError as e:
    raise JaxgenError(f"cannot write to --workdir={str(workdir)!r}: {e.strerror or e}.") from None


def _train_locked(config, workdir, family, mesh, changes, bar, t_begin):
  lead = jax.process_index() == 0
  total = config.train.num_steps
  pipeline = data_lib.make_pipeline(config, "train")
  state = init_state(config, mesh, pipeline)
  mngr = ckpt.manager(workdir_lib.path(workdir) / workdir_lib.CHECKPOINTS, keep=config.train.keep_checkpoints)
  state, start, resumed = _restore_newest_readable(mngr, state, workdir, bar)
  multihost.note_checkpoint(mngr.latest_step(), workdir)
  if start and start >= total:
    bar.message(f"nothing to train: the checkpoint in {workdir} is at step {start}, at or past "
                f"train.num_steps={total}; raise --config.train.num_steps to train further.")
    pipeline.close()
    bar.close()
    return state
  if lead:
    workdir_lib.record_config(config, workdir, changes, start)
  if changes:
    bar.message("config changes recorded in config_history.jsonl: " +
                ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changes.items()))
  writer = MetricsWriter(workdir, tensorboard=lead)
  if lead:
    writer.truncate_after(start)
    writer.restore_pending(resumed.get("pending_metrics", []))

  _, train_key, sample_key = rng_streams(config.seed)
  train_step = make_train_step(family, mesh)
  eval_step = jax.jit(family.eval_step) if hasattr(family, "eval_step") else None
  data_sharding = sharding.batch_sharded(mesh)
  loss_keys = getattr(family, "LOSS_KEYS", None)
  bar.resume_at(start)
  bar.message((f"resumed from checkpoint step {start}; " if start else "") +
              "compiling the train step (the first step takes longest) ...")

  last_good = mngr.latest_step()
  acc, acc_n = _resume_interval(resumed, mesh)
  t0, t_step = time.time(), start
  saved, samples_written = [], []

  def check_finite(step, metrics_sum):
    if not all(np.isfinite(v) for v in metrics_sum.values()) or not ckpt.all_finite(state):
      kept = f"the last good checkpoint (step {last_good}) is kept" if last_good is not None else "no checkpoint was written"
      bad = [k for k, v in metrics_sum.items() if not np.isfinite(v)]
      raise TrainingDiverged(f"NaN/Inf {'in ' + ', '.join(bad) if bad else 'in the State'} at or before step {step}; "
                             f"training stopped and {kept} in {workdir}. Lower the learning rate or check the data.")

  def save(step, wait=False):
    nonlocal last_good
    check_finite(step, {k: v / acc_n for k, v in to_scalars(acc).items()} if acc is not None else {})
    if saved:
      ckpt.wait(mngr, saved[-1])  # a failure of the previous (asynchronous) save is reported with its step
      multihost.note_checkpoint(saved[-1], workdir)
    ckpt.save(mngr, step, state, _interval_progress(acc, acc_n, writer.pending()))
    multihost.note_checkpoint(step, workdir, complete=False)
    if wait:
      ckpt.wait(mngr, step)
      multihost.note_checkpoint(step, workdir)
    last_good = step
    saved.append(step)

  done = start
  failed = True
  with _Preemption() as preempt:
    try:
      bar.begin()
      for step in range(start, total):
        batch = pipeline.global_batch(step, data_sharding)
        state, metrics = train_step(state, batch, jax.random.fold_in(train_key, step))
        acc = metrics if acc is None else jax.tree.map(jnp.add, acc, metrics)
        acc_n += 1
        done = step + 1
        ckpt.check(mngr, saved[-1] if saved else None)  # an asynchronous save that failed stops the run now
        # A signal that reached any one process stops all of them after this same step.
        stop = multihost.any_process(preempt.requested is not None)
        saved_now = False
        if done % config.train.log_every == 0 or done == total:
          means = {k: v / acc_n for k, v in to_scalars(acc).items()}
          check_finite(done, means)
          rate = (done - t_step) / max(time.time() - t0, 1e-9)
          wrote = writer.write(done, {**means, "steps_per_sec": rate}) if lead else True
          if multihost.any_process(not wrote and writer.disk_full):
            acc, acc_n = None, 0
            save(done, wait=True)  # the disk is full: keep what is trained, or stop with a clear error now
            saved_now = True
          bar.update(done, means, rate, loss_keys)
          acc, acc_n, t0, t_step = None, 0, time.time(), done
        if eval_step is not None and config.train.eval_every and done % config.train.eval_every == 0:
          _evaluate(config, family, eval_step, state, writer, done, train_key, data_sharding)
        t_io = time.time()  # checkpoint and sample time is not training time: keep it out of steps/s
        save_now = (config.train.checkpoint_every and done % config.train.checkpoint_every == 0) or done == total
        if (save_now or stop) and not saved_now:
          save(done, wait=stop)
        if config.train.sample_every and (done % config.train.sample_every == 0 or done == total):
          path = os.path.join(str(workdir_lib.path(workdir)), "samples", f"step_{done:06d}.png")
          if _samples(family, config, state, sample_key, path, done, lead):
            samples_written.append(path)
        t0 += time.time() - t_io
        if stop:
          bar.message(f"{preempt.requested or 'a signal to another process'}: saved checkpoint step {done} in "
                      f"{workdir}; exiting. Run the same command to resume.")
          break
      failed = False
    except Exception as e:
      multihost.exit_if_peer_failure(e)  # another process is gone: one line now, before the cleanup below
      raise                              # would wait in Orbax's barriers for it
    finally:
      pipeline.close()
      if failed:
        _close_quietly(mngr)  # a save in flight finishes (complete or absent, never half-written); the error
      else:                   # that stopped the run is the one reported
        ckpt.wait(mngr, saved[-1] if saved else None)
        mngr.close()
      writer.close()
      bar.close()
  if lead:
    bar.message(_summary(workdir, start, done, total, t_begin, saved, writer, samples_written))
  return state


def _close_quietly(mngr) -> None:
  """Lets a save in flight finish and closes the manager after a failure; under the command-line tools, what
  Orbax's threads print about the same failure is silenced (the error that stopped the run is reported once)."""
  from jaxgen import cli
  cli.quiet_library_threads()
  try:
    mngr.wait_until_finished()
  except Exception:
    pass
  try:
    mngr.close()
  except Exception:
    pass


def _samples(family, config, state, key, path, step, lead) -> bool:
  """Writes the sample grid (and family figures) of `step`. Every process computes them (JAX runs the same
  computations on all processes); they are drawn into a local scratch folder and process 0 copies them to the
  workdir (local or gs://): pictures replace, `.jsonl` logs (e.g. the EBM's buffer_classes.jsonl, one line per
  grid) are appended to what the workdir holds. A write error is a warning, not the end of the run."""
  with tempfile.TemporaryDirectory(prefix="jaxgen_samples_") as scratch:
    _write_samples(family, config, state, key, os.path.join(scratch, os.path.basename(path)))
    if hasattr(family, "save_figures"):
      family.save_figures(state, config, scratch, step)
    if not lead:
      return False
    try:
      target = epath.Path(path).parent
      target.mkdir(parents=True, exist_ok=True)
      for name in sorted(os.listdir(scratch)):
        source, dest = epath.Path(os.path.join(scratch, name)), target / name
        if name.endswith(".jsonl") and dest.exists():
          dest.write_text(dest.read_text() + source.read_text())
        else:
          source.copy(dest, overwrite=True)
      return True
    except OSError as e:
      warn(f"could not write the samples of step {step} ({e.strerror or e}); training continues.")
      return False


def _summary(workdir, start, done, total, t_begin, saved, writer, samples) -> str:
  """The closing line: where the run stopped, how long it took, and what it wrote."""
  parts = []
  if saved:
    parts.append(f"checkpoints/ (step{'s' if len(saved) > 1 else ''} {', '.join(map(str, saved))})")
  parts += [os.path.basename(f) for f in writer.files if os.path.exists(f) or "://" in f]
  if samples:
    parts.append(f"samples/ ({len(samples)} grid{'s' if len(samples) > 1 else ''}, last "
                 f"{os.path.basename(samples[-1])})")
  return (f"{'done' if done >= total else 'stopped'}: step {done}/{total} ({done - start} steps in "
          f"{format_duration(time.time() - t_begin)}); wrote in {workdir}: {', '.join(parts) or 'nothing'}")


def _evaluate(config, family, eval_step, state, writer, step, train_key, data_sharding):
  """Averages eval_step's metrics over the test split (up to 20 batches) and logs them as eval_*."""
  try:
    test = data_lib.make_pipeline(config, "test")
  except JaxgenError:
    return
  num = min(20, test.steps_per_epoch) if test.steps_per_epoch is not None else 20
  if num == 0:
    return
  key = jax.random.fold_in(jax.random.fold_in(train_key, step), 1 << 30)
  sums = None
  for i in range(num):
    metrics = eval_step(state, test.global_batch(i, data_sharding), jax.random.fold_in(key, i))
    sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
  if sums is not None and jax.process_index() == 0:
    writer.write(step, {k: v / num for k, v in to_scalars(sums).items()}, prefix="eval_")
