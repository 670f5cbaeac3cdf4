"""Semantic directions in a latent space: PCA (GANSpace, Härkönen et al. 2020) and linear attribute boundaries
(InterFaceGAN, Shen et al. 2020).

Both take latent samples as plain arrays, so they work for StyleGAN's W (mapped samples), a VAE's z or a diffusion
model's initial noise alike; getting the samples (and labels) is the caller's job.
"""
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import JaxgenError, check


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


def load_direction(path: str, dim: int) -> np.ndarray:
  """A saved direction (D,) from a .npy file of shape (D,) or (1, D), e.g. InterFaceGAN's published boundaries
  (`stylegan_ffhq_age_boundary.npy`: (1, 512) unit normals in W). Used as stored (no renormalisation)."""
  check(os.path.isfile(path), f"direction file {path!r} does not exist; give a .npy file of shape ({dim},) or "
        f"(1, {dim}).")
  try:
    d = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise JaxgenError(f"cannot read direction file {path!r} as a .npy array: {e}".splitlines()[0]) from None
  check(d.ndim in (1, 2) and d.size == dim and np.issubdtype(d.dtype, np.floating),
        f"direction file {path!r} holds a {d.dtype} array of shape {d.shape}; expected floats of shape ({dim},) or "
        f"(1, {dim}).")
  d = d.reshape(dim).astype(np.float32)
  check(bool(np.all(np.isfinite(d))) and float(np.linalg.norm(d)) > 0,
        f"direction file {path!r} is zero or not finite.")
  return d


def parse_combination(spec: str) -> list:
  """'2*file:a.npy + -0.5*pca:1' -> [(2.0, 'file:a.npy'), (-0.5, 'pca:1')]: a linear combination of directions,
  terms joined by '+', each an optional 'coefficient*' and a direction spec."""
  terms = []
  for term in str(spec).split("+"):
    coef, star, name = term.strip().partition("*")
    if not star:
      coef, name = "1", coef
    try:
      terms.append((float(coef), name.strip()))
    except ValueError:
      raise JaxgenError(f"direction term {term.strip()!r} in {spec!r} is not allowed; write 'SPEC' or "
                        f"'COEF*SPEC', terms joined by '+'.") from None
    check(bool(name.strip()), f"direction={spec!r} has an empty term.")
  return terms
