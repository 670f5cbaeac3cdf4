"""A trained run as a Python object: `jaxgen.load(workdir)` (docs/design.md §9).

  run = jaxgen.load("runs/ddm_digits")
  run.config, run.state, run.family, run.step
  images = run.sample(jax.random.PRNGKey(0), 16, steps=20)   # float32 NHWC in [0, 1] (or (N, 2) points)

Everything `sample.py` does is a call on this object first and a flag second. Loading writes nothing into the
workdir (it works on read-only copies); a damaged checkpoint is named with the steps that remain.
"""
import dataclasses
import types
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxgen import data as data_lib
from jaxgen import families
from jaxgen.errors import JaxgenError
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import setup, sharding
from jaxgen.train import workdir as workdir_lib


SAMPLE_BATCH = 1000  # sample.py draws larger --num in batches of this many (fold_in(key, i) for batch i)


@dataclasses.dataclass
class Run:
  """A work directory's resolved config, restored State and family module."""
  workdir: str
  config: ml_collections.ConfigDict = dataclasses.field(repr=False)
  state: Any = dataclasses.field(repr=False)
  family: types.ModuleType = dataclasses.field(repr=False)
  step: int

  def __repr__(self) -> str:
    return (f"Run(workdir={self.workdir!r}, family={self.config.get('family', '?')!r}, "
            f"data={self.config.data.name!r}, step={self.step})")

  def sample(self, key, num: int, **options) -> np.ndarray:
    """`num` samples: float32 NHWC images in [0, 1], or (num, 2) points in data coordinates."""
    if not isinstance(num, int) or num <= 0:
      raise JaxgenError(f"num={num!r} must be a positive integer.")
    options = {**self.config.sample.to_dict(), **options}
    return np.asarray(self.family.sample(self.state, key, num, **options))

  def sample_outputs(self, key, num: int, **options) -> dict:
    """What `sample.py` writes: {"samples", "labels"?, "ncols"?}; families may add grids and strips."""
    if self.family.sample_outputs is not None:
      merged = {**self.config.sample.to_dict(), **options}
      out = self.family.sample_outputs(self.state, self.config, key, num, merged)
      return {k: (np.asarray(v) if k != "ncols" else v) for k, v in out.items() if v is not None}
    return {"samples": self.sample(key, num, **options)}

  def sample_outputs_batched(self, key, num: int, batch: int = SAMPLE_BATCH, **options) -> dict:
    """`sample_outputs` for any `num`: up to `batch` samples at once (batch i uses fold_in(key, i); one batch
    is exactly `sample_outputs(key, num)`), so device memory does not grow with `num`. Only plain sample sets
    are batched: outputs with grids or strips (options like interpolate or class_grid) come in one call."""
    if num <= batch:
      return self.sample_outputs(key, num, **options)
    parts = [self.sample_outputs(jax.random.fold_in(key, i), min(batch, num - start), **options)
             for i, start in enumerate(range(0, num, batch))]
    if any(set(p) - {"samples", "labels", "ncols"} or len(p["samples"]) != min(batch, num - i * batch)
           for i, p in enumerate(parts)):
      raise JaxgenError(f"num={num} is more than {batch} for an output that is not a plain set of samples; "
                        f"use num <= {batch} with these options.")
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("samples", "labels") if k in parts[0]}
    return out


def load(workdir: str, step: int | None = None) -> Run:
  """Restores the run in `workdir` (latest checkpoint unless `step`); one clear error if it can't."""
  root = workdir_lib.path(workdir) if workdir else None
  if root is None or not root.exists():
    raise JaxgenError(f"workdir {workdir!r} does not exist; pass the --workdir a train.py run wrote.")
  if not root.is_dir():
    raise JaxgenError(f"workdir {workdir!r} is a file, not a directory; pass the --workdir a train.py run wrote.")
  config = workdir_lib.read_config(workdir)
  family = families.get(config.get("family", ""))
  ckpt_dir = root / workdir_lib.CHECKPOINTS
  # A converted generator (model.inference_only) without its checkpoint: an earlier jaxgen's interrupted convert.
  first = ("convert its network pickle again (python -m jaxgen.convert ...; the interrupted conversion left it "
           "incomplete)" if config.model.get("inference_only") else "train it first with train.py")
  if not ckpt_dir.is_dir():
    raise JaxgenError(f"workdir {workdir!r} has no checkpoints/ directory; {first}.")
  mngr = ckpt.manager(ckpt_dir, keep=config.train.keep_checkpoints, async_save=False, read_only=True)
  if mngr.latest_step() is None:
    raise JaxgenError(f"workdir {workdir!r} has no checkpoint yet; {first}.")
  mesh = sharding.make_mesh()
  init_key, _, _ = setup.rng_streams(config.seed)
  # The State's structure comes from init on a stand-in batch; every leaf is then overwritten by the restore.
  batch = data_lib.example_batch(config, config.train.batch_size)
  state = sharding.abstract_replicated(family.init, config, init_key, batch, mesh)
  try:
    state, restored = ckpt.restore(mngr, state, step)
  except ckpt.CheckpointReadError as e:
    bad = mngr.latest_step() if step is None else step
    others = sorted((s for s in mngr.all_steps() if s != bad), reverse=True)
    hint = (f"; other checkpoints: {', '.join(map(str, others))} (pass --step={others[0]} to use one)" if others
            else "; there is no other checkpoint")
    raise ckpt.CheckpointReadError(f"{e}{hint}.") from None
  return Run(workdir=workdir, config=config, state=state, family=family, step=restored)
