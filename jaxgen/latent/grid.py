"""A 2-D grid of latents: the decoded-grid figures of the autoencoder (over the embedding box) and the VAE (over
normal quantiles)."""
import jax.numpy as jnp
import numpy as np


def latent_grid(xs, ys, latent_dim: int, dims=(0, 1)):
  """(len(ys) * len(xs), latent_dim) latents, row-major: row r, column c has z[dims[0]] = xs[c],
  z[dims[1]] = ys[r] and every other coordinate 0. Give ys descending for a plot whose top row is the largest.

  Autoencoder box: xs = linspace(lo0, hi0, n), ys = linspace(hi1, lo1, n).
  VAE: xs = Φ⁻¹(linspace(eps, 1 − eps, n)), ys = xs reversed.
  """
  xs, ys = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
  z = np.zeros((len(ys), len(xs), latent_dim), np.float32)
  z[:, :, dims[0]] = xs[None, :]
  z[:, :, dims[1]] = ys[:, None]
  return jnp.asarray(z.reshape(-1, latent_dim))
