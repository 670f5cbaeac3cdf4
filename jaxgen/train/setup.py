"""What a run builds before its first step: key streams (docs/design.md §3), the initial State replicated over the
mesh, a memory check made before anything is allocated, and the train step jitted once."""
import math
import os

import jax
import numpy as np

from jaxgen import data as data_lib
from jaxgen.errors import JaxgenError
from jaxgen.train import collectives, sharding

INIT_EXAMPLES = 4096  # real examples handed to `init` (e.g. diffusion's normalisation statistics)
INIT_BYTES = 1 << 30  # ... but never more than this much host memory of them


def rng_streams(seed: int):
  """The run's independent key streams from its one seed: (init, train, sample)."""
  init_key, train_key, sample_key = jax.random.split(jax.random.PRNGKey(seed), 3)
  return init_key, train_key, sample_key


def init_batch(config, pipeline) -> dict:
  """Up to INIT_EXAMPLES real training examples (whole global batches, at most INIT_BYTES), the same on every
  process."""
  batch_bytes = 4 * config.train.batch_size * math.prod(data_lib.example_shape(config))
  num = max(1, min(INIT_EXAMPLES // config.train.batch_size, INIT_BYTES // batch_bytes,
                   pipeline.steps_per_epoch or 1 << 30))
  batches = [pipeline.batch(s) for s in range(num)]
  return collectives.gather_examples({k: np.concatenate([b[k] for b in batches]) for k in batches[0]})


def init_state(config, family, mesh, pipeline):
  """The family's initial State, every leaf replicated over `mesh`."""
  init_key, _, _ = rng_streams(config.seed)
  return sharding.init_replicated(family.init, config, init_key, init_batch(config, pipeline), mesh)


def device_memory_bytes(device) -> int | None:
  """Memory one device can hold: the accelerator's limit, or the host's physical memory for CPU devices."""
  try:
    limit = (device.memory_stats() or {}).get("bytes_limit")
    if limit:
      return int(limit)
  except Exception:  # backends without memory_stats
    pass
  try:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  except (ValueError, OSError, AttributeError):
    return None


def tree_bytes(tree) -> int:
  return sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree) if hasattr(x, "shape"))


def check_memory(config, family, mesh) -> None:
  """Refuses a config whose State plus one batch cannot fit in a device's memory, before anything is allocated.

  The State's size comes from `jax.eval_shape` of the family's init (nothing is materialised); a training step
  needs at least the State twice (the donated input and the output) and the device's share of the batch
  twice. A lower bound: activations come on top, so passing this check does not promise the step fits.
  """
  example = data_lib.example_batch(config, 1)
  init_key, _, _ = rng_streams(config.seed)
  try:
    state = jax.eval_shape(lambda k: family.init(config, k, example), init_key)
  except Exception:  # a family whose init needs concrete data: estimate from the batch alone
    state = {}
  devices = mesh.devices.size
  batch = 4 * config.train.batch_size * math.prod(data_lib.example_shape(config))
  need = 2 * tree_bytes(state) + 2 * batch // devices
  have = device_memory_bytes(mesh.devices.flat[0])
  if have and need > have:
    gib = lambda n: f"{n / 2**30:.1f} GiB"
    raise JaxgenError(
        f"data.image_size={config.data.image_size} with train.batch_size={config.train.batch_size} needs at "
        f"least {gib(need)} per device (State {gib(tree_bytes(state))}, batch {gib(batch)} over {devices} "
        f"device(s)) but a device has {gib(have)}; lower data.image_size or train.batch_size.")


def compile_train_step(family, mesh):
  """family.train_step jitted once, with the batch sharded along 'data', everything else replicated and the
  State donated (its buffers are reused for the new State)."""
  rep, dat = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  return jax.jit(family.train_step, in_shardings=(rep, dat, rep), out_shardings=(rep, rep), donate_argnums=(0,))
