"""Semantic directions in a latent space: PCA (GANSpace, Härkönen et al. 2020) and linear attribute boundaries
(InterFaceGAN, Shen et al. 2020).

Both take latent samples as plain arrays, so they work for StyleGAN's W (mapped samples), a VAE's z or a diffusion
model's initial noise alike; getting the samples (and labels) is the caller's job.
"""
from typing import NamedTuple

import jax
import jax.numpy as jnp


class PCA(NamedTuple):
  components: jax.Array                 # (k, D) orthonormal rows, descending variance; sign: largest |entry| > 0
  explained_variance_ratio: jax.Array   # (k,) variance along each component / total variance
  std: jax.Array                        # (k,) standard deviation of the samples along each component
  mean: jax.Array                       # (D,) sample mean


def pca_directions(samples: jax.Array, k: int) -> PCA:
  """Top-k principal directions of `samples` (N, D) from the SVD of the centred data matrix."""
  samples = jnp.asarray(samples, jnp.float32)
  n, d = samples.shape
  if not 1 <= k <= min(n, d):
    raise ValueError(f"k={k} principal components need 1 <= k <= min(N, D) = {min(n, d)}")
  mean = samples.mean(axis=0)
  _, s, vt = jnp.linalg.svd(samples - mean, full_matrices=False)
  components = vt[:k]
  sign = jnp.sign(jnp.take_along_axis(components, jnp.argmax(jnp.abs(components), axis=1)[:, None], axis=1))
  variance = jnp.square(s)
  return PCA(components * sign, variance[:k] / jnp.sum(variance), s[:k] / jnp.sqrt(max(n - 1, 1)), mean)


class Boundary(NamedTuple):
  normal: jax.Array    # (D,) unit normal, pointing towards the positive class
  offset: jax.Array    # () signed distance of x to the hyperplane = x @ normal + offset
  accuracy: jax.Array  # () balanced accuracy of sign(x @ normal + offset) on the fitting set


def linear_boundary(latents: jax.Array, labels: jax.Array, l2: float = 1e-3, iterations: int = 30) -> Boundary:
  """InterFaceGAN: fit a linear classifier to (latent, binary label) pairs and return its unit normal.

  L2-regularised logistic regression, classes weighted to equal total weight (attributes are often rare: digit k
  vs the rest), solved by Newton's method (IRLS) on centred, globally rescaled latents; pure JAX.
  latents: (N, D); labels: (N,) bool/0-1. `l2` keeps the solution finite on separable data.
  """
  x = jnp.asarray(latents, jnp.float32)
  y = jnp.asarray(labels).astype(jnp.float32)
  n, d = x.shape
  mean = x.mean(axis=0)
  scale = jnp.sqrt(jnp.mean(jnp.square(x - mean))) + 1e-12
  xa = jnp.concatenate([(x - mean) / scale, jnp.ones((n, 1), jnp.float32)], axis=1)   # (N, D+1), last = intercept
  num_pos = jnp.sum(y)
  c = jnp.where(y > 0, 0.5 / jnp.maximum(num_pos, 1.0), 0.5 / jnp.maximum(n - num_pos, 1.0))  # sums to 1
  penalty = l2 * jnp.concatenate([jnp.ones(d), jnp.zeros(1)])

  def newton(_, beta):
    p = jax.nn.sigmoid(xa @ beta)
    grad = xa.T @ (c * (p - y)) + penalty * beta
    hess = (xa * (c * p * (1 - p))[:, None]).T @ xa + jnp.diag(penalty + 1e-8)
    return beta - jnp.linalg.solve(hess, grad)

  beta = jax.lax.fori_loop(0, iterations, newton, jnp.zeros(d + 1, jnp.float32))
  coef = beta[:d] / scale
  norm = jnp.linalg.norm(coef)
  normal = coef / norm
  offset = (beta[d] - mean @ coef) / norm
  pred = (x @ normal + offset) > 0
  pos = y > 0
  acc = 0.5 * (jnp.sum(pred & pos) / jnp.maximum(num_pos, 1) + jnp.sum(~pred & ~pos) / jnp.maximum(n - num_pos, 1))
  return Boundary(normal, offset, acc)
