"""A trained run as a Python object: `jaxgen.load(workdir)` (docs/design.md §9).

  run = jaxgen.load("runs/ddm_digits")
  run.config, run.state, run.family, run.step
  images = run.sample(jax.random.PRNGKey(0), 16, steps=20)   # float32 NHWC in [0, 1] (or (N, 2) points)
  data = jaxgen.load_data(run, "test")                       # {"x": (N, H, W, C) in data.range, "label": (N,)}

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
  """A trained run, as `jaxgen.load(workdir, step=None)` returns it.

  workdir: the directory it was loaded from. config: its resolved config (`ml_collections.ConfigDict`, the
  workdir's config.json). state: the family's State restored from the checkpoint (parameters, EMA, optimizer
  state, ...; what the family's own functions take, e.g. `vae.encode(run.state, x)`). family: the family module
  (`jaxgen.families.vae`, ...). step: the checkpoint's training step.
  `sample` draws samples (its docstring lists each family's options), `sample_outputs` what `sample.py` writes.
  """
  workdir: str
  config: ml_collections.ConfigDict = dataclasses.field(repr=False)
  state: Any = dataclasses.field(repr=False)
  family: types.ModuleType = dataclasses.field(repr=False)
  step: int

  def __repr__(self) -> str:
    return (f"Run(workdir={self.workdir!r}, family={self.config.get('family', '?')!r}, "
            f"data={self.config.data.name!r}, step={self.step})")

  def sample(self, key, num: int, **options) -> np.ndarray:
    """`num` samples as a NumPy array: float32 NHWC images (num, H, W, C) in [0, 1], or (num, 2) points in data
    coordinates for toy2d runs.

    key: a raw PRNG key (`jax.random.PRNGKey(seed)`): the same key gives the same samples. num: a positive int.
    options: the family's (`self.family.SAMPLE_OPTIONS`; another is one JaxgenError listing those allowed); each
    one not given comes from the run's `config.sample`, then from the family's default:

      autoencoder  latent_grid=n   the n×n grid of decodes over the embedding box (num is ignored: n·n images)
      vae          latent_grid=n   the n×n grid over normal quantiles Φ⁻¹(0.05 … 0.95) of latent dims 0 and 1
      gan          label=k         class k for every sample (conditional models; default: uniform labels)
                   truncated_z=t   z from N(0, I) truncated to [−t, t] per coordinate (0 / None: not truncated)
                   dot_steps=N, dot_step_size=η, dot_k=K   move each sample by discriminator optimal transport
                                   (N gradient steps of size η; 0 steps: the generator's own samples)
                   class_grid      only in `sample_outputs`: one labelled row per class, the same z per column
      stylegan     truncation=ψ    w̄ + ψ (w − w̄), ψ in [0, 1] (1: none); noise_mode="random" | "const" | "none"
                   pca_samples, boundary_samples, layer_weights, alpha_units, interp_space: settings of the
                                   `sample_outputs` edits (interpolate, direction, alphas, mix_crossover)
      ebm          steps=K         Langevin updates from uniform noise (default config.sample.steps)
                   step_size_start=η   first step, annealed geometrically to the training chain's last step
                   temperature=T   noise std × sqrt(T) (< 1: a sharper density); chain=True: the chain strip
                                   (num · K images, K states per sample, `ebm.chain_steps(steps)`)
      diffusion    steps=K         reverse-diffusion steps (>= 1; default 20); sampler="ddim" | "ddpm" |
                                   "dpm_solver_2m" | "heun" (`jaxgen.samplers.solvers.nfe` counts evaluations)
                   initial_noise   the starting N(0, I) noise (num, H, W, C) (default: drawn from
                                   `jax.random.split(key)[0]`; DDPM's per-step noise comes from `split(key)[1]`)
                   label=k         class k for every sample (class-conditional models; default: uniform labels)
                   guidance=w      classifier-free guidance weight w >= 0 ((1 + w) eps(x, c) - w eps(x, null))
    """
    if not isinstance(num, int) or num <= 0:
      raise JaxgenError(f"num={num!r} must be a positive integer.")
    options = {**self.config.sample.to_dict(), **options}
    return np.asarray(self.family.sample(self.state, key, num, **options))

  def sample_outputs(self, key, num: int, **options) -> dict:
    """What `sample.py` writes: {"samples", "labels"?, "ncols"?, "row_labels"?, "col_labels"?}.

    Takes `sample`'s options and the grids and strips of `sample.py` (as keywords: `steps_sweep="1,2,5,20"`,
    `interpolate=8`, `class_grid=True`, `direction="pca:0"`, `alphas="-3:3:7"`, `mix_crossover=2`, `chain=True`).
    """
    if self.family.sample_outputs is not None:
      merged = {**self.config.sample.to_dict(), **options}
      out = self.family.sample_outputs(self.state, self.config, key, num, merged)
      return {k: (np.asarray(v) if k in ("samples", "labels") else v) for k, v in out.items() if v is not None}
    return {"samples": self.sample(key, num, **options)}

  def sample_outputs_batched(self, key, num: int, batch: int = SAMPLE_BATCH, **options) -> dict:
    """`sample_outputs` for any `num`: up to `batch` samples at once (batch i uses fold_in(key, i); one batch
    is exactly `sample_outputs(key, num)`), so device memory does not grow with `num`. Only plain sample sets
    are batched: outputs with grids or strips (options like interpolate or class_grid) come in one call."""
    if num <= batch:
      return self.sample_outputs(key, num, **options)
    parts = [self.sample_outputs(jax.random.fold_in(key, i), min(batch, num - start), **options)
             for i, start in enumerate(range(0, num, batch))]
    if any(set(p) - {"samples", "labels", "ncols", "title", "axis_labels"}
           or len(p["samples"]) != min(batch, num - i * batch) for i, p in enumerate(parts)):
      raise JaxgenError(f"num={num} is more than {batch} for an output that is not a plain set of samples; "
                        f"use num <= {batch} with these options.")
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("samples", "labels") if k in parts[0]}
    out.update({k: parts[0][k] for k in ("title", "axis_labels") if k in parts[0]})  # the same in every batch
    return out


def _missing(workdir, root, what: str) -> JaxgenError:
  """The error for a path that holds no trained run: the path as given, the absolute path tried, what is wrong."""
  where = f"{workdir!r}" if str(workdir) == str(root) else f"{workdir!r} ({root})"
  return JaxgenError(f"no trained run at {where}: {what}; give the directory a training run wrote "
                     "(train.py --workdir=DIR, or jaxgen.runtime.train(config, DIR) in Python).")


def load(workdir: str, step: int | None = None) -> Run:
  """The trained run in `workdir`: a `Run` (workdir, config, state, family, step).

  workdir: a directory written by `train.py --workdir=DIR` or `jaxgen.runtime.train(config, DIR)` (local path
  or gs://); step: a checkpoint step (`None`: the newest). The State is restored on this host's devices
  (replicated); nothing is written. Raises one JaxgenError naming the path tried when the directory does not
  exist, is a file, has no config.json or no checkpoint, the step is not there, or a checkpoint is unreadable
  (naming the steps that remain).

    run = jaxgen.load("runs/vae_digits")
    images = run.sample(jax.random.PRNGKey(0), 16)     # (16, 16, 16, 1) float32 in [0, 1]
  """
  if not workdir:
    raise JaxgenError(f"workdir={workdir!r}: give the directory a training run wrote (train.py --workdir=DIR, "
                      "or jaxgen.runtime.train(config, DIR) in Python).")
  root = workdir_lib.path(workdir)
  if not root.exists():
    raise _missing(workdir, root, "the directory does not exist")
  if not root.is_dir():
    raise _missing(workdir, root, "it is a file, not a directory")
  config = workdir_lib.read_config(workdir)
  family = families.get(config.get("family", ""))
  ckpt_dir = root / workdir_lib.CHECKPOINTS
  # A converted generator (model.inference_only) without its checkpoint: an earlier jaxgen's interrupted convert.
  first = ("convert its network pickle again (python -m jaxgen.convert ...; the interrupted conversion left it "
           "incomplete)" if config.model.get("inference_only")
           else "train it first (train.py or jaxgen.runtime.train)")
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


def load_data(source, split: str = "train") -> dict:
  """A data split as NumPy arrays, preprocessed exactly as training sees it.

  source: a `Run`, a workdir (its config.json is read), or a config (`jaxgen.configs.get("vae")`, a run's
  `config`); its `config.data` names the data set (digits, toy2d/NAME, tfds/NAME once prepared, folder:PATH),
  the image size, channels and range. split: "train" or "test".
  Returns {"x": float32 (N, H, W, C) in `data.range` ("unit": [0, 1], "symmetric": [−1, 1]), "label": int32 (N,)
  (labelled data sets only)}; toy2d: {"x": float32 (N, 2)}, a fixed draw of the set. Arrays are read-only and
  cached. For batches as the training loop draws them, see `jaxgen.data.make_pipeline`.

    x = jaxgen.load_data(run, "test")["x"]          # e.g. digits: (360, 16, 16, 1) in [0, 1] for vae_digits
  """
  if isinstance(source, Run):
    config = source.config
  elif isinstance(source, ml_collections.ConfigDict):
    config = source
  else:
    config = workdir_lib.read_config(source)
  return data_lib.load_split(config, split)
