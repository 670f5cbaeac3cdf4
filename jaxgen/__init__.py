"""jaxgen: classic deep generative models as pure JAX/Flax functions.

  import jax, jaxgen
  run = jaxgen.load("runs/ddm_digits")                  # resolved config + restored State + family
  images = run.sample(jax.random.PRNGKey(0), 16)         # float32 NHWC in [0, 1]
"""
__version__ = "0.1.0"


def load(workdir, step=None):
  """Loads a training work directory: see jaxgen.run.load."""
  from jaxgen.run import load as _load
  return _load(workdir, step=step)
