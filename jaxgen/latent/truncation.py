"""The truncation trick in W (Karras et al. 2019, eq. 4): w' = w_avg + psi * (w - w_avg).

psi = 1 leaves w unchanged, psi = 0 collapses every sample to the average w; psi around 0.7 (the StyleGAN reference
value) trades variety for typicality. Works on any latent array whose last axis is the latent dimension: w (B, D),
W+ (B, L, D), VAE latents (B, D) with w_avg = 0.
"""
from typing import Optional

import jax
import jax.numpy as jnp


def truncate(w: jax.Array, w_avg: jax.Array, psi: float, cutoff: Optional[int] = None) -> jax.Array:
  """w_avg + psi * (w - w_avg).

  w: (..., D) or W+ (..., L, D); w_avg: (D,) (broadcast). `cutoff` (W+ only): truncate layers [0, cutoff) and leave
  the rest untouched (StyleGAN's truncation_cutoff); None truncates every layer.
  """
  w = jnp.asarray(w)
  out = (1.0 - psi) * w_avg + psi * w      # = w_avg + psi (w - w_avg), written to be exact at psi = 0 and 1
  if cutoff is None:
    return out
  layers = jnp.arange(w.shape[-2])[:, None]
  return jnp.where(layers < cutoff, out, w)
