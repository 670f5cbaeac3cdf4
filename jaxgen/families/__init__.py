"""Generative families and the one protocol they share (docs/design.md §2).

A family is a module with exactly the names of :class:`Family`; the rest of jaxgen knows families only by them.

  HParams        frozen dataclass of the static settings, `HParams.from_config(config, ...)`; State.hp.
  State          `flax.struct.dataclass`: leaves are what training changes (params, optimizer states, BatchNorm
                 statistics, EMA, step, ...); modules, optax transformations and `hp` are static fields, so
                 `train_step` needs only its arguments and a checkpoint of the leaves resumes exactly.
  LOSS_KEYS      metric names shown first on the progress line (the reference's names, main one first).
  SAMPLE_OPTIONS the keyword options `sample` accepts.
  validate_config(config) -> None         raises JaxgenError for bad family settings.
  build_networks(config)                  the Flax module(s) under the config's nn.policy (dtype, conv_impl):
                                          one module, or (generator, critic) for gan / stylegan.
  make_optimizer(config)                  an optax transformation; (g_tx, d_tx) for gan / stylegan.
  init(config, key, example_batch) -> State       `key`: raw uint32 key (`jax.random.PRNGKey`).
  train_step(state, batch, key) -> (State, metrics)
      Pure; jitted once, batch sharded along mesh axis 'data'. batch: {"x": float32 images (B, H, W, C) in
      data.range or points (B, 2); "label": int32 (B,) for labelled data}. metrics: float32 scalars.
  sample(state, key, num, **options) -> array
      Images float32 (num, H, W, C) in [0, 1]; points float32 (num, 2) in data coordinates. Unknown options
      raise JaxgenError. Iterative samplers run lax.scan inside.
Optional hooks: present on every family module, `None` where the family has none.
  eval_step(state, batch, key) -> metrics
  sample_outputs(state, config, key, num, options) -> dict   what `sample.py` writes: {"samples"; optional
      "labels" int array (points are coloured by it), "ncols", "row_labels" one str per grid row, "col_labels"
      one per column, "row_title" / "col_title" what varies down the rows / along the columns, "axis_labels"
      (x, y) of a scatter, "title" what made the samples (sampler, steps, options)} (`jaxgen.viz.save_sample_outputs`
      draws it; the training loop draws it with config.sample's options).
  save_figures(state, config, directory, step) -> None        family pictures the loop writes next to the grids.

Register a new family by adding one line to FAMILIES.
"""
import importlib
import math
from typing import Any, Callable, Optional, Protocol, runtime_checkable

import ml_collections

from jaxgen import data
from jaxgen.errors import JaxgenError, check
from jaxgen.nn import policy

# family name (config.family) -> module implementing Family.
FAMILIES = {
    "autoencoder": "jaxgen.families.autoencoder",
    "vae": "jaxgen.families.vae",
    "gan": "jaxgen.families.gan",            # objectives bce (DCGAN), wgan, wgan_gp; conditional via num_classes
    "stylegan": "jaxgen.families.stylegan",
    "ebm": "jaxgen.families.ebm",
    "diffusion": "jaxgen.families.diffusion",
}


@runtime_checkable
class Family(Protocol):
  """The names every family module defines (see the module docstring for their contracts)."""
  HParams: type
  State: type
  LOSS_KEYS: tuple
  SAMPLE_OPTIONS: tuple
  eval_step: Optional[Callable[..., Any]]
  sample_outputs: Optional[Callable[..., Any]]
  save_figures: Optional[Callable[..., Any]]

  def validate_config(self, config) -> None: ...
  def build_networks(self, config): ...
  def make_optimizer(self, config): ...
  def init(self, config, key, example_batch): ...
  def train_step(self, state, batch, key): ...
  def sample(self, state, key, num, **options): ...


def get(name: str) -> Family:
  """The family module for `config.family`; a one-line JaxgenError for an unknown name."""
  if name not in FAMILIES:
    raise JaxgenError(f"family={name!r} is not a known family; choose one of {', '.join(sorted(FAMILIES))}.")
  return importlib.import_module(FAMILIES[name])


def _check_shared(config: ml_collections.ConfigDict) -> None:
  """The keys every family shares; JaxgenError naming the bad value and what is allowed."""
  data.check_name(config.data.name)
  check(config.data.channels in (1, 3), f"data.channels={config.data.channels!r} is not allowed; choose 1 or 3.")
  check(config.data.range in ("unit", "symmetric"),
        f"data.range={config.data.range!r} is not allowed; choose 'unit' or 'symmetric'.")
  policy.validate(config)
  check(int(config.data.image_size) >= 4, f"data.image_size={config.data.image_size!r} must be at least 4.")
  check(int(config.data.pad) >= 0, f"data.pad={config.data.pad!r} must be >= 0.")
  for key in ("num_steps", "batch_size", "log_every", "keep_checkpoints"):
    value = config.train[key]
    check(isinstance(value, int) and value > 0, f"train.{key}={value!r} must be a positive integer.")
  for key in ("eval_every", "checkpoint_every", "sample_every"):
    value = config.train[key]
    check(isinstance(value, int) and value >= 0, f"train.{key}={value!r} must be an integer >= 0 (0 turns it off).")
  images = config.train.get("num_sample_images", 1)
  check(isinstance(images, int) and images > 0, f"train.num_sample_images={images!r} must be a positive integer "
        "(the images in each samples/step_XXXXXX.png grid; train.sample_every=0 turns the grids off).")
  for key, value in (config.get("optim") or {}).items():   # NaN/Inf would only show after compiling, as NaN losses
    check(not isinstance(value, float) or math.isfinite(value), f"optim.{key}={value!r} must be a finite number.")
  lr = (config.get("optim") or {}).get("learning_rate")
  check(lr is None or (isinstance(lr, (int, float)) and lr > 0), f"optim.learning_rate={lr!r} must be > 0.")


def check_config(config: ml_collections.ConfigDict) -> Family:
  """Validates `config` once (family name, shared keys, then the family's `validate_config`) and returns the
  family module. A key the config lacks becomes a one-line JaxgenError naming it."""
  family = get(config.family)
  try:
    _check_shared(config)
    family.validate_config(config)
  except (AttributeError, KeyError) as e:   # a config file written without a key the family reads
    key = str(e.args[0]).strip("'\"") if e.args else "?"
    raise JaxgenError(f"the config does not define the key {key!r} that the {config.family} family needs; "
                      f"jaxgen/configs/{config.family}.py lists every key it reads.") from None
  return family
