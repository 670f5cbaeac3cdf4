"""jaxgen: classic deep generative models as pure JAX/Flax functions.

  import jax, jaxgen
  run = jaxgen.load("runs/ddm_digits")                  # resolved config + restored State + family
  images = run.sample(jax.random.PRNGKey(0), 16)         # float32 NHWC in [0, 1]
"""
__version__ = "0.1.0"


def load(workdir, step=None):
  """The trained run in `workdir` (its config, the State of its latest checkpoint or of `step`, its family):
  a `jaxgen.run.Run`; one JaxgenError naming what is missing when it cannot be loaded."""
  from jaxgen.run import load as _load  # local import: `import jaxgen.errors` must not load JAX, Flax and Orbax
  return _load(workdir, step=step)
