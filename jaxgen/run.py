"""A trained run as a Python object: `jaxgen.load(workdir)` (DESIGN.md §9).

  run = jaxgen.load("runs/ddm_digits")
  run.config, run.state, run.family, run.step
  images = run.sample(jax.random.PRNGKey(0), 16, steps=20)   # float32 NHWC in [0, 1] (or (N, 2) points)

Everything `sample.py` does is a call on this object first and a flag second.
"""
import dataclasses
import os
import types
from typing import Any

import ml_collections
import numpy as np

from jaxgen import families
from jaxgen import data as data_lib
from jaxgen.errors import JaxgenError


@dataclasses.dataclass
class Run:
  """A work directory's resolved config, restored State and family module."""
  workdir: str
  config: ml_collections.ConfigDict
  state: Any
  family: types.ModuleType
  step: int

  def sample(self, key, num: int, **options) -> np.ndarray:
    """`num` samples: float32 NHWC images in [0, 1], or (num, 2) points in data coordinates."""
    if not isinstance(num, int) or num <= 0:
      raise JaxgenError(f"num={num!r} must be a positive integer.")
    options = {**self.config.sample.to_dict(), **options}
    return np.asarray(self.family.sample(self.state, key, num, **options))

  def sample_outputs(self, key, num: int, **options) -> dict:
    """What `sample.py` writes: {"samples", "labels"?, "ncols"?}; families may add grids and strips."""
    if hasattr(self.family, "sample_outputs"):
      merged = {**self.config.sample.to_dict(), **options}
      out = self.family.sample_outputs(self.state, self.config, key, num, merged)
      return {k: (np.asarray(v) if k != "ncols" else v) for k, v in out.items() if v is not None}
    return {"samples": self.sample(key, num, **options)}


def load(workdir: str, step: int | None = None) -> Run:
  """Restores the run in `workdir` (latest checkpoint unless `step`); one clear error if it can't."""
  from jaxgen.train import checkpoint as ckpt
  from jaxgen.train import loop, sharding

  if not workdir or not os.path.isdir(workdir):
    raise JaxgenError(f"workdir {workdir!r} does not exist; pass the --workdir a train.py run wrote.")
  config = loop.load_config(workdir)
  family = families.get(config.get("family", ""))
  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt_dir):
    raise JaxgenError(f"workdir {workdir!r} has no checkpoints/ directory; train it first with train.py.")
  mngr = ckpt.manager(ckpt_dir, keep=config.train.keep_checkpoints, async_save=False)
  if mngr.latest_step() is None:
    raise JaxgenError(f"workdir {workdir!r} has no checkpoint yet; train it first with train.py.")
  mesh = sharding.make_mesh()
  init_key, _, _ = loop.rng_streams(config.seed)
  # The State's structure comes from init on a stand-in batch; every leaf is then overwritten by the restore.
  batch = data_lib.example_batch(config, config.train.batch_size)
  state = sharding.abstract_replicated(family.init, config, init_key, batch, mesh)
  try:
    state, restored = ckpt.restore(mngr, state, step)
  except JaxgenError:
    raise
  except Exception as e:  # a corrupt or incompatible checkpoint
    raise JaxgenError(f"cannot restore the checkpoint in {ckpt_dir}: {type(e).__name__}: {e}".splitlines()[0]) from None
  return Run(workdir=workdir, config=config, state=state, family=family, step=restored)
