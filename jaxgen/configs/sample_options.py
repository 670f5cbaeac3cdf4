"""The options each family's sampler takes, as data: the families check their `sample` / `sample_outputs` options
against these tuples, and the command-line tools refuse an unsupported sample.py flag from config.json alone, before
JAX loads and the checkpoint is read.

  SAMPLE_OPTIONS[family]   what `family.sample` (`Run.sample`) accepts; config.sample's keys are defaults of some.
  OUTPUT_OPTIONS[family]   what its `sample_outputs` (sample.py, `Run.sample_outputs`) accepts: `outputs(family)`.
  RENAMED_OPTIONS[family]  {another family's name for an option: this family's}, the error's "did you mean".
"""
from jaxgen.errors import supported_options

_LATENT_GRID = ("latent_grid",)
SAMPLE_OPTIONS = {
    "autoencoder": _LATENT_GRID,
    "vae": _LATENT_GRID,
    "gan": ("label", "class_grid", "truncated_z", "dot_steps", "dot_step_size", "dot_k"),
    "stylegan": ("truncation", "noise_mode", "pca_samples", "boundary_samples", "layer_weights", "alpha_units",
                 "interp_space"),
    "ebm": ("steps", "chain", "step_size_start", "temperature"),
    "diffusion": ("steps", "sampler", "initial_noise", "label", "guidance"),
}
# Grids, strips and sweeps that only sample_outputs writes (the other families' outputs take SAMPLE_OPTIONS).
OUTPUT_OPTIONS = {
    "autoencoder": _LATENT_GRID + ("latent_scatter",),   # latent_scatter=N: the encoder means of N images
    "vae": _LATENT_GRID + ("latent_scatter",),
    "stylegan": ("truncation", "interpolate", "direction", "alphas", "mix_crossover", "label", "class_grid"),
    "diffusion": ("steps", "sampler", "steps_sweep", "interpolate", "label", "guidance", "class_grid", "invert"),
}
RENAMED_OPTIONS = {
    "autoencoder": {"interpolate": "latent_grid"},
    "vae": {"interpolate": "latent_grid"},
    "gan": {"truncation": "truncated_z"},   # ψ in W is the style-based generator's; here the trick truncates z
}


def outputs(family: str) -> tuple:
  """The options `sample_outputs` of `family` accepts (what sample.py may pass); () for an unknown family."""
  if family == "stylegan":
    return tuple(dict.fromkeys(OUTPUT_OPTIONS["stylegan"] + SAMPLE_OPTIONS["stylegan"]))
  return OUTPUT_OPTIONS.get(family, SAMPLE_OPTIONS.get(family, ()))


def check_outputs(family: str, options: dict) -> dict:
  """`options` without its None values; the family's own JaxgenError for the first that its `sample_outputs`
  does not take (the check it makes once the checkpoint is loaded). An unknown family passes: loading names it."""
  return _check(family, options, outputs(family))


def check_sample(family: str, options: dict) -> dict:
  """As `check_outputs`, for the options of `family.sample` (`Run.sample`, what jaxgen.evaluate passes)."""
  return _check(family, options, SAMPLE_OPTIONS.get(family, ()))


def _check(family: str, options: dict, allowed: tuple) -> dict:
  if family not in SAMPLE_OPTIONS:
    return {k: v for k, v in options.items() if v is not None}
  return supported_options(f"the {family} family", options, allowed, renamed=RENAMED_OPTIONS.get(family))
