"""Generative families and the protocol they share (docs/design.md §2).

A family is a module with these functions; `train.py`, `sample.py`, `jaxgen.load`, the evaluator and the
benchmarks know families only through them:

  init(config, key, example_batch) -> State
      State is a `flax.struct.dataclass`. Its pytree leaves are everything that changes during training
      (params, optimizer states, batch_stats, EMA params, replay buffer + fill count, step, ...); what does
      not change (Flax modules, optax transformations, hyperparameters) lives in
      `flax.struct.field(pytree_node=False)` fields, so `train_step` needs nothing but its arguments.
      A checkpoint of the leaves resumes exactly. `key` is a raw uint32 key (`jax.random.PRNGKey`).
  train_step(state, batch, key) -> (state, metrics)
      Pure; jitted ONCE by the loop with the batch sharded along the mesh axis 'data'. `batch` is a dict:
      "x": float32, images NHWC in the config's data.range or 2-D points (B, 2); "label": int32 (B,) where
      the data set has labels. metrics: dict of float32 scalars; the main one is called "loss" unless the
      reference names it otherwise (then list it first in `LOSS_KEYS`).
  eval_step(state, batch, key) -> metrics           (optional)
  sample(state, key, num, **options) -> array
      Images: float32 NHWC in [0, 1]; 2-D points: float32 (num, 2) in data coordinates. Unknown options
      raise JaxgenError. Iterative samplers use lax.scan inside.
  validate_config(config)                           (optional) raises JaxgenError for bad family settings.
  sample_outputs(state, config, key, num, options) -> dict   (optional) what `sample.py` writes:
      {"samples": array, "labels": optional int array, "ncols": optional int, "row_labels": optional list of
      str (one per grid row, drawn left of it), "col_labels": optional list of str (one per grid column, drawn
      above it)}; the default calls `sample`.
  save_figures(state, config, directory, step)      (optional) family-specific pictures the loop writes
      next to the sample grids (e.g. the EBM's energy landscape on toy data).

Register a new family by adding one line to FAMILIES below.
"""
import importlib
import types

from jaxgen.errors import JaxgenError

# family name (config.family) -> module implementing the protocol above.
FAMILIES = {
    "autoencoder": "jaxgen.families.autoencoder",
    "vae": "jaxgen.families.vae",
    "gan": "jaxgen.families.gan",            # objectives bce (DCGAN), wgan, wgan_gp; conditional via num_classes
    "stylegan": "jaxgen.families.stylegan",
    "ebm": "jaxgen.families.ebm",
    "diffusion": "jaxgen.families.diffusion",
}


def get(name: str) -> types.ModuleType:
  """Returns the family module for `config.family`; a clear JaxgenError for an unknown name."""
  if name not in FAMILIES:
    raise JaxgenError(f"family={name!r} is not a known family; choose one of {', '.join(sorted(FAMILIES))}.")
  return importlib.import_module(FAMILIES[name])
