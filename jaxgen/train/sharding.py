"""Data parallelism with `jax.sharding` (DESIGN.md §6): one 1-D mesh ('data',) over all devices.

Batches are sharded along their leading axis; every other array (params, optimizer state, buffers) is
replicated. Step functions are written for one big global batch; XLA inserts the cross-device reductions.
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


def replicate(tree, mesh: Mesh):
  """Places every leaf of `tree` on all devices of `mesh` (replicated)."""
  return jax.device_put(tree, replicated(mesh))
