"""Exact convolution formulations (NHWC inputs, HWIO kernels) and the per-backend choice between them.

All compute the sums of XLA's `lax` convolution (only the summation order may differ):
  "lax"             XLA's own (cuDNN on GPUs, the TPU's convolution units): "auto" on GPU/TPU.
  "matmul"          im2col / overlap-add matmuls with hand-written adjoints: "auto" on the CPU, where XLA computes
                    strided-conv input gradients and transposed convs as slow input-dilated convolutions (on
                    GPU/TPU it would materialise kh·kw copies of every activation).
  "space_to_depth"  strided convolutions as a stride-1 convolution of the space-to-depth input.
`conv_impl_scope(name)` forces one for every layer left at impl="auto" (`model.conv_impl`, via jaxgen.nn.policy).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

PaddingLike = str | Sequence[tuple[int, int]]


# ----------------------------------------------------------------------------------------------------------
# Padding rules and the space-to-depth formulation of strided convolutions.


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


def space_to_depth(x: jax.Array, sh: int, sw: int) -> jax.Array:
  """(N, H·sh, W·sw, C) -> (N, H, W, sh·sw·C) with channels ordered (sh, sw, C)."""
  n, h, w, c = x.shape
  x = x.reshape(n, h // sh, sh, w // sw, sw, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, h // sh, w // sw, sh * sw * c)


def conv_padding(size: int, k: int, s: int, padding: PaddingLike, axis: int) -> tuple[int, int]:
  """(low, high) input padding of `lax.conv_general_dilated` ("SAME" = TF: extra pixel at the end)."""
  if isinstance(padding, str):
    if padding == "VALID":
      return 0, 0
    if padding == "SAME":
      out = -(-size // s)
      total = max((out - 1) * s + k - size, 0)
      return total // 2, total - total // 2
    raise ValueError(f"padding={padding!r}: use 'SAME', 'VALID' or explicit ((lo, hi), (lo, hi)) pairs.")
  return tuple(padding[axis])


def conv_space_to_depth(x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: PaddingLike = "SAME",
                        precision=None) -> jax.Array:
  """Same function as a strided `lax.conv_general_dilated`, as space-to-depth + a stride-1 convolution.

  out[o] = Σ_j xp[s·o + j]·w[j]; with j = s·a + p and xs[i, p] = xp[s·i + p] this is
  Σ_{a, p} xs[o + a, p]·w[s·a + p]: a ⌈k/s⌉-tap stride-1 convolution over s·s·in channels (taps with
  s·a + p ≥ k are exact zeros).
  """
  sh, sw = (int(s) for s in strides)
  kh, kw, cin, cout = kernel.shape
  n, h, w, _ = x.shape
  (lo_h, hi_h), (lo_w, hi_w) = conv_padding(h, kh, sh, padding, 0), conv_padding(w, kw, sw, padding, 1)
  out_h = (h + lo_h + hi_h - kh) // sh + 1
  out_w = (w + lo_w + hi_w - kw) // sw + 1
  ah, aw = -(-kh // sh), -(-kw // sw)
  # Pad (or crop) so the padded input is exactly s·(out + a − 1) long: whole s-blocks for space-to-depth.
  xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (lo_h, sh * (out_h + ah - 1) - h - lo_h, 0),
                                           (lo_w, sw * (out_w + aw - 1) - w - lo_w, 0), (0, 0, 0)))
  xs = space_to_depth(xp, sh, sw)                                                # (N, ., ., sh·sw·in)
  k = jnp.pad(kernel, ((0, sh * ah - kh), (0, sw * aw - kw), (0, 0), (0, 0)))    # (sh·ah, sw·aw, in, out)
  k = k.reshape(ah, sh, aw, sw, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(ah, aw, sh * sw * cin, cout)
  return lax.conv_general_dilated(xs, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  precision=precision)


# ----------------------------------------------------------------------------------------------------------
# Matmul formulations with hand-written adjoints: im2col and overlap-add are each other's transpose.
#
# Geometry of one spatial axis: an output grid of `o` positions with stride s and k taps covers the "full"
# line of length L = s·(o − 1) + k; the data line of length n sits in it from offset `start` (negative or
# overhanging offsets crop). im2col reads P[q, j] = full[s·q + j]; overlap-add writes full[s·q + j] += C[q, j]
# and returns the data window. XLA's own autodiff of the slices would materialise one padded copy of the
# whole array per tap; the explicit adjoints keep both directions to one strided gather or one phase sum.


def _im2col_fwd_impl(x, k, s, start, out):
  """x (N, H, W, C) -> patches (N, out_h, out_w, kh, kw, C) with P[q, j] = full[s·q + j] per axis."""
  n_, h, w, c = x.shape
  lh = s[0] * (out[0] - 1) + k[0]
  lw = s[1] * (out[1] - 1) + k[1]
  xp = lax.pad(x, jnp.zeros((), x.dtype),
               ((0, 0, 0), (start[0], lh - start[0] - h, 0), (start[1], lw - start[1] - w, 0), (0, 0, 0)))
  rows = []
  for i in range(k[0]):
    cols = [lax.slice(xp, (0, i, j, 0), (n_, i + s[0] * (out[0] - 1) + 1, j + s[1] * (out[1] - 1) + 1, c),
                      (1, s[0], s[1], 1)) for j in range(k[1])]
    rows.append(jnp.stack(cols, axis=3))
  return jnp.stack(rows, axis=3)                                                 # (N, oh, ow, kh, kw, C)


def _overlap_add_impl(cols, s, start, size):
  """cols (N, oh, ow, kh, kw, C) -> (N, size_h, size_w, C): full[s·q + j] += cols[q, j], window at `start`.

  Phase form: full[s·t + r] = Σ_e cols[t − e, s·e + r] (taps s·e + r < k), one fused sum per phase, then the
  phases interleave.
  """
  n_, oh, ow, kh, kw, c = cols.shape
  eh, ew = -(-kh // s[0]), -(-kw // s[1])
  th, tw = oh + eh - 1, ow + ew - 1
  cp = lax.pad(cols, jnp.zeros((), cols.dtype),
               ((0, 0, 0), (eh - 1, eh - 1, 0), (ew - 1, ew - 1, 0)) + ((0, 0, 0),) * 3)
  phases = []
  for rh in range(s[0]):
    row = []
    for rw in range(s[1]):
      acc = None
      for e in range(eh):
        jh = s[0] * e + rh
        if jh >= kh:
          continue
        for f in range(ew):
          jw = s[1] * f + rw
          if jw >= kw:
            continue
          term = cp[:, eh - 1 - e:eh - 1 - e + th, ew - 1 - f:ew - 1 - f + tw, jh, jw, :]
          acc = term if acc is None else acc + term
      row.append(jnp.zeros((n_, th, tw, c), cols.dtype) if acc is None else acc)
    phases.append(jnp.stack(row, axis=3))                                        # (N, th, tw, sw, C)
  full = jnp.stack(phases, axis=2).reshape(n_, th * s[0], tw * s[1], c)          # (N, th·sh, tw·sw, C)
  return lax.pad(full, jnp.zeros((), full.dtype),
                 ((0, 0, 0), (-start[0], start[0] + size[0] - th * s[0], 0),
                  (-start[1], start[1] + size[1] - tw * s[1], 0), (0, 0, 0)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def im2col(x: jax.Array, geom) -> jax.Array:
  """Patches (N, out_h, out_w, kh, kw, C) of x (N, size_h, size_w, C); the adjoint of `overlap_add`.

  geom = (k, s, start, out, size), each a (h, w) pair of ints (see the section comment).
  """
  k, s, start, out, _ = geom
  return _im2col_fwd_impl(x, k, s, start, out)


im2col.defvjp(lambda x, geom: (im2col(x, geom), None),
              lambda geom, _, g: (_overlap_add_impl(g, geom[1], geom[2], geom[4]),))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def overlap_add(cols: jax.Array, geom) -> jax.Array:
  """Sums patches (N, out_h, out_w, kh, kw, C) onto an (N, size_h, size_w, C) image; the adjoint of `im2col`."""
  _, s, start, _, size = geom
  return _overlap_add_impl(cols, s, start, size)


overlap_add.defvjp(lambda cols, geom: (overlap_add(cols, geom), None),
                   lambda geom, _, g: (_im2col_fwd_impl(g, geom[0], geom[1], geom[2], geom[3]),))


def _matmul_last(a: jax.Array, b: jax.Array, precision=None) -> jax.Array:
  """(..., K) @ (K, M) as one 2-D matmul."""
  y = lax.dot_general(a.reshape(-1, a.shape[-1]), b, (((1,), (0,)), ((), ())), precision=precision)
  return y.reshape(a.shape[:-1] + (b.shape[-1],))


def conv_matmul(x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: PaddingLike = "SAME",
                precision=None) -> jax.Array:
  """Same function as `lax.conv_general_dilated(x, kernel, strides, padding)` (NHWC, HWIO), as matmuls.

  Stride > 1 or in ≤ out: y = im2col(x) @ kernel (patches of the input, kh·kw·in values per output pixel).
  Stride 1 and in > out (e.g. the 32 -> 1 output layer): y = overlap_add(x @ flipped kernel) (contributions
  of every input pixel, kh·kw·out values each: far fewer). The backward passes are matmuls plus the adjoint
  map (overlap-add / im2col).
  """
  s = tuple(int(v) for v in strides)
  kh, kw, cin, cout = kernel.shape
  n_, h, w, _ = x.shape
  (lo_h, hi_h), (lo_w, hi_w) = conv_padding(h, kh, s[0], padding, 0), conv_padding(w, kw, s[1], padding, 1)
  out = ((h + lo_h + hi_h - kh) // s[0] + 1, (w + lo_w + hi_w - kw) // s[1] + 1)
  if s == (1, 1) and cin > cout:
    # y[o] = Σ_j x[o + j − lo]·w[j]: x[i] adds x[i]·w[k−1−j'] at full index i + j', window from k − 1 − lo.
    cols = _matmul_last(x, kernel[::-1, ::-1].transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout), precision)
    geom = ((kh, kw), (1, 1), (kh - 1 - lo_h, kw - 1 - lo_w), (h, w), out)
    return overlap_add(cols.reshape(n_, h, w, kh, kw, cout), geom)
  geom = ((kh, kw), s, (lo_h, lo_w), out, (h, w))
  patches = im2col(x, geom)
  return _matmul_last(patches.reshape(n_, out[0], out[1], kh * kw * cin), kernel.reshape(kh * kw * cin, cout),
                      precision)


def conv_transpose_matmul(x: jax.Array, kernel: jax.Array, strides: Sequence[int],
                          padding: PaddingLike = "SAME", precision=None) -> jax.Array:
  """Same function as `lax.conv_transpose(x, kernel, strides, padding)`, as one matmul plus overlap-add.

  y[o] = Σ_j xd[o + j − pad_a]·w[j]: input pixel i adds x[i]·w[k−1−j'] at full index s·i + j', and the output
  window starts at k − 1 − pad_a. Exactly the kh·kw·in·out products per input pixel (no zero taps); the
  backward pass is two matmuls and one im2col of the output gradient (a strided convolution's gather).
  """
  s = tuple(int(v) for v in strides)
  kh, kw, cin, cout = kernel.shape
  n_, h, w, _ = x.shape
  if isinstance(padding, str):
    pads = [conv_transpose_padding(k, st, padding) for k, st in zip((kh, kw), s)]
  else:
    pads = [tuple(p) for p in padding]
  size = tuple((m - 1) * st + 1 + pa + pb - k + 1 for m, st, (pa, pb), k in zip((h, w), s, pads, (kh, kw)))
  cols = _matmul_last(x, kernel[::-1, ::-1].transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout), precision)
  geom = ((kh, kw), s, (kh - 1 - pads[0][0], kw - 1 - pads[1][0]), (h, w), size)
  return overlap_add(cols.reshape(n_, h, w, kh, kw, cout), geom)


def conv_lax(x, kernel, strides, padding="SAME", precision=None):
  """XLA's own convolution (what `nn.Conv` computes): "auto" on GPU and TPU."""
  strides = tuple(int(s) for s in strides)
  pads = [conv_padding(x.shape[1 + a], kernel.shape[a], strides[a], padding, a) for a in range(2)]
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  precision=precision)


def conv_transpose_lax(x, kernel, strides, padding="SAME", precision=None):
  """XLA's own transposed convolution (what `nn.ConvTranspose` computes): "auto" on GPU and TPU."""
  return lax.conv_transpose(x, kernel, tuple(strides), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                            precision=precision)


# What `impl="auto"` resolves to on the CPU (the fastest for strided, stride-1 and transposed convolutions alike,
# benchmarks/conv_formulations.py); every other backend gets "lax".
CPU_CONV_IMPL = "matmul"
CPU_CONV_TRANSPOSE_IMPL = "matmul"

CONV_IMPLS = {"lax": conv_lax, "matmul": conv_matmul, "space_to_depth": conv_space_to_depth}
CONV_TRANSPOSE_IMPLS = {"lax": conv_transpose_lax, "matmul": conv_transpose_matmul}
# The names `model.conv_impl` accepts: "auto" or a formulation for every layer. "space_to_depth" only exists for
# strided convolutions; under it, transposed convolutions use "matmul".
FORCEABLE_IMPLS = ("auto", "lax", "matmul", "space_to_depth")

_FORCED_IMPL = contextvars.ContextVar("jaxgen_conv_impl", default="auto")


@contextlib.contextmanager
def conv_impl_scope(impl: str):
  """Every `Conv` / `ConvTranspose` with impl="auto" traced inside uses `impl` (one of FORCEABLE_IMPLS)."""
  if impl not in FORCEABLE_IMPLS:
    raise ValueError(f"conv impl {impl!r}: choose one of {', '.join(FORCEABLE_IMPLS)}.")
  token = _FORCED_IMPL.set(impl)
  try:
    yield
  finally:
    _FORCED_IMPL.reset(token)


def on_cpu(backend: str | None = None) -> bool:
  """True when computations are traced for the CPU (`backend`, default `jax.default_backend()`)."""
  return (backend or jax.default_backend()) == "cpu"


def resolve_impl(impl, transpose: bool, backend: str | None = None):
  """The formulation (a function of (x, kernel, strides, padding, precision)) a layer with `impl` runs.

  impl: a formulation function, a key of CONV_IMPLS / CONV_TRANSPOSE_IMPLS, or "auto". "auto" takes the name
  forced by an enclosing `conv_impl_scope`, if any, else CPU_CONV_IMPL / CPU_CONV_TRANSPOSE_IMPL on the CPU and
  "lax" on every other backend (GPU, TPU).
  """
  if callable(impl):
    return impl
  table = CONV_TRANSPOSE_IMPLS if transpose else CONV_IMPLS
  if impl == "auto":
    impl = _FORCED_IMPL.get()
    if transpose and impl == "space_to_depth":
      impl = "matmul"
  if impl == "auto":
    impl = (CPU_CONV_TRANSPOSE_IMPL if transpose else CPU_CONV_IMPL) if on_cpu(backend) else "lax"
  if impl not in table:
    raise ValueError(f"impl={impl!r}: choose 'auto' or one of {', '.join(table)}.")
  return table[impl]
