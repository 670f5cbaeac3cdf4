"""Sinusoidal embedding, x2 bilinear upsampling, and the reference U-Net (shapes, zero head, parameter count)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nn.embedding import sinusoidal_embedding
from jaxgen.nn.unet import MLPDenoiser, ResidualBlock, UNet, upsample_bilinear_2x


def test_sinusoidal_embedding_equals_numpy():
  v = np.array([0.0, 0.01, 0.25, 0.9025, 1.0], np.float64).reshape(5, 1, 1, 1)
  freqs = np.exp(np.linspace(math.log(1.0), math.log(1000.0), 16))
  expected = np.concatenate([np.sin(2 * np.pi * freqs * v), np.cos(2 * np.pi * freqs * v)], axis=-1)
  got = np.asarray(sinusoidal_embedding(jnp.asarray(v, jnp.float32)))
  assert got.shape == (5, 1, 1, 32)
  # float32 angles reach 2*pi*1000 ~ 6283 rad: the argument rounding (~5e-4 rad) bounds the error.
  np.testing.assert_allclose(got, expected, atol=1e-3)
  np.testing.assert_allclose(got[:3], expected[:3], atol=1e-4)   # small variances: full float32 accuracy
  assert np.asarray(sinusoidal_embedding(jnp.zeros((2, 1)), 8)).shape == (2, 8)


def _tf_resize_bilinear_2x(x):
  """TF `resize_bilinear(half_pixel_centers=True)` to twice the size, written out from its definition."""
  n, h, w, c = x.shape

  def axis_weights(size):
    out = np.zeros((2 * size, size))
    for o in range(2 * size):
      src = (o + 0.5) / 2 - 0.5
      lo = int(np.floor(src))
      frac = src - lo
      out[o, min(max(lo, 0), size - 1)] += 1 - frac
      out[o, min(max(lo + 1, 0), size - 1)] += frac
    return out

  return np.einsum("ph,qw,nhwc->npqc", axis_weights(h), axis_weights(w), x)


def test_upsample_equals_tf_half_pixel_bilinear():
  x = np.random.default_rng(0).normal(size=(2, 5, 7, 3))
  got = np.asarray(upsample_bilinear_2x(jnp.asarray(x, jnp.float32)))
  np.testing.assert_allclose(got, _tf_resize_bilinear_2x(x), atol=1e-5)


def test_residual_block_projection_only_when_widths_differ():
  x = jnp.ones((2, 8, 8, 4))
  same = ResidualBlock(4).init(jax.random.PRNGKey(0), x, train=False)["params"]
  diff = ResidualBlock(6).init(jax.random.PRNGKey(0), x, train=False)["params"]
  assert "residual" not in same and "residual" in diff
  assert diff["residual"]["kernel"].shape == (1, 1, 4, 6)


def test_reference_unet_parameter_count():
  """1,950,627 trainable parameters and 2,880 BN statistics (docs/reference.md §8), via eval_shape (no compute)."""
  shapes = jax.eval_shape(lambda: UNet().init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)),
                                              jnp.zeros((1, 1, 1, 1)), train=False))
  count = lambda tree: sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))
  assert count(shapes["params"]) == 1_950_627
  assert count(shapes["batch_stats"]) == 2_880


@pytest.mark.parametrize("shape", [(3, 8, 24, 3)])   # odd batch, non-square, 3 channels: one compile
def test_unet_shape_and_zero_output_at_init(shape):
  net = UNet(widths=(8, 16, 24), bottleneck_width=32)
  x = jax.random.normal(jax.random.PRNGKey(1), shape)
  v = jnp.linspace(0.1, 0.9, shape[0]).reshape(-1, 1, 1, 1)
  variables = jax.jit(lambda x, v: net.init(jax.random.PRNGKey(0), x, v, train=False))(x, v)
  out = jax.jit(lambda x, v: net.apply(variables, x, v, train=False))(x, v)
  assert out.shape == shape
  assert np.all(np.asarray(out) == 0.0)                 # zero-initialised head: exactly zero
  out_train, updates = jax.jit(lambda x, v: net.apply(variables, x, v, train=True, mutable=["batch_stats"]))(x, v)
  assert np.all(np.asarray(out_train) == 0.0)
  # Training mode moved the BN moving averages: momentum 0.99 toward the batch statistics.
  before = jax.tree.leaves(variables["batch_stats"])
  after = jax.tree.leaves(updates["batch_stats"])
  assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_unet_rejects_indivisible_size():
  with pytest.raises(ValueError, match="divisible by 8"):
    jax.eval_shape(lambda: UNet().init(jax.random.PRNGKey(0), jnp.zeros((1, 12, 12, 3)), jnp.zeros((1, 1, 1, 1))))


def test_unet_learns_signal_dependence():
  """With a non-zero head the output depends on both the image and the noise variance."""
  net = UNet(widths=(8, 16), bottleneck_width=16)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 2))
  v = jnp.full((2, 1, 1, 1), 0.5)
  variables = jax.jit(lambda x, v: net.init(jax.random.PRNGKey(0), x, v))(x, v)
  params = jax.tree_util.tree_map_with_path(
      lambda p, a: jnp.ones_like(a) * 0.1 if "head" in jax.tree_util.keystr(p) else a, variables["params"])
  variables = {**variables, "params": params}
  apply = jax.jit(lambda x, v: net.apply(variables, x, v))
  out1 = apply(x, v)
  assert not np.allclose(out1, apply(x, v * 0.5))
  assert not np.allclose(out1, apply(x * 2, v))


def test_mlp_denoiser_zero_at_init():
  net = MLPDenoiser(hidden=(16, 16))
  x = jnp.ones((5, 2))
  variables = net.init(jax.random.PRNGKey(0), x, jnp.ones((5, 1)))
  out = net.apply(variables, x, jnp.ones((5, 1)))
  assert out.shape == (5, 2) and np.all(np.asarray(out) == 0.0)
