"""FIR resampling of images: upsample (zero insertion), pad, FIR-filter, downsample ("upfirdn2d").

StyleGAN2 resamples with the separable low-pass filter [1, 3, 3, 1] (outer product, normalised to sum 1):
  upfirdn2d(x, f, up, down, padding) = downsample_down( conv2d( pad( zero_insert_up(x) ), f ) )
where conv2d is a true 2-D convolution (the filter is flipped before the correlation unless `flip_filter`) and the
filter is scaled by `gain`. Negative padding crops. Layout: NHWC.
"""
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

FIR_1331 = (1.0, 3.0, 3.0, 1.0)


def setup_filter(taps: Sequence[float] = FIR_1331, normalize: bool = True) -> np.ndarray:
  """1-D taps (K,) -> the 2-D filter (K, K) = outer(taps, taps), divided by its sum if `normalize`."""
  f = np.asarray(taps, np.float32)
  f = np.outer(f, f) if f.ndim == 1 else f
  return (f / f.sum() if normalize else f).astype(np.float32)


def _fir_1d(x: jax.Array, taps: np.ndarray, axis: int) -> jax.Array:
  """Valid correlation of x with 1-D `taps` along `axis`, as a sum of shifted slices (cheap to compile, no conv)."""
  n = x.shape[axis] - len(taps) + 1
  out = None
  for t, c in enumerate(taps):
    if c == 0:
      continue
    term = jax.lax.slice_in_dim(x, t, t + n, axis=axis) * jnp.asarray(c, x.dtype)
    out = term if out is None else out + term
  return out if out is not None else jnp.zeros_like(jax.lax.slice_in_dim(x, 0, n, axis=axis))


def upfirdn2d(x: jax.Array, f, up: int = 1, down: int = 1, padding: Sequence[int] = (0, 0, 0, 0),
              flip_filter: bool = False, gain: float = 1.0) -> jax.Array:
  """x (B, H, W, C); f (fh, fw) (a constant); padding (x0, x1, y0, y1) in pixels of the upsampled image (negative
  = crop). Returns (B, H', W', C) with H' = (H * up + y0 + y1 - fh) // down + 1 (and likewise W').

  The filter is applied as sums of shifted slices: separably (two 1-D passes) when f has rank 1, as [1,3,3,1] does.
  """
  px0, px1, py0, py1 = padding
  f = np.asarray(f, np.float64) * gain
  if not flip_filter:
    f = f[::-1, ::-1]
  # Zero insertion (interior padding up - 1, and up - 1 trailing zeros as the reference's reshape) and padding.
  x = jax.lax.pad(x, jnp.zeros((), x.dtype),
                  [(0, 0, 0), (py0, py1 + up - 1, up - 1), (px0, px1 + up - 1, up - 1), (0, 0, 0)])
  u, s, vt = np.linalg.svd(f)
  if s.size > 1 and s[1] <= 1e-7 * s[0]:                     # separable: f = outer(fy, fx)
    x = _fir_1d(x, u[:, 0] * np.sqrt(s[0]), axis=1)
    x = _fir_1d(x, vt[0] * np.sqrt(s[0]), axis=2)
  else:
    rows = [_fir_1d(jax.lax.slice_in_dim(x, i, x.shape[1] - f.shape[0] + 1 + i, axis=1), f[i], axis=2)
            for i in range(f.shape[0])]
    x = sum(rows[1:], rows[0])
  return x[:, ::down, ::down]


def upsample2d(x: jax.Array, f, up: int = 2) -> jax.Array:
  """x2 (by default) upsampling with filter f (K, K): (B, H, W, C) -> (B, up H, up W, C); gain up^2 keeps the mean."""
  k = f.shape[0]
  p = ((k + up - 1) // 2, (k - up) // 2)
  return upfirdn2d(x, f, up=up, padding=(p[0], p[1], p[0], p[1]), gain=up * up)


def downsample2d(x: jax.Array, f, down: int = 2) -> jax.Array:
  """/2 (by default) downsampling after filtering with f (K, K): (B, H, W, C) -> (B, H / down, W / down, C)."""
  k = f.shape[0]
  p = ((k - down + 1) // 2, (k - down) // 2)
  return upfirdn2d(x, f, down=down, padding=(p[0], p[1], p[0], p[1]))
