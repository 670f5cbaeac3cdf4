"""Keras-default layers shared by every family, and fast exact convolution formulations for XLA:CPU.

The Keras notebooks rely on Keras 2 defaults that differ from Flax's (REFERENCE.md §0). The layers here set
them explicitly, so a family writes `layers.Conv(32, (3, 3), strides=2)` and gets the reference layer:

  Dense, Conv, ConvTranspose   kernel_init glorot_uniform (Flax: lecun_normal), bias zeros
  BatchNorm                    momentum 0.99, epsilon 1e-3 (Flax: epsilon 1e-5)
  leaky_relu(x)                slope 0.3 = Keras `LeakyReLU()` with no argument (Flax: 0.01)

`ConvTranspose` is a drop-in replacement for `flax.linen.ConvTranspose` (same parameter names, shapes and
function, `transpose_kernel=False`), computed in the *sub-pixel* formulation: one stride-1 convolution whose
output channels hold the s·s output phases, followed by depth-to-space. On XLA:CPU the backward pass of a
strided transposed convolution (an input-dilated convolution) is dozens of times slower than that of a
stride-1 convolution; the sub-pixel form computes the same sums (each output element is the same sum of the
same products, only the summation order may differ) without ever dilating the input.
`benchmarks/conv_formulations.py` measures the alternatives.

All arrays are NHWC; kernels are HWIO (kh, kw, in, out), as in Flax.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# Keras 2 defaults (REFERENCE.md §0).
KERAS_LEAKY_SLOPE = 0.3      # `layers.LeakyReLU()` with no argument
DCGAN_LEAKY_SLOPE = 0.2      # `layers.LeakyReLU(0.2)`
KERAS_BN_MOMENTUM = 0.99
KERAS_BN_EPSILON = 1e-3
glorot_uniform = nn.initializers.glorot_uniform()
zeros = nn.initializers.zeros

PaddingLike = str | Sequence[tuple[int, int]]


def leaky_relu(x: jax.Array, negative_slope: float = KERAS_LEAKY_SLOPE) -> jax.Array:
  """Keras `LeakyReLU()`: slope 0.3 unless given (the DCGAN/WGAN notebooks pass 0.2)."""
  return jnp.where(x >= 0, x, negative_slope * x)


class Dense(nn.Dense):
  """`nn.Dense` with the Keras default kernel init (glorot_uniform)."""
  kernel_init: Callable[..., Any] = glorot_uniform


class Conv(nn.Conv):
  """`nn.Conv` with the Keras default kernel init (glorot_uniform); padding "SAME" = TF/Keras "same"."""
  kernel_init: Callable[..., Any] = glorot_uniform


class BatchNorm(nn.BatchNorm):
  """`nn.BatchNorm` with the Keras defaults momentum 0.99, epsilon 1e-3 (biased batch variance, as Keras).

  moving = momentum·moving + (1 − momentum)·batch, the same convention as Keras. Pass `momentum=0.9` for the
  DCGAN/WGAN layers.
  """
  momentum: float = KERAS_BN_MOMENTUM
  epsilon: float = KERAS_BN_EPSILON


# ----------------------------------------------------------------------------------------------------------
# Transposed convolution, sub-pixel formulation.


def conv_transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
  """The (low, high) padding `lax.conv_transpose` applies to the s-dilated input (its own rule)."""
  if padding == "SAME":
    pad_len = k + s - 2
    pad_a = k - 1 if s > k - 1 else int(math.ceil(pad_len / 2))
  elif padding == "VALID":
    pad_len = k + s - 2 + max(k - s, 0)
    pad_a = k - 1
  else:
    raise ValueError(f"padding={padding!r}: use 'SAME', 'VALID' or explicit ((lo, hi), (lo, hi)) pairs.")
  return pad_a, pad_len - pad_a


@functools.lru_cache(maxsize=None)
def _subpixel_plan(n: int, k: int, s: int, pad_a: int, pad_b: int):
  """Index plan for one spatial axis of the sub-pixel transposed convolution.

  `lax.conv_transpose` (transpose_kernel=False) computes y[o] = Σ_j xd[o + j − pad_a]·w[j], where xd is the
  input dilated by s (xd[s·i] = x[i], zeros between). Writing o = s·q + r (phase r), only taps j with
  r + j − pad_a ≡ 0 (mod s) meet a non-zero, at x[q + d] with d = (r + j − pad_a)/s. So every phase is a
  stride-1 correlation of x with a sub-kernel over offsets d; stacking the phases on the output-channel
  axis gives one stride-1 convolution with kernel taps d_min..d_max.

  Returns (idx (D, s) int: tap j used at offset d for phase r, or k for "no tap" (a zero row);
  (lo, hi) padding of x; Q outputs per phase; out_len).
  """
  out_len = (n - 1) * s + 1 + pad_a + pad_b - k + 1
  q = -(-out_len // s)
  taps = [(r, (r + j - pad_a) // s, j) for r in range(s) for j in range(k) if (r + j - pad_a) % s == 0]
  d_min = min(d for _, d, _ in taps)
  d_max = max(d for _, d, _ in taps)
  idx = np.full((d_max - d_min + 1, s), k, dtype=np.int32)
  for r, d, j in taps:
    idx[d - d_min, r] = j
  lo = -d_min
  hi = (q - 1 + d_max) - (n - 1)
  return idx, (lo, hi), q, out_len


def subpixel_kernel(kernel: jax.Array, strides: tuple[int, int], plans) -> jax.Array:
  """Rearranges a (kh, kw, in, out) transposed-conv kernel into the (Dh, Dw, in, sh·sw·out) stride-1 kernel.

  A pure gather (no arithmetic): entries with no tap are exact zeros.
  """
  (idx_h, *_), (idx_w, *_) = plans
  kh, kw, cin, cout = kernel.shape
  w = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))                         # row/col k = zeros
  k = w[idx_h[:, :, None, None], idx_w[None, None, :, :]]                        # (Dh, sh, Dw, sw, in, out)
  k = k.transpose(0, 2, 4, 1, 3, 5)                                              # (Dh, Dw, in, sh, sw, out)
  return k.reshape(idx_h.shape[0], idx_w.shape[0], cin, strides[0] * strides[1] * cout)


def depth_to_space(y: jax.Array, sh: int, sw: int) -> jax.Array:
  """(N, H, W, sh·sw·C) with channels ordered (sh, sw, C) -> (N, H·sh, W·sw, C)."""
  n, h, w, c = y.shape
  c //= sh * sw
  y = y.reshape(n, h, w, sh, sw, c).transpose(0, 1, 3, 2, 4, 5)
  return y.reshape(n, h * sh, w * sw, c)


def space_to_depth(x: jax.Array, sh: int, sw: int) -> jax.Array:
  """(N, H·sh, W·sw, C) -> (N, H, W, sh·sw·C) with channels ordered (sh, sw, C); the inverse of depth_to_space."""
  n, h, w, c = x.shape
  x = x.reshape(n, h // sh, sh, w // sw, sw, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, h // sh, w // sw, sh * sw * c)


def conv_transpose_subpixel(x: jax.Array, kernel: jax.Array, strides: Sequence[int],
                            padding: PaddingLike = "SAME", precision=None) -> jax.Array:
  """Same function as `lax.conv_transpose(x, kernel, strides, padding)` (NHWC, HWIO, transpose_kernel=False).

  x: (N, H, W, in); kernel: (kh, kw, in, out); padding "SAME", "VALID" or ((lo, hi), (lo, hi)) on the
  dilated input, as `lax.conv_transpose`. Returns (N, H', W', out) with H' = H·s ("SAME"),
  (H−1)·s + max(k, s) ("VALID").
  """
  strides = tuple(int(s) for s in strides)
  kh, kw = kernel.shape[:2]
  if isinstance(padding, str):
    pads = [conv_transpose_padding(k, s, padding) for k, s in zip((kh, kw), strides)]
  else:
    pads = [tuple(p) for p in padding]
  plans = [_subpixel_plan(int(n), int(k), s, int(pa), int(pb))
           for n, k, s, (pa, pb) in zip(x.shape[1:3], (kh, kw), strides, pads)]
  k_sub = subpixel_kernel(kernel, strides, plans)
  (_, (lo_h, hi_h), _, out_h), (_, (lo_w, hi_w), _, out_w) = plans
  xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (lo_h, hi_h, 0), (lo_w, hi_w, 0), (0, 0, 0)))
  y = lax.conv_general_dilated(xp, k_sub, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                               precision=precision)
  y = depth_to_space(y, *strides)
  return y[:, :out_h, :out_w, :]


class ConvTranspose(nn.Module):
  """Drop-in `nn.ConvTranspose` (transpose_kernel=False) with the Keras kernel init, computed sub-pixel.

  Parameters `kernel` (kh, kw, in, features) and `bias` (features,) have the names and shapes of
  `nn.ConvTranspose`, so parameters move between the two unchanged and the outputs agree to float rounding.
  Output size: H·s for "SAME", (H−1)·s + max(k, s) for "VALID" (the Keras Conv2DTranspose sizes).
  """
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

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel_size = tuple(self.kernel_size)
    strides = (self.strides,) * 2 if isinstance(self.strides, int) else tuple(self.strides)
    kernel = self.param("kernel", self.kernel_init, kernel_size + (x.shape[-1], self.features), self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = conv_transpose_subpixel(x, kernel, strides, self.padding, precision=self.precision)
    if bias is not None:
      y = y + bias
    return y
