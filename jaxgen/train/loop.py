"""The training loop (docs/design.md §6): one jitted step, then the periodic actions, until train.num_steps.

  state = train(config, workdir, family, hooks)

The key of step s is fold_in(train_key, s) and its batch a pure function of (seed, s), so a run resumed from its
newest checkpoint continues exactly as the uninterrupted run would have (a checkpoint also keeps the metric sums
of the logging interval it cuts in two). A checkpoint is written only after the State and the metrics since the
previous one are checked finite, so NaN/Inf stops training (TrainingDiverged) with the last good checkpoint kept.

Operations reach the loop only through `Hooks`; `jaxgen.runtime.train` wires them for train.py, the defaults run
a quiet loop.
"""
import dataclasses
import time
from typing import Any, Callable

import jax

from jaxgen import data as data_lib
from jaxgen.train import actions, collectives, setup, sharding
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import workdir as workdir_lib


class Quiet:
  """A writer and progress display that discards everything (the default Hooks)."""
  disk_full, files = False, ()

  def write(self, step, scalars, prefix="") -> bool:
    return True

  def pending(self) -> list:
    return []

  def __getattr__(self, name):  # message, begin, update, resume, close, add_image: nothing to do
    return lambda *args, **kwargs: None


@dataclasses.dataclass
class Hooks:
  """What the loop asks of its surroundings.

  writer:   .write(step, scalars, prefix="") -> bool (False: not on disk yet), .disk_full, .pending() (lines not
            yet on disk), .resume(step, pending) (drops records after `step`), .files,
            .add_image(step, tag, png_path) (a sample grid for TensorBoard)
  progress: .message(text), .begin(step), .update(step, means, steps_per_sec, keys)
  (whoever makes the writer and the progress display closes them)
  stop_requested() -> the name of a stop request on this process (e.g. "SIGTERM") or None
  on_checkpoint(step, complete): a checkpoint exists (complete) or is being written
  on_failure(error): called with the exception that stops the loop, before the loop cleans up
  """
  writer: Any = dataclasses.field(default_factory=Quiet)
  progress: Any = dataclasses.field(default_factory=Quiet)
  stop_requested: Callable[[], str | None] = lambda: None
  on_checkpoint: Callable[[int | None, bool], None] = lambda step, complete: None
  on_failure: Callable[[BaseException], None] = lambda error: None


def train(config, workdir, family, hooks: Hooks | None = None, changes: dict | None = None):
  """Trains a validated `config` in `workdir` from its newest readable checkpoint to train.num_steps and returns
  the State. `changes`: the allowed config changes since the recorded run (workdir.check_config)."""
  hooks, t_begin, total = hooks or Hooks(), time.time(), config.train.num_steps
  mesh = sharding.make_mesh()
  pipeline = data_lib.make_pipeline(config, "train")
  ckpts = ckpt.Checkpointer(workdir_lib.path(workdir) / workdir_lib.CHECKPOINTS, config.train.keep_checkpoints,
                            hooks.on_checkpoint)
  failed = True
  try:
    state, start, resumed = ckpts.restore_newest(setup.init_state(config, family, mesh, pipeline))
    if start >= total:
      hooks.progress.message(f"nothing to train: the checkpoint in {workdir} is at step {start}, at or past "
                             f"train.num_steps={total}; raise --config.train.num_steps to train further.")
      failed = False
      return state
    if jax.process_index() == 0:
      workdir_lib.record_config(config, workdir, changes or {}, start)
    if changes:
      hooks.progress.message("config changes recorded in config_history.jsonl: " +
                             ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changes.items()))
    hooks.writer.resume(start, resumed.get("pending_metrics", []))
    state, done, samples = _steps(config, workdir, family, state, start, mesh, pipeline, ckpts, hooks, resumed)
    failed = False
  except BaseException as e:
    hooks.on_failure(e)
    raise
  finally:
    pipeline.close()
    ckpts.close(failed)
  hooks.progress.message(actions.summary(workdir, start, done, total, time.time() - t_begin,
                                         workdir_lib.checkpoint_steps(workdir), hooks.writer.files, samples))
  return state


def _steps(config, workdir, family, state, start, mesh, pipeline, ckpts, hooks, resumed):
  """The step loop: step, log, evaluate, checkpoint, sample; returns (state, last step, sample grids written)."""
  t, total = config.train, config.train.num_steps
  _, train_key, sample_key = setup.rng_streams(config.seed)
  train_step = setup.compile_train_step(family, mesh)
  eval_step = jax.jit(family.eval_step) if family.eval_step is not None else None
  data = sharding.batch_sharded(mesh)
  acc, clock, samples = actions.MetricAccumulator.resume(resumed, mesh), actions.StepClock(start), []

  def save(step, block=False):
    actions.ensure_finite(step, acc.means(), state, ckpts.last_good, workdir)
    ckpts.save(step, state, acc.progress(hooks.writer.pending()), block)

  hooks.progress.message((f"resumed from checkpoint step {start}; " if start else "") +
                         "compiling the train step (the first step takes longest) ...")
  hooks.progress.begin(start)
  done = start
  for step in range(start, total):
    state, metrics = train_step(state, pipeline.global_batch(step, data), jax.random.fold_in(train_key, step))
    acc.add(metrics)
    done = step + 1
    ckpts.check()  # an asynchronous save that failed stops the run now
    stop = collectives.any_process(hooks.stop_requested() is not None)  # all processes stop after one step
    saved = False
    if actions.due(done, t.log_every, total):
      means, rate = acc.means(), clock.rate(done)
      actions.ensure_finite(done, means, state, ckpts.last_good, workdir)
      wrote = hooks.writer.write(done, {**means, "steps_per_sec": rate})
      acc.reset()
      if collectives.any_process(not wrote and hooks.writer.disk_full):
        save(done, block=True)  # the disk is full: keep what is trained now, or stop with a clear error
        saved = True
      hooks.progress.update(done, means, rate, family.LOSS_KEYS)
    if eval_step is not None and actions.due(done, t.eval_every, total, at_end=False):
      means = actions.evaluate(config, eval_step, state, done, train_key, data)
      if means:
        hooks.writer.write(done, means, prefix="eval_")
    t_io = time.time()
    if (actions.due(done, t.checkpoint_every, total) or done == total or stop) and not saved:
      save(done, block=stop)
    if actions.due(done, t.sample_every, total):
      samples.append(actions.write_samples(family, config, state, sample_key, workdir_lib.path(workdir), done))
      if samples[-1]:  # process 0 wrote the grid: TensorBoard shows the same PNG
        hooks.writer.add_image(done, "samples", samples[-1])
      actions.write_loss_curve(workdir_lib.path(workdir))
    clock.pause(time.time() - t_io)  # checkpoint and sample time is not training time
    if stop:
      hooks.progress.message(f"{hooks.stop_requested() or 'a signal to another process'}: saved checkpoint step "
                             f"{done} in {workdir}; exiting. Run the same command to resume.")
      break
  return state, done, [s for s in samples if s]
