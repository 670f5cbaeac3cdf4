"""The generic training loop (DESIGN.md §6), shared by every family through the protocol.

  train(config, workdir) -> final State

- One jitted step function over a 1-D device mesh: batch sharded along 'data', State replicated.
- The key for step s is fold_in(train_key, s) and the batch for step s is a pure function of (seed, s), so a run
  resumed from a checkpoint continues exactly as the uninterrupted run would have.
- Orbax checkpoints every `train.checkpoint_every` steps, at the end, and on SIGTERM (preemption).
- NaN/Inf in the metrics or the State stops training with a clear message; the last good checkpoint is kept
  (a checkpoint is written only after its State and the metrics since the previous one are checked finite).
"""
import json
import os
import signal
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen import config as config_lib
from jaxgen import data as data_lib
from jaxgen import families
from jaxgen import viz
from jaxgen.errors import JaxgenError
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import sharding
from jaxgen.train.logging import MetricsWriter, Progress, to_scalars

CONFIG_FILE = "config.json"
INIT_EXAMPLES = 4096  # real examples handed to `init` (e.g. diffusion's normalisation statistics)


class TrainingDiverged(RuntimeError):
  """Raised when a metric or the State becomes NaN/Inf; the last good checkpoint is left in place."""


def rng_streams(seed: int):
  """The run's independent key streams from its one seed: (init, train, sample)."""
  init_key, train_key, sample_key = jax.random.split(jax.random.PRNGKey(seed), 3)
  return init_key, train_key, sample_key


def save_config(config: ml_collections.ConfigDict, workdir: str) -> None:
  os.makedirs(workdir, exist_ok=True)
  tmp = os.path.join(workdir, CONFIG_FILE + ".tmp")
  with open(tmp, "w") as f:
    f.write(config.to_json(indent=2, sort_keys=True))
  os.replace(tmp, os.path.join(workdir, CONFIG_FILE))


def load_config(workdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise JaxgenError(f"workdir {workdir!r} has no {CONFIG_FILE}; is it a jaxgen training directory?")
  try:
    with open(path) as f:
      return ml_collections.ConfigDict(json.load(f))
  except (OSError, ValueError) as e:
    raise JaxgenError(f"cannot read {path}: {e}") from None


def init_batch(config, pipeline) -> dict:
  """Up to INIT_EXAMPLES real training examples (whole global batches) for the family's `init`."""
  num = max(1, min(INIT_EXAMPLES // config.train.batch_size, pipeline.steps_per_epoch or 1 << 30))
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
  """Turns SIGTERM into a flag the loop checks between steps (save, then exit cleanly)."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # not the main thread: no handler, nothing to restore
      self._previous = None
    return self

  def _handle(self, signum, frame):
    self.requested = True

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def train(config: ml_collections.ConfigDict, workdir: str, *, progress: bool = True):
  """Trains `config` in `workdir`, resuming from its latest checkpoint; returns the final State."""
  config_lib.validate(config)
  family = families.get(config.family)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.train.batch_size, mesh)
  os.makedirs(workdir, exist_ok=True)
  if jax.process_index() == 0:
    save_config(config, workdir)

  pipeline = data_lib.make_pipeline(config, "train")
  state = init_state(config, mesh, pipeline)
  mngr = ckpt.manager(os.path.join(workdir, "checkpoints"), keep=config.train.keep_checkpoints)
  start = 0
  if mngr.latest_step() is not None:
    state, start = ckpt.restore(mngr, state)
  writer = MetricsWriter(workdir, tensorboard=jax.process_index() == 0)
  writer.truncate_after(start)

  _, train_key, sample_key = rng_streams(config.seed)
  train_step = make_train_step(family, mesh)
  eval_step = jax.jit(family.eval_step) if hasattr(family, "eval_step") else None
  data_sharding = sharding.batch_sharded(mesh)
  total = config.train.num_steps
  loss_keys = getattr(family, "LOSS_KEYS", None)
  bar = Progress(start, total, enabled=progress and jax.process_index() == 0)
  if start:
    bar.message(f"resumed from checkpoint step {start} in {workdir}")
  if start >= total:
    bar.close()
    return state

  last_good = mngr.latest_step()
  acc, acc_n, t0, t_step = None, 0, time.time(), start

  def check_finite(step, metrics_sum):
    if not all(np.isfinite(v) for v in metrics_sum.values()) or not ckpt.all_finite(state):
      kept = f"the last good checkpoint (step {last_good}) is kept" if last_good is not None else "no checkpoint was written"
      bad = [k for k, v in metrics_sum.items() if not np.isfinite(v)]
      raise TrainingDiverged(f"NaN/Inf {'in ' + ', '.join(bad) if bad else 'in the State'} at or before step {step}; "
                             f"training stopped and {kept} in {workdir}. Lower the learning rate or check the data.")

  with _Preemption() as preempt:
    try:
      for step in range(start, total):
        batch = pipeline.global_batch(step, data_sharding)
        state, metrics = train_step(state, batch, jax.random.fold_in(train_key, step))
        acc = metrics if acc is None else jax.tree.map(jnp.add, acc, metrics)
        acc_n += 1
        done = step + 1
        if done % config.train.log_every == 0 or done == total:
          means = {k: v / acc_n for k, v in to_scalars(acc).items()}
          check_finite(done, means)
          rate = (done - t_step) / max(time.time() - t0, 1e-9)
          if jax.process_index() == 0:
            writer.write(done, {**means, "steps_per_sec": rate})
          bar.update(done, means, rate, loss_keys)
          acc, acc_n, t0, t_step = None, 0, time.time(), done
        if eval_step is not None and config.train.eval_every and done % config.train.eval_every == 0:
          _evaluate(config, family, eval_step, state, writer, done, train_key, data_sharding)
        t_io = time.time()  # checkpoint and sample time is not training time: keep it out of steps/s
        save_now = (config.train.checkpoint_every and done % config.train.checkpoint_every == 0) or done == total
        if save_now or preempt.requested:
          if acc is not None:
            check_finite(done, {k: v / acc_n for k, v in to_scalars(acc).items()})
          else:
            check_finite(done, {})
          ckpt.save(mngr, done, state)
          last_good = done
        if config.train.sample_every and (done % config.train.sample_every == 0 or done == total) \
            and jax.process_index() == 0:
          _write_samples(family, config, state, sample_key,
                         os.path.join(workdir, "samples", f"step_{done:06d}.png"))
          if hasattr(family, "save_figures"):
            family.save_figures(state, config, os.path.join(workdir, "samples"), done)
        t0 += time.time() - t_io
        if preempt.requested:
          bar.message(f"SIGTERM: saved checkpoint at step {done}; exiting.")
          break
    finally:
      pipeline.close()
      mngr.wait_until_finished()
      writer.close()
      bar.close()
  return state


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
