"""Keras-default layers shared by every family: `Dense`, `Conv`, `ConvTranspose` (glorot-uniform kernels), `BatchNorm`
(epsilon 1e-3), `leaky_relu` (slope 0.3), the Keras 2 defaults the notebooks rely on (docs/reference.md §0), so a
family writes `layers.Conv(32, (3, 3), strides=2)` and gets the reference layer.

`Conv` and `ConvTranspose` are drop-in replacements for `flax.linen.Conv` / `flax.linen.ConvTranspose` (same
parameter names, shapes and function; `transpose_kernel=False`) whose `impl` picks how the convolution is
computed (`jaxgen.nn.conv`: "auto" is resolved when the layer is traced, from the backend it runs on).
Arrays are NHWC; kernels are HWIO (kh, kw, in, out), as in Flax.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn.conv import PaddingLike, resolve_impl

# Keras 2 defaults.
KERAS_LEAKY_SLOPE = 0.3      # `layers.LeakyReLU()` with no argument
DCGAN_LEAKY_SLOPE = 0.2      # `layers.LeakyReLU(0.2)`
KERAS_BN_MOMENTUM = 0.99
KERAS_BN_EPSILON = 1e-3
glorot_uniform = nn.initializers.glorot_uniform()
zeros = nn.initializers.zeros


def leaky_relu(x: jax.Array, negative_slope: float = KERAS_LEAKY_SLOPE) -> jax.Array:
  """Keras `LeakyReLU()`: slope 0.3 unless given (the DCGAN/WGAN notebooks pass 0.2)."""
  return jnp.where(x >= 0, x, negative_slope * x)


class Dense(nn.Dense):
  """`nn.Dense` with the Keras default kernel init (glorot_uniform)."""
  kernel_init: Callable[..., Any] = glorot_uniform


class BatchNorm(nn.BatchNorm):
  """`nn.BatchNorm` with the Keras defaults momentum 0.99, epsilon 1e-3 (biased batch variance and moving-average
  convention as Keras, docs/reference.md §0). Pass `momentum=0.9` for the DCGAN/WGAN layers.

  Mixed precision: with `dtype=None` the output has the input's dtype. Flax promotes it to float32 because the
  moving statistics are float32, which would silently end bfloat16 computation at the first BatchNorm; the
  statistics themselves are always computed and kept in float32.
  """
  momentum: float = KERAS_BN_MOMENTUM
  epsilon: float = KERAS_BN_EPSILON

  @nn.compact
  def __call__(self, x, use_running_average=None, *, mask=None):
    y = super().__call__(x, use_running_average, mask=mask)
    return y if self.dtype is not None else y.astype(x.dtype)


class _ConvBase(nn.Module):
  """Fields and parameters shared by `Conv` and `ConvTranspose`: `kernel` (kh, kw, in, features) and
  `bias` (features,), with the names, shapes and Keras initialisers of Flax's layers."""
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] | int = 1
  padding: PaddingLike = "SAME"
  use_bias: bool = True
  kernel_init: Callable[..., Any] = glorot_uniform
  bias_init: Callable[..., Any] = zeros
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None
  impl: Any = "auto"         # "auto", a key of the subclass's formulation table, or a formulation function

  def _strides(self) -> tuple[int, int]:
    return (self.strides,) * 2 if isinstance(self.strides, int) else tuple(self.strides)

  def _conv_apply(self, x: jax.Array, transpose: bool) -> jax.Array:
    """Creates the parameters and returns formulation(x, kernel, strides, padding) + bias."""
    kernel_shape = tuple(self.kernel_size) + (x.shape[-1], self.features)
    kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = resolve_impl(self.impl, transpose)(x, kernel, self._strides(), self.padding, precision=self.precision)
    return y if bias is None else y + bias


class ConvTranspose(_ConvBase):
  """Drop-in `nn.ConvTranspose` (transpose_kernel=False) with the Keras kernel init.

  Parameters `kernel` (kh, kw, in, features) and `bias` (features,) have the names and shapes of
  `nn.ConvTranspose`, so parameters move between the two unchanged and the outputs agree to float rounding.
  Output size: H·s for "SAME", (H−1)·s + max(k, s) for "VALID" (the Keras Conv2DTranspose sizes).
  `impl`: "auto" (see `conv.resolve_impl`), a key of conv.CONV_TRANSPOSE_IMPLS or a formulation function.
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._conv_apply(x, transpose=True)


class Conv(_ConvBase):
  """Drop-in `nn.Conv` (2-D, NHWC) with the Keras kernel init.

  Parameters `kernel` (kh, kw, in, features) and `bias` (features,) as `nn.Conv`; padding "SAME" (= TF/Keras
  "same": the extra pixel at the end), "VALID" or explicit ((lo, hi), (lo, hi)). `impl`: "auto" (see
  `conv.resolve_impl`), a key of conv.CONV_IMPLS or a formulation function.
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return self._conv_apply(x, transpose=False)
