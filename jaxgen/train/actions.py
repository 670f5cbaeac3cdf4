"""The pieces the training loop is made of, one job each: metric sums, the step clock, evaluation, sample grids,
the finiteness check and the closing line. None knows of terminals, log files, signals or other hosts."""
import json
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from etils import epath

from jaxgen import data as data_lib
from jaxgen import fileio, viz
from jaxgen.errors import JaxgenError, RunFailure, warn
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import sharding

EVAL_BATCHES = 20  # test batches averaged at each evaluation


class TrainingDiverged(RunFailure):
  """A metric or the State became NaN/Inf; the last good checkpoint is left in place."""
  exit_code = 3


def due(step: int, every: int, total: int, at_end: bool = True) -> bool:
  """Whether an action that runs every `every` steps (0: never) runs after `step`; `at_end`: also at `total`."""
  return bool(every) and (step % every == 0 or (at_end and step == total))


def to_floats(tree: dict) -> dict:
  return {k: float(np.asarray(v)) for k, v in tree.items()}


class MetricAccumulator:
  """Sums the step metrics of one logging interval on the device (no host transfer per step).

  `progress()` is what a checkpoint keeps of an interval it cuts in two (the exact float sums and their count)
  and `resume` puts it back, so a resumed run logs the same means as an uninterrupted one.
  """

  def __init__(self, sums=None, count: int = 0):
    self.sums, self.count = sums, count

  @classmethod
  def resume(cls, progress: dict, mesh):
    count = int(progress.get("log_count", 0) or 0)
    if not count:
      return cls()
    dtypes = progress.get("log_dtypes", {})
    sums = {k: np.asarray(v, dtypes.get(k, "float32")) for k, v in progress["log_sums"].items()}
    return cls(sharding.replicate(sums, mesh), count)

  def add(self, metrics: dict) -> None:
    self.sums = metrics if self.sums is None else jax.tree.map(jnp.add, self.sums, metrics)
    self.count += 1

  def means(self) -> dict:
    return {k: v / self.count for k, v in to_floats(self.sums).items()} if self.count else {}

  def reset(self) -> None:
    self.sums, self.count = None, 0

  def progress(self, pending_lines) -> dict:
    """The checkpoint's "progress" item: this interval's sums and the metrics.jsonl lines not yet on disk."""
    out = {"log_count": self.count, "pending_metrics": list(pending_lines)}
    if self.count:
      out.update(log_sums=to_floats(self.sums), log_dtypes={k: str(np.asarray(v).dtype) for k, v in self.sums.items()})
    return out


class StepClock:
  """Steps per second between log points, with checkpoint and sample time left out (`pause`)."""

  def __init__(self, step: int):
    self.t0, self.step = time.time(), step

  def rate(self, step: int) -> float:
    """Steps/s since the previous call (or the start), then starts a new interval at `step`."""
    rate = (step - self.step) / max(time.time() - self.t0, 1e-9)
    self.t0, self.step = time.time(), step
    return rate

  def pause(self, seconds: float) -> None:
    self.t0 += seconds


def ensure_finite(step: int, means: dict, state, last_good, workdir) -> None:
  """Raises TrainingDiverged when a metric mean or a State leaf is NaN/Inf."""
  bad = [k for k, v in means.items() if not np.isfinite(v)]
  if bad or not ckpt.all_finite(state):
    kept = (f"the last good checkpoint (step {last_good}) is kept" if last_good is not None
            else "no checkpoint was written")
    raise TrainingDiverged(f"NaN/Inf {'in ' + ', '.join(bad) if bad else 'in the State'} at or before step {step}; "
                           f"training stopped and {kept} in {workdir}. Lower the learning rate or check the data.")


def evaluate(config, eval_step, state, step: int, train_key, data_sharding) -> dict:
  """eval_step's metrics averaged over the test split (up to EVAL_BATCHES batches); {} without a test split.
  Keys: fold_in(fold_in(train_key, step), 2**30), then fold_in(., i) for test batch i (docs/design.md §3)."""
  try:
    test = data_lib.make_pipeline(config, "test")
  except JaxgenError:  # a data set without a test split
    return {}
  num = min(EVAL_BATCHES, test.steps_per_epoch) if test.steps_per_epoch is not None else EVAL_BATCHES
  key = jax.random.fold_in(jax.random.fold_in(train_key, step), 1 << 30)
  acc = MetricAccumulator()
  for i in range(num):
    acc.add(eval_step(state, test.global_batch(i, data_sharding), jax.random.fold_in(key, i)))
  return acc.means()


def sample_outputs(family, config, state, key) -> dict:
  """config.train.num_sample_images samples with config.sample's options, as the family's `sample_outputs` gives
  them (with the title that names the sampler; the same samples as `family.sample`)."""
  num, options = config.train.num_sample_images, config.sample.to_dict()
  if family.sample_outputs is not None:
    return family.sample_outputs(state, config, key, num, options)
  return {"samples": family.sample(state, key, num, **options)}


def write_samples(family, config, state, key, workdir, step: int) -> str | None:
  """Writes samples/step_XXXXXX.png, titled with the step and the sampler (toy 2-D runs: a scatter over the data
  and its true modes), and the family's figures; returns its path, or None where nothing was written (not
  process 0, or a write error, which is a warning: training goes on).

  Every process computes the samples (the same computation on all processes); they are drawn into a local
  scratch folder and process 0 copies them to the workdir (local or gs://): pictures replace, `.jsonl` logs
  (e.g. the EBM's buffer_classes.jsonl, one line per grid) are appended to what the workdir holds.
  """
  name = f"step_{step:06d}.png"
  with tempfile.TemporaryDirectory(prefix="jaxgen_samples_") as scratch:
    out = sample_outputs(family, config, state, key)
    title = f"step {step}" + (f": {out['title']}" if out.get("title") else "")
    viz.save_sample_outputs(out, os.path.join(scratch, name), data_name=config.data.name, title=title)
    if family.save_figures is not None:
      family.save_figures(state, config, scratch, step)
    if jax.process_index() != 0:
      return None
    target = epath.Path(workdir) / "samples"
    try:
      target.mkdir(parents=True, exist_ok=True)
      for item in sorted(os.listdir(scratch)):
        source, dest = epath.Path(scratch) / item, target / item
        if item.endswith(".jsonl") and dest.exists():
          dest.write_text(dest.read_text() + source.read_text())
        else:
          fileio.copy_file_atomic(source, dest)   # a full disk leaves the previous picture whole
    except OSError as e:
      warn(f"could not write the samples of step {step} ({e.strerror or e}); training continues.")
      return None
  return str(target / name)


LOSS_CURVE = "loss_curve.png"  # beside metrics.jsonl


def read_metrics(workdir) -> list[dict]:
  """The records of <workdir>/metrics.jsonl ([] without one); lines that are not complete JSON objects (a write
  cut short) are skipped."""
  path = epath.Path(workdir) / "metrics.jsonl"
  records = []
  for line in (path.read_text() if path.exists() else "").splitlines():
    try:
      record = json.loads(line)
    except ValueError:
      continue
    if isinstance(record, dict):
      records.append(record)
  return records


def write_loss_curve(workdir) -> str | None:
  """Process 0 draws every metric of metrics.jsonl against the step into <workdir>/loss_curve.png
  (`jaxgen.viz.loss_curve_figure`; called with the sample grids; replaced whole each time, so a viewer never sees
  half a file); returns its path, or None (another process, no metrics yet, or a write error, which is a
  warning: training goes on)."""
  if jax.process_index() != 0:
    return None
  target = epath.Path(workdir) / LOSS_CURVE
  try:
    records = read_metrics(workdir)
    if not records:
      return None
    title = f"training metrics (metrics.jsonl) to step {records[-1].get('step', '?')}"
    if "://" not in str(workdir):
      viz.save_loss_curve(records, os.fspath(target), title)
      return str(target)
    with tempfile.TemporaryDirectory(prefix="jaxgen_curve_") as scratch:  # an object store: draw here, copy there
      viz.save_loss_curve(records, os.path.join(scratch, LOSS_CURVE), title)
      (epath.Path(scratch) / LOSS_CURVE).copy(target, overwrite=True)
  except OSError as e:
    warn(f"could not write {target} ({e.strerror or e}); training continues.")
    return None
  return str(target)


def format_duration(seconds: float) -> str:
  """'45s', '3m07s', '2h05m'."""
  seconds = max(0, int(round(seconds)))
  if seconds < 60:
    return f"{seconds}s"
  if seconds < 3600:
    return f"{seconds // 60}m{seconds % 60:02d}s"
  return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def summary(workdir, start: int, done: int, total: int, seconds: float, kept, files, samples) -> str:
  """The closing line: where the run stopped, how long it took, and what is in the workdir: `kept` are the
  checkpoint steps on disk now (older ones are deleted as keep_checkpoints says, so not every step saved)."""
  parts = []
  if kept:
    parts.append(f"checkpoints/ (step{'s' if len(kept) > 1 else ''} {', '.join(map(str, kept))})")
  parts += [os.path.basename(f) for f in files if os.path.exists(f) or "://" in f]
  if samples and "://" not in str(workdir) and os.path.exists(os.path.join(str(workdir), LOSS_CURVE)):
    parts.append(LOSS_CURVE)
  if samples:
    parts.append(f"samples/ ({len(samples)} grid{'s' if len(samples) > 1 else ''}, last "
                 f"{os.path.basename(samples[-1])})")
  return (f"{'done' if done >= total else 'stopped'}: step {done}/{total} ({done - start} steps in "
          f"{format_duration(seconds)}); wrote in {workdir}: {', '.join(parts) or 'nothing'}")
