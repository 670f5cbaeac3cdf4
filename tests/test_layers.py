"""Keras-default layers and the fast exact convolution formulations (jaxgen.nn.layers, jaxgen.nn.conv)."""
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT
from jaxgen.nn import conv, layers

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import conv_variants as variants  # noqa: E402  (the formulations only benchmarks/conv_formulations.py uses)

CASES = [  # (kernel, stride, padding, input size): the four the families use, plus odd ones.
    (3, 2, "SAME", 4), (4, 2, "SAME", 4), (4, 1, "VALID", 1), (3, 1, "SAME", 5),
    (3, 2, "VALID", 4), (5, 3, "SAME", 3), (4, 2, "VALID", 3), (2, 3, "VALID", 3), (1, 2, "SAME", 3),
]


def _perturbed_params(module, x):
  v = module.init(jax.random.PRNGKey(1), x)
  leaves, tree = jax.tree.flatten(v)
  keys = jax.random.split(jax.random.PRNGKey(2), len(leaves))
  return jax.tree.unflatten(tree, [a + 0.1 * jax.random.normal(k, a.shape) for a, k in zip(leaves, keys)])


@pytest.mark.parametrize("k,s,padding,n,use_bias", [c + (i % 2 == 0,) for i, c in enumerate(CASES)])
def test_conv_transpose_equals_flax(k, s, padding, n, use_bias):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, n, n + 1, 3))
  ref = nn.ConvTranspose(5, (k, k), (s, s), padding=padding, use_bias=use_bias)
  fast = layers.ConvTranspose(5, (k, k), (s, s), padding=padding, use_bias=use_bias)
  v = _perturbed_params(ref, x)
  assert jax.tree.map(jnp.shape, fast.init(jax.random.PRNGKey(1), x)) == jax.tree.map(jnp.shape, v)
  y_ref, y = ref.apply(v, x), fast.apply(v, x)
  assert y.shape == y_ref.shape
  np.testing.assert_allclose(y, y_ref, atol=1e-5, rtol=1e-5)

  if (k, s, padding) not in [(3, 2, "SAME"), (4, 2, "SAME"), (4, 1, "VALID"), (3, 1, "SAME")]:
    return
  # Gradients with respect to the input and every parameter agree too.
  cot = jax.random.normal(jax.random.PRNGKey(3), y.shape)
  g_ref = jax.grad(lambda v, x: jnp.sum(ref.apply(v, x) * cot), argnums=(0, 1))(v, x)
  g = jax.grad(lambda v, x: jnp.sum(fast.apply(v, x) * cot), argnums=(0, 1))(v, x)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5), g, g_ref)


CONV_CASES = [(3, 2, "SAME", 8, 3, 5), (3, 2, "SAME", 7, 3, 5), (4, 2, "SAME", 8, 3, 5), (4, 1, "VALID", 4, 6, 1),
              (3, 1, "SAME", 5, 3, 5), (3, 1, "SAME", 5, 6, 2), (5, 3, "SAME", 10, 3, 5)]


@pytest.mark.parametrize("impl", ["matmul", "im2col", "space_to_depth", "lax", "auto"])
def test_conv_formulations_equal_flax(impl):
  """Every Conv formulation equals nn.Conv (forward and gradients), incl. the in > out overlap-add path."""
  for i, (k, s, padding, n, cin, cout) in enumerate(CONV_CASES if impl in ("matmul", "auto") else CONV_CASES[:2]):
    x = jax.random.normal(jax.random.PRNGKey(i), (2, n, n + 1, cin))
    ref = nn.Conv(cout, (k, k), (s, s), padding=padding)
    fast = layers.Conv(cout, (k, k), (s, s), padding=padding, impl=variants.CONV[impl] if impl != "auto" else impl)
    v = _perturbed_params(ref, x)
    y_ref, y = ref.apply(v, x), fast.apply(v, x)
    np.testing.assert_allclose(y, y_ref, atol=2e-5, rtol=1e-5)
    cot = jax.random.normal(jax.random.PRNGKey(3), y.shape)
    g_ref = jax.grad(lambda v, x: jnp.sum(ref.apply(v, x) * cot), argnums=(0, 1))(v, x)
    g = jax.grad(lambda v, x: jnp.sum(fast.apply(v, x) * cot), argnums=(0, 1))(v, x)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5), g, g_ref)


@pytest.mark.parametrize("impl", ["subpixel", "col2im", "matmul"])
def test_other_conv_transpose_formulations(impl):
  fn = conv.resolve_impl(variants.CONV_TRANSPOSE[impl], transpose=True)
  for k, s, padding, n in CASES[:5]:
    x = jax.random.normal(jax.random.PRNGKey(0), (2, n, n + 1, 3))
    w = jax.random.normal(jax.random.PRNGKey(1), (k, k, 3, 4))
    np.testing.assert_allclose(fn(x, w, (s, s), padding), conv.conv_transpose_lax(x, w, (s, s), padding), atol=1e-5)


def test_auto_resolves_per_backend():
  """impl="auto": the matmul forms on CPU, XLA's convolution on GPU/TPU; explicit and scoped names win."""
  for transpose, cpu in ((False, conv.conv_matmul), (True, conv.conv_transpose_matmul)):
    lax_fn = conv.conv_transpose_lax if transpose else conv.conv_lax
    assert conv.resolve_impl("auto", transpose, backend="cpu") is cpu
    assert conv.resolve_impl("auto", transpose, backend="gpu") is lax_fn
    assert conv.resolve_impl("auto", transpose, backend="tpu") is lax_fn
    assert conv.resolve_impl("lax", transpose, backend="cpu") is lax_fn
    assert conv.resolve_impl("matmul", transpose, backend="gpu") is cpu
    with conv.conv_impl_scope("lax"):
      assert conv.resolve_impl("auto", transpose, backend="cpu") is lax_fn
      assert conv.resolve_impl("matmul", transpose, backend="cpu") is cpu     # a layer's own choice wins
    with conv.conv_impl_scope("matmul"):
      assert conv.resolve_impl("auto", transpose, backend="tpu") is cpu
  with conv.conv_impl_scope("space_to_depth"):
    assert conv.resolve_impl("auto", False, backend="gpu") is conv.conv_space_to_depth
    assert conv.resolve_impl("auto", True, backend="gpu") is conv.conv_transpose_matmul
  here = conv.conv_matmul if jax.default_backend() == "cpu" else conv.conv_lax
  assert conv.resolve_impl("auto", False) is here                               # this machine's backend
  with pytest.raises(ValueError):
    conv.resolve_impl("subpixel", False)
  with pytest.raises(ValueError), conv.conv_impl_scope("cudnn"):
    pass


def test_auto_resolution_happens_at_trace_time(monkeypatch):
  """A layer traced while the backend reports "gpu" lowers to XLA's convolution, on the CPU to the matmul form."""
  x = jnp.ones((1, 8, 8, 3))
  conv = layers.Conv(4, (3, 3), 2)
  v = conv.init(jax.random.PRNGKey(0), x)
  ops = lambda: {e.primitive.name for e in jax.make_jaxpr(lambda v: conv.apply(v, x))(v).jaxpr.eqns}
  monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
  assert "conv_general_dilated" not in ops() and "custom_vjp_call" in " ".join(ops())
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert "conv_general_dilated" in ops()


def test_im2col_overlap_add_are_adjoint():
  """<im2col(x), c> = <x, overlap_add(c)> for a strided, padded geometry (the custom VJPs rely on it)."""
  geom = ((3, 3), (2, 2), (1, 0), (4, 5), (7, 9))
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 7, 9, 3))
  c = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 5, 3, 3, 3))
  np.testing.assert_allclose(jnp.vdot(conv.im2col(x, geom), c), jnp.vdot(x, conv.overlap_add(c, geom)),
                             rtol=1e-5)


def test_conv_transpose_numpy_twin():
  """Independent twin: scatter every input pixel times the kernel into the output (the textbook definition)."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(1, 3, 3, 2)).astype(np.float32)
  w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
  s, k = 2, 3
  # Textbook transposed conv with un-flipped-kernel correlation semantics of lax.conv_transpose:
  # y[o] = Σ_j xd[o + j − pad_a] w[j]  <=>  x[i] contributes w[j] at o = s·i + pad_a − j.
  pad_a, _ = conv.conv_transpose_padding(k, s, "SAME")
  out = np.zeros((1, 6, 6, 4), np.float32)
  for i in range(3):
    for i2 in range(3):
      for j in range(k):
        for j2 in range(k):
          o, o2 = s * i + pad_a - j, s * i2 + pad_a - j2
          if 0 <= o < 6 and 0 <= o2 < 6:
            out[0, o, o2] += x[0, i, i2] @ w[j, j2]
  for fn in (variants.conv_transpose_subpixel, conv.conv_transpose_matmul, conv.conv_transpose_lax):
    np.testing.assert_allclose(fn(jnp.asarray(x), jnp.asarray(w), (2, 2), "SAME"), out, atol=1e-5)


def test_depth_space_roundtrip():
  x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
  np.testing.assert_array_equal(variants.depth_to_space(conv.space_to_depth(x, 2, 2), 2, 2), x)
  assert conv.space_to_depth(x, 2, 2).shape == (2, 2, 3, 12)


def test_keras_defaults():
  assert layers.BatchNorm().epsilon == 1e-3 and layers.BatchNorm().momentum == 0.99
  x = jnp.array([-2.0, 0.0, 3.0])
  np.testing.assert_allclose(layers.leaky_relu(x), [-0.6, 0.0, 3.0])
  np.testing.assert_allclose(layers.leaky_relu(x, 0.2), [-0.4, 0.0, 3.0])
  # glorot_uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
  v = layers.Dense(300).init(jax.random.PRNGKey(0), jnp.zeros((1, 200)))
  limit = np.sqrt(6 / 500)
  kernel = np.asarray(v["params"]["kernel"])
  assert kernel.max() <= limit and kernel.min() >= -limit and kernel.max() > 0.95 * limit
  assert np.all(np.asarray(v["params"]["bias"]) == 0)
  v = layers.Conv(8, (3, 3)).init(jax.random.PRNGKey(0), jnp.zeros((1, 5, 5, 4)))
  limit = np.sqrt(6 / (9 * 4 + 9 * 8))
  assert np.abs(np.asarray(v["params"]["kernel"])).max() <= limit
  v = layers.ConvTranspose(8, (3, 3), 2).init(jax.random.PRNGKey(0), jnp.zeros((1, 5, 5, 4)))
  assert np.abs(np.asarray(v["params"]["kernel"])).max() <= limit
