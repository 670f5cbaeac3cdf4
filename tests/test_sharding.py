"""The initial State is built by a jitted init straight into its (replicated) sharding (jaxgen.train.sharding)."""
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import ROOT, load_config
from jaxgen import data as data_lib
from jaxgen import families
from jaxgen import data as data_lib
from jaxgen import families
from jaxgen.runtime import train
from jaxgen.train import setup, sharding

CONFIGS = {"diffusion": ("ddm_toy2d", 8), "gan": ("wgan_gp_toy2d", 10), "ebm": ("ebm_toy2d", 8)}  # (config, batch)


def _host_init(config, key, batch):
  return families.get(config.family).init(config, key, batch)


@pytest.mark.parametrize("family", list(CONFIGS))
def test_init_replicated_equals_host_init(family):
  name, batch_size = CONFIGS[family]   # wgan_gp_toy2d: the batch splits over n_critic = 5 critic updates
  config = load_config(name, **{"train.batch_size": batch_size})
  fam = families.get(config.family)
  batch = data_lib.example_batch(config, batch_size)
  batch["x"] = np.random.default_rng(0).normal(size=batch["x"].shape).astype(np.float32)
  key = jax.random.PRNGKey(3)
  mesh = sharding.make_mesh()
  state = sharding.init_replicated(fam.init, config, key, batch, mesh)
  host = _host_init(config, key, batch)
  leaves = jax.tree.leaves(state)
  for a, b in zip(leaves, jax.tree.leaves(host), strict=True):
    assert a.sharding == sharding.replicated(mesh)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
  # Every leaf is its own buffer (the train step donates the State).
  pointers = {x.addressable_shards[0].data.unsafe_buffer_pointer() for x in leaves if x.size}
  assert len(pointers) == sum(1 for x in leaves if x.size)
  # The abstract State (for restoring checkpoints) has the same structure, shapes, dtypes and sharding.
  abstract = sharding.abstract_replicated(fam.init, config, key, batch, mesh)
  paths = lambda tree: [p for p, _ in jax.tree_util.tree_leaves_with_path(tree)]   # (optax closures differ per init)
  assert paths(abstract) == paths(state)
  for s, a in zip(jax.tree.leaves(abstract), leaves):
    assert (s.shape, s.dtype, s.sharding) == (a.shape, a.dtype, a.sharding)


def test_loop_init_and_load_use_the_mesh(tmp_path):
  """setup.init_state and jaxgen.load return States laid out on the mesh; load restores the trained leaves."""
  import jaxgen
  config = load_config("ddm_toy2d", **{"train.batch_size": 8, "train.num_steps": 2, "train.log_every": 1,
                                       "train.checkpoint_every": 2, "train.sample_every": 0})
  mesh = sharding.make_mesh()
  state = setup.init_state(config, families.get(config.family), mesh, data_lib.make_pipeline(config, "train"))
  assert all(x.sharding == sharding.replicated(mesh) for x in jax.tree.leaves(state))
  trained = train(config, str(tmp_path), progress=False)
  run = jaxgen.load(str(tmp_path))
  assert run.step == 2
  for a, b in zip(jax.tree.leaves(run.state), jax.tree.leaves(trained), strict=True):
    assert a.sharding.is_equivalent_to(sharding.replicated(mesh), a.ndim)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


TWO_DEVICES = r"""
import jax, numpy as np
from conftest import load_config
from jaxgen import data as data_lib, families
from jaxgen.train import sharding
config = load_config("wgan_gp_toy2d", **{"train.batch_size": 10})
fam = families.get(config.family)
batch = data_lib.example_batch(config, 10)
mesh = sharding.make_mesh()
state = sharding.init_replicated(fam.init, config, jax.random.PRNGKey(0), batch, mesh)
host = fam.init(config, jax.random.PRNGKey(0), batch)
for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(host), strict=True):
  assert len(a.sharding.device_set) == 2 and a.sharding.is_fully_replicated
  for shard in a.addressable_shards:
    np.testing.assert_allclose(np.asarray(shard.data), np.asarray(b), rtol=1e-6, atol=1e-7)
print("OK", len(jax.devices()))
"""


def test_init_replicated_on_two_devices():
  """Two host CPU devices: every leaf is replicated on both, each copy equal to the host init."""
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu",
             PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
  proc = subprocess.run([sys.executable, "-c", TWO_DEVICES], env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "OK 2" in proc.stdout
