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


# Layer groups of an edit, as fractions of the W+ layers: for the 18 styles of a 1024x1024 StyleGAN2 these are
# layers 0-6 ("coarse": pose, face shape, age), 7-11 ("middle": features, expression) and 12-17 ("fine": colour,
# micro-structure).
LAYER_PRESETS = {"coarse": (0.0, 7 / 18), "middle": (7 / 18, 12 / 18), "fine": (12 / 18, 1.0)}


def preset_range(num_layers: int, name: str) -> tuple:
  """[lo, hi) layer indices of a LAYER_PRESETS group for a W+ of `num_layers` (18 -> coarse 0:7, middle 7:12)."""
  lo, hi = LAYER_PRESETS[name]
  return int(round(lo * num_layers)), int(round(hi * num_layers))


def layer_weights(num_layers: int, spec: Optional[str] = None) -> np.ndarray:
  """Per-layer weights (num_layers,) of an edit, from a spec:

  None, '' or 'all'       ones (every layer).
  'w0,w1,...'             one weight per layer (exactly num_layers numbers).
  'a:b=s,c:d=t'           layers [a, b) get s, [c, d) get t, others 0; an end may be left out ('4:' = to the last
                          layer), '=s' too (weight 1).
  'coarse=1,middle=0.5,fine=0.1'   the LAYER_PRESETS groups (a name alone = weight 1 on that group); may be mixed
                          with ranges.
  """
  if spec is None or str(spec).strip() in ("", "all"):
    return np.ones(num_layers, np.float32)
  parts = [p.strip() for p in str(spec).split(",")]
  if all(":" not in p and "=" not in p and p not in LAYER_PRESETS for p in parts):
    try:
      values = np.asarray([float(p) for p in parts], np.float32)
    except ValueError:
      values = None
    if values is not None:
      check(values.size == num_layers, f"layer weights {spec!r} give {values.size} numbers for a W+ with "
            f"{num_layers} layers; give {num_layers} or use ranges/presets like 'coarse=1,middle=0.5,fine=0.1'.")
      return values
  weights = np.zeros(num_layers, np.float32)
  for part in parts:
    rng, _, value = part.partition("=")
    try:
      if rng.strip() in LAYER_PRESETS:
        lo, hi = preset_range(num_layers, rng.strip())
      else:
        lo, _, hi = rng.partition(":")
        lo = int(lo) if lo.strip() else 0
        hi = int(hi) if hi.strip() else num_layers
      scale = float(value) if value.strip() else 1.0
    except ValueError:
      raise JaxgenError(f"layer weights {spec!r} are not allowed; write ranges like '0:4=1.0,4:{num_layers}=0.25', "
                        f"presets like 'coarse=1,middle=0.5,fine=0.1' ({', '.join(LAYER_PRESETS)}) or "
                        f"{num_layers} numbers.") from None
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
