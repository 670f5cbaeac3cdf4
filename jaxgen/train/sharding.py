"""Data parallelism with `jax.sharding`: one 1-D mesh ('data',) over all devices.

Batches are sharded along their leading axis; every other array (params, optimizer state, buffers) is
replicated. Step functions are written for one big global batch; XLA inserts the cross-device reductions.
The initial State is computed by a jitted `init` whose outputs are placed straight into their sharding
(`init_replicated`): no host copy of the parameters, and on multi-process runs every process computes its
shards of the same global arrays (from the same key and initial batch).
"""
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxgen.errors import JaxgenError

DATA_AXIS = "data"


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh named 'data' over `devices` (default: all devices of all processes)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  """The global batch must split evenly over the devices (and over the processes that feed them)."""
  n = mesh.devices.size
  if batch_size % n:
    raise JaxgenError(f"train.batch_size={batch_size} is not divisible by the {n} devices; "
                      f"choose a multiple of {n}.")
  if batch_size % jax.process_count():
    raise JaxgenError(f"train.batch_size={batch_size} is not divisible by the {jax.process_count()} processes.")


def init_replicated(init, config, key, example_batch, mesh: Mesh):
  """`init(config, key, example_batch)` jitted with every State leaf replicated over `mesh`.

  `config` and `example_batch` are closed over (the families read shapes and statistics from the batch with
  NumPy); only `key` is traced. Each leaf is its own buffer, so the State can be donated to the train step.
  """
  fn = jax.jit(lambda k: init(config, k, example_batch), out_shardings=replicated(mesh))
  return fn(key)


def abstract_replicated(init, config, key, example_batch, mesh: Mesh):
  """The State `init_replicated` would return, as `jax.ShapeDtypeStruct`s with their sharding (nothing is
  computed): the target structure for restoring a checkpoint."""
  shapes = jax.eval_shape(lambda k: init(config, k, example_batch), key)
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=replicated(mesh)), shapes)


def replicate(tree, mesh: Mesh):
  """Places every leaf of `tree` on all devices of `mesh` (replicated)."""
  return jax.device_put(tree, replicated(mesh))
