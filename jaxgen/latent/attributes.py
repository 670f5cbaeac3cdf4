"""Attribute vectors in a latent space (the VAE notebook's `get_vector_from_label`) and edits z + α·v.

The reference streams labelled batches, keeps running means of the latents of images with the attribute
(label == 1) and without (label == −1), and returns (mean_pos − mean_neg) / ‖mean_pos − mean_neg‖. With the
latents of a whole labelled set at hand that is the same vector computed in one pass.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxgen.errors import check


def attribute_vector(z, has_attribute, normalize: bool = True):
  """Unit vector (D,) from the mean latent without the attribute to the mean latent with it.

  z: (N, D) latents (the reference uses sampled z; means of q work too); has_attribute: (N,) bool, or ±1 / 0-1
  labels (positive = has it). Both groups must be non-empty.
  """
  z = jnp.asarray(z, jnp.float32)
  pos = jnp.asarray(has_attribute) > 0
  n_pos = int(np.sum(np.asarray(pos)))
  check(0 < n_pos < z.shape[0], f"attribute_vector needs latents with and without the attribute; got {n_pos} "
        f"with it out of {z.shape[0]}.")
  w = pos.astype(jnp.float32)[:, None]
  mean_pos = jnp.sum(w * z, axis=0) / jnp.sum(w)
  mean_neg = jnp.sum((1 - w) * z, axis=0) / jnp.sum(1 - w)
  v = mean_pos - mean_neg
  return v / jnp.linalg.norm(v) if normalize else v


def apply_vector(z, v, alphas):
  """Edits z + α·v for every α: z (..., D), v (D,), alphas (A,) -> (A, ..., D) (reference factors −4..4)."""
  z, v = jnp.asarray(z, jnp.float32), jnp.asarray(v, jnp.float32)
  alphas = jnp.asarray(alphas, jnp.float32)
  return z[None] + alphas.reshape((-1,) + (1,) * z.ndim) * v
