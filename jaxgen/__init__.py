"""jaxgen: classic deep generative models as pure JAX/Flax functions.

  import jax, jaxgen
  run = jaxgen.load("runs/ddm_digits")                  # resolved config + restored State + family
  images = run.sample(jax.random.PRNGKey(0), 16)         # float32 NHWC in [0, 1]
  jaxgen.save_image_grid(images, "grid.png")             # one PNG, 4 x 4

What users call, each with its own docstring (`help(jaxgen.load)`, docs/design.md §9):

  load(workdir, step=None) -> Run     a trained run: .config, .state, .family, .step, .sample(key, num, **options)
  Run                                 what `load` returns; `Run.sample` lists every family's options
  load_data(source, split="train")    a run's (or a config's) data split as arrays {"x", "label"?}
  ddim, ddpm, dpm_solver_2m, heun     reverse diffusion for any eps_fn(x_t, noise_rates, signal_rates)
  ddim_invert                         DDIM inversion: data x0 -> the noise x_T that ddim maps back to it
  langevin                            Langevin dynamics for any energy_fn(x) -> (B,)
  save_image_grid(images, path)       images (N, H, W, C) in [0, 1] -> one PNG grid; image_grid: the array

They are loaded on first use (module `__getattr__`), so `import jaxgen` and the light modules below it
(`jaxgen.errors`, `jaxgen.configs`) do not import JAX, Flax and Orbax.
"""
__version__ = "0.1.0"

__all__ = ["load", "Run", "load_data", "ddim", "ddpm", "dpm_solver_2m", "heun", "ddim_invert", "langevin",
           "save_image_grid", "image_grid"]


def __getattr__(name: str):
  """The exports of `__all__`, imported on first access and kept (PEP 562)."""
  if name in ("load", "Run", "load_data"):
    from jaxgen import run as module  # local import: `import jaxgen` must not load JAX, Flax and Orbax
  elif name in ("ddim", "ddpm", "dpm_solver_2m", "heun", "ddim_invert", "langevin"):
    from jaxgen import samplers as module  # local import: as above (the samplers import JAX)
  elif name in ("save_image_grid", "image_grid"):
    from jaxgen import viz as module  # local import: as above (viz imports the data sets, hence JAX)
  else:
    raise AttributeError(f"module 'jaxgen' has no attribute {name!r}")
  value = getattr(module, name)
  globals()[name] = value
  return value


def __dir__():
  return sorted(set(globals()) | set(__all__))
