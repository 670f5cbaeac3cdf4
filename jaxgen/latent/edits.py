"""Latent edits along directions: w + alpha * d, on every layer of W+ or on layer ranges with per-range weights
(e.g. strong on the coarse early layers, weak on the fine late ones), and two-direction grids.

Works for W+ (..., L, D) with per-layer weights, and for flat latents (..., D) (VAE z, diffusion noise) with none.
"""
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import JaxgenError, check


def parse_alphas(spec: str) -> np.ndarray:
  """'lo:hi:n' -> n evenly spaced values from lo to hi inclusive (e.g. '-4:4:7' -> -4, -2.67, ..., 4)."""
  parts = str(spec).split(":")
  try:
    lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
    check(len(parts) == 3 and n >= 1, "")
  except (ValueError, IndexError, JaxgenError):
    raise JaxgenError(f"alphas={spec!r} is not allowed; write 'lo:hi:n' with n >= 1, e.g. '-4:4:7'.") from None
  return np.linspace(lo, hi, n, dtype=np.float32)


def layer_weights(num_layers: int, spec: Optional[str] = None) -> np.ndarray:
  """Per-layer weights (num_layers,) from 'a:b=s,c:d=t' (layers [a, b) get s, [c, d) get t, others 0).

  None, '' or 'all' -> ones. An end may be left out ('4:' = to the last layer); '=s' may be left out (weight 1).
  Example for 8 layers: '0:4=1,4:8=0.25' -> strong on the coarse layers, weak on the fine ones.
  """
  if spec is None or str(spec).strip() in ("", "all"):
    return np.ones(num_layers, np.float32)
  weights = np.zeros(num_layers, np.float32)
  for part in str(spec).split(","):
    rng, _, value = part.partition("=")
    try:
      lo, _, hi = rng.partition(":")
      lo = int(lo) if lo.strip() else 0
      hi = int(hi) if hi.strip() else num_layers
      scale = float(value) if value.strip() else 1.0
    except ValueError:
      raise JaxgenError(f"edit layers {spec!r} is not allowed; write ranges like '0:4=1.0,4:{num_layers}=0.25'.") \
          from None
    check(0 <= lo < hi <= num_layers,
          f"edit layer range {lo}:{hi} in {spec!r} is outside the generator's layers [0, {num_layers}).")
    weights[lo:hi] = scale
  return weights


def apply_direction(w: jax.Array, direction: jax.Array, alpha, weights: Optional[Sequence[float]] = None) -> jax.Array:
  """w + alpha * weights[l] * direction.

  w: (..., D) or W+ (..., L, D); direction: (D,); alpha: scalar or array broadcastable to w's batch shape;
  weights: (L,) per-layer weights (W+ only), None = every layer with weight 1.
  """
  w = jnp.asarray(w)
  alpha = jnp.asarray(alpha, w.dtype)
  if weights is None:
    return w + alpha[..., None] * direction if alpha.ndim else w + alpha * direction
  weights = jnp.asarray(weights, w.dtype)
  if weights.shape[0] != w.shape[-2]:
    raise JaxgenError(f"{weights.shape[0]} layer weights for a W+ with {w.shape[-2]} layers.")
  return w + alpha[..., None, None] * weights[:, None] * direction


def sweep(w: jax.Array, direction: jax.Array, alphas, weights=None) -> jax.Array:
  """Edits of every latent for every alpha: w (B, ...) -> (B, A, ...) with [b, a] = w[b] + alphas[a] * d."""
  alphas = jnp.asarray(alphas)
  return jax.vmap(lambda a: apply_direction(w, direction, a, weights), out_axes=1)(alphas)


def grid(w: jax.Array, direction_rows: jax.Array, direction_cols: jax.Array, alphas_rows, alphas_cols,
         weights=None) -> jax.Array:
  """Two directions composed on a grid for one latent w (...): (R, C, ...) with
  [r, c] = w + alphas_rows[r] * d_rows + alphas_cols[c] * d_cols (layer weights applied to both)."""
  rows = sweep(w[None], direction_rows, alphas_rows, weights)[0]    # (R, ...)
  return sweep(rows, direction_cols, alphas_cols, weights)          # (R, C, ...)
