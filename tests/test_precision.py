"""Mixed precision (model.dtype = "bfloat16"): every family's train step from the same State as float32.

bfloat16 keeps 8 significant bits (relative rounding 2^-9 ≈ 0.2 %); a network of a few layers accumulates a few
of those per layer, so a loss computed from bfloat16 activations differs from the float32 loss by up to a few
percent. The tolerance is |loss_bf16 − loss_f32| <= LOSS_RTOL·|loss_f32| + LOSS_ATOL.
"""
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT, load_config
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import throughput  # noqa: E402  (benchmarks/throughput.py: the jaxpr walker)
from jaxgen import data as data_lib
from jaxgen import families
from jaxgen.errors import JaxgenError
from jaxgen.nn import policy

LOSS_RTOL = 0.05
LOSS_ATOL = 0.02

# family -> (config, overrides): the digits configs at batch 8, shrunk where compiling the step takes long. The
# autoencoder and VAE keep conv_impl "auto" (on the CPU: the matmul formulations with custom adjoints, in bf16);
# the others use XLA's convolution ("lax", what GPUs and TPUs run) to keep compile time down.
LAX = {"model.conv_impl": "lax"}
CASES = {
    "autoencoder": ("ae_digits", {}),
    "vae": ("vae_digits", {}),
    "gan_bce": ("dcgan_digits", {"data.image_size": 8, **LAX}),
    "gan_wgan_gp": ("wgan_gp_digits", {"data.image_size": 8, "model.n_critic": 2, **LAX}),
    "stylegan": ("stylegan_digits", {"data.image_size": 8, "model.mapping_layers": 1, "model.channel_max": 16}),
    "ebm": ("ebm_digits", {"model.langevin.steps": 5, "data.image_size": 16, **LAX}),
    "diffusion": ("ddm_digits", {"model.block_depth": 1, "model.bottleneck_depth": 1, **LAX}),
}


def _config(case, dtype, batch=8):
  name, overrides = CASES[case]
  return load_config(name, **overrides, **{"train.batch_size": batch, "model.dtype": dtype})


def _batch(config, n, seed=0):
  rng = np.random.default_rng(seed)
  batch = data_lib.example_batch(config, n)
  lo = -1.0 if config.data.range == "symmetric" else 0.0
  batch["x"] = rng.uniform(lo, 1.0, size=batch["x"].shape).astype(np.float32)
  if "label" in batch:
    batch["label"] = rng.integers(0, 10, size=n).astype(np.int32)
  return batch


def _floating(tree):
  return [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]


def _matmul_dtypes(fn, *args):
  """Operand dtypes of every dot_general / conv_general_dilated in fn's jaxpr (all nested jaxprs included)."""
  found = []

  def walk(jaxpr):
    for eqn in jaxpr.eqns:
      if eqn.primitive.name in ("dot_general", "conv_general_dilated"):
        found.append(tuple(str(v.aval.dtype) for v in eqn.invars))
      for sub in throughput.sub_jaxprs(eqn):
        walk(sub)

  walk(jax.make_jaxpr(fn)(*args).jaxpr)
  return found


@pytest.fixture(scope="module")
def steps():
  """case -> {dtype: (initial State, State after one step, metrics)} from one init key, batch and step key."""
  return {}


def _run(steps, case):
  if case not in steps:
    out = {}
    for dtype in ("float32", "bfloat16"):
      config = _config(case, dtype)
      family = families.get(config.family)
      batch = _batch(config, config.train.batch_size)
      state = family.init(config, jax.random.PRNGKey(0), batch)
      new, metrics = jax.jit(family.train_step)(state, batch, jax.random.PRNGKey(1))
      out[dtype] = (state, new, {k: float(v) for k, v in metrics.items()}, family, batch)
    steps[case] = out
  return steps[case]


@pytest.mark.parametrize("case", list(CASES))
def test_bf16_step_matches_f32_and_keeps_f32_state(steps, case):
  out = _run(steps, case)
  (s32, n32, m32, family, _), (s16, n16, m16, _, _) = out["float32"], out["bfloat16"]
  # Same parameters, optimizer state, buffers: init does not depend on the compute dtype (checkpoints neither).
  for a, b in zip(jax.tree.leaves(s32), jax.tree.leaves(s16), strict=True):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # After a bfloat16 step, everything stored is still float32 (params, opt state, EMA, BN statistics, buffers).
  assert {str(x.dtype) for x in _floating(n16)} == {"float32"}
  assert [x.shape for x in jax.tree.leaves(n16)] == [x.shape for x in jax.tree.leaves(n32)]
  keys = [k for k in getattr(family, "LOSS_KEYS", ["loss"]) if k in m32]
  assert keys
  for k in keys:
    assert np.isfinite(m16[k])
    assert abs(m16[k] - m32[k]) <= LOSS_RTOL * abs(m32[k]) + LOSS_ATOL, (k, m32[k], m16[k])


@pytest.mark.parametrize("case", list(CASES))
def test_bf16_every_matmul_and_convolution_runs_in_bf16(steps, case):
  """The whole train step's jaxpr (forward, backward, Langevin, penalties): bfloat16 operands only in bf16 mode."""
  for dtype in ("float32", "bfloat16"):
    state, _, _, family, batch = _run(steps, case)[dtype]
    found = _matmul_dtypes(family.train_step, state, batch, jax.random.PRNGKey(1))
    assert found and {d for ops in found for d in ops} == {dtype}, (dtype, sorted(set(found)))


def test_bf16_autoencoder_learns_digits():
  """60 Adam steps of the digits autoencoder in bfloat16 on real digits: the BCE falls as in float32."""
  losses = {}
  for dtype in ("float32", "bfloat16"):
    config = load_config("ae_digits", **{"train.batch_size": 32, "model.dtype": dtype})
    family = families.get(config.family)
    pipeline = data_lib.make_pipeline(config, "train")
    state = family.init(config, jax.random.PRNGKey(0), pipeline.batch(0))
    step = jax.jit(family.train_step)
    curve = []
    for s in range(60):
      state, metrics = step(state, pipeline.batch(s), jax.random.PRNGKey(s))
      curve.append(float(metrics["loss"]))
    pipeline.close()
    losses[dtype] = (np.mean(curve[:5]), np.mean(curve[-5:]))
  (_, f_last), (h_first, h_last) = losses["float32"], losses["bfloat16"]
  assert h_last < 0.85 * h_first, losses                       # it learns ...
  assert abs(h_last - f_last) <= 0.05 * f_last, losses         # ... as far as float32 does


def test_dtype_and_conv_impl_are_validated():
  config = load_config("ae_digits", **{"model.dtype": "float16"})
  with pytest.raises(JaxgenError, match="model.dtype"):
    policy.validate(config)
  config = load_config("ae_digits", **{"model.conv_impl": "cudnn"})
  with pytest.raises(JaxgenError, match="model.conv_impl"):
    policy.validate(config)


def test_policy_leaves_float32_auto_networks_unchanged():
  """The default config gets the module itself (nothing changes for float32 runs)."""
  from jaxgen.families import autoencoder
  config = load_config("ae_digits")
  assert isinstance(autoencoder.build_networks(config), autoencoder.AutoEncoder)
  config = load_config("ae_digits", **{"model.dtype": "bfloat16"})
  net = autoencoder.build_networks(config)
  assert isinstance(net, policy.Policy) and net.dtype == "bfloat16" and net.encoder.latent_dim == 2
  assert hash(net) == hash(autoencoder.build_networks(config))
