"""Convolution formulations measured by benchmarks/conv_formulations.py that no family uses.

They compute exactly what `lax.conv_transpose` / `lax.conv_general_dilated` compute (tests/test_layers.py checks
them against `lax`) and plug into `jaxgen.nn.layers.Conv` / `ConvTranspose` as `impl=<function>`:

  conv_transpose_subpixel  one stride-1 convolution whose output channels hold the s·s output phases, then
                           depth-to-space (no input dilation)
  conv_transpose_col2im    one (N·H·W, in) x (in, kh·kw·out) matmul, then each output phase sums its taps
  conv_im2col              the kh·kw strided slices concatenated on the channel axis, one matmul (XLA's own
                           autodiff; `conv.conv_matmul` is the same forward pass with hand-written adjoints)
"""
from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxgen.nn import conv

PaddingLike = conv.PaddingLike


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
    pads = [conv.conv_transpose_padding(k, s, padding) for k, s in zip((kh, kw), strides)]
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


def conv_transpose_col2im(x: jax.Array, kernel: jax.Array, strides: Sequence[int],
                          padding: PaddingLike = "SAME", precision=None) -> jax.Array:
  """Same function as `lax.conv_transpose(x, kernel, strides, padding)`, as one matmul plus overlap-add.

  C[n, i, j_h, j_w] = x[n, i] @ kernel[j_h, j_w] for every input pixel and tap (one (N·H·W, in) x
  (in, kh·kw·out) matmul: exactly the products of the transposed convolution, no zero taps), then each
  output phase (r_h, r_w) adds the shifted slices C[q + d] of its taps (`_subpixel_plan`), and the phases
  interleave (depth-to-space). Its backward pass is two matmuls and slicing.
  """
  strides = tuple(int(s) for s in strides)
  kh, kw, cin, cout = kernel.shape
  if isinstance(padding, str):
    pads = [conv.conv_transpose_padding(k, s, padding) for k, s in zip((kh, kw), strides)]
  else:
    pads = [tuple(p) for p in padding]
  n, h, w, _ = x.shape
  plans = [_subpixel_plan(int(m), int(k), s, int(pa), int(pb))
           for m, k, s, (pa, pb) in zip((h, w), (kh, kw), strides, pads)]
  (idx_h, (lo_h, hi_h), q_h, out_h), (idx_w, (lo_w, hi_w), q_w, out_w) = plans
  c = lax.dot_general(x.reshape(n * h * w, cin), kernel.transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout),
                      (((1,), (0,)), ((), ())), precision=precision)
  c = c.reshape(n, h, w, kh, kw, cout)
  c = lax.pad(c, jnp.zeros((), c.dtype), ((0, 0, 0), (lo_h, hi_h, 0), (lo_w, hi_w, 0)) + ((0, 0, 0),) * 3)
  phases = []
  for rh in range(strides[0]):
    row = []
    for rw in range(strides[1]):
      acc = jnp.zeros((n, q_h, q_w, cout), c.dtype)
      for dh in range(idx_h.shape[0]):
        jh = int(idx_h[dh, rh])
        if jh == kh:
          continue
        for dw in range(idx_w.shape[0]):
          jw = int(idx_w[dw, rw])
          if jw == kw:
            continue
          acc = acc + c[:, dh:dh + q_h, dw:dw + q_w, jh, jw, :]
      row.append(acc)
    phases.append(jnp.stack(row, axis=3))                                        # (N, Qh, Qw, sw, out)
  y = jnp.stack(phases, axis=2)                                                  # (N, Qh, sh, Qw, sw, out)
  y = y.reshape(n, q_h * strides[0], q_w * strides[1], cout)
  return y[:, :out_h, :out_w, :]



def conv_im2col(x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: PaddingLike = "SAME",
                precision=None) -> jax.Array:
  """Same function as `lax.conv_general_dilated(x, kernel, strides, padding)` (NHWC, HWIO), as one matmul.

  The kh·kw strided slices of the padded input are concatenated on the channel axis (order (i, j, c), the
  row order of kernel.reshape(kh·kw·in, out)) and multiplied by the reshaped kernel.
  """
  strides = tuple(int(s) for s in strides)
  kh, kw, cin, cout = kernel.shape
  n, h, w, _ = x.shape
  (lo_h, hi_h), (lo_w, hi_w) = (conv.conv_padding(h, kh, strides[0], padding, 0),
                                conv.conv_padding(w, kw, strides[1], padding, 1))
  xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (lo_h, hi_h, 0), (lo_w, hi_w, 0), (0, 0, 0)))
  out_h = (h + lo_h + hi_h - kh) // strides[0] + 1
  out_w = (w + lo_w + hi_w - kw) // strides[1] + 1
  if kh == kw == 1 and strides == (1, 1):
    patches = xp
  else:
    patches = jnp.concatenate(
        [lax.slice(xp, (0, i, j, 0), (n, i + strides[0] * (out_h - 1) + 1, j + strides[1] * (out_w - 1) + 1, cin),
                   (1, strides[0], strides[1], 1)) for i in range(kh) for j in range(kw)], axis=-1)
  y = lax.dot_general(patches.reshape(n * out_h * out_w, kh * kw * cin), kernel.reshape(kh * kw * cin, cout),
                      (((1,), (0,)), ((), ())), precision=precision)
  return y.reshape(n, out_h, out_w, cout)


# Names conv_formulations.py uses for every formulation: library names stay strings (layers resolves them).
CONV = {"lax": "lax", "matmul": "matmul", "space_to_depth": "space_to_depth", "im2col": conv_im2col}
CONV_TRANSPOSE = {"lax": "lax", "matmul": "matmul", "subpixel": conv_transpose_subpixel,
                  "col2im": conv_transpose_col2im}
