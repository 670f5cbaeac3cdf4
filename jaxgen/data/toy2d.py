"""Two-dimensional toy distributions, sampled in JAX from a key (an infinite stream).

`sample(name, key, n)` is pure and jittable (`name` and `n` static). The constants re-derive the classic toy code:

WGAN-GP paper (Gulrajani et al. 2017, `gan_toy.py`):
  8gaussians   centres 2 * {(+-1, 0), (0, +-1), (+-1/sqrt2, +-1/sqrt2)} (radius 2), isotropic noise std 0.02,
               the whole set divided by 1.414  ->  centres on the circle of radius 2/1.414 = 1.4144,
               per-mode std 0.02/1.414 = 0.014144; modes are equally likely.
  25gaussians  centres 2 * {-2,-1,0,1,2}^2, noise std 0.05, the whole set divided by 2.828  ->  a 5x5 grid with
               spacing 2/2.828 = 0.7072 spanning +-1.4144, per-mode std 0.05/2.828 = 0.017680; mean 0.
  swissroll    sklearn.datasets.make_swiss_roll(noise=0.25) columns [x, z] divided by 7.5:
               t = 1.5 pi (1 + 2u), u ~ U[0, 1); (x, z) = (t cos t, t sin t) + N(0, 0.25^2 I); then / 7.5.
FFJORD (Grathwohl et al. 2019, `lib/toy_data.py`):
  moons        sklearn.datasets.make_moons(noise=0.1) * 2 + (-1, -0.2): with theta ~ U[0, pi] the upper moon is
               (cos theta, sin theta), the lower one (1 - cos theta, 1/2 - sin theta), each with prob. 1/2,
               plus N(0, 0.1^2 I), then scaled and shifted.
  checkerboard x1 ~ U[-2, 2); x2 = U[0, 1) - 2b + (floor(x1) mod 2), b ~ Bernoulli(1/2); both times 2
               (8 squares of side 2 on [-4, 4]^2).
  rings        four concentric circles of radii 3 * (1, 0.75, 0.5, 0.25) plus N(0, 0.08^2 I). FFJORD puts
               n/4 points on each ring at evenly spaced angles; here ring and angle are drawn at random
               (ring uniform over the 4, angle ~ U[0, 2 pi)), which is the same distribution in the limit
               and keeps every sample i.i.d.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import JaxgenError

NAMES = ("8gaussians", "25gaussians", "swissroll", "moons", "checkerboard", "rings")

# WGAN-GP toy-code constants.
_SCALE_8 = 2.0
_STD_8 = 0.02
_DIV_8 = 1.414
_STD_25 = 0.05
_DIV_25 = 2.828
_SWISS_NOISE = 0.25
_SWISS_DIV = 7.5
# FFJORD toy-code constants.
_MOONS_NOISE = 0.1
_RING_RADII = (1.0, 0.75, 0.5, 0.25)
_RING_SCALE = 3.0
_RING_NOISE = 0.08


def _centers_8() -> np.ndarray:
  s = 1.0 / math.sqrt(2.0)
  unit = [(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)]
  return np.asarray(unit, np.float64) * _SCALE_8


def _centers_25() -> np.ndarray:
  g = np.arange(-2, 3, dtype=np.float64)
  xx, yy = np.meshgrid(g, g, indexing="ij")
  return 2.0 * np.stack([xx.ravel(), yy.ravel()], axis=-1)


def modes(name: str) -> tuple[np.ndarray, float]:
  """(centres (M, 2) float32, per-coordinate std) of a Gaussian-mixture toy set in the returned coordinates.

  Only 8gaussians (M = 8) and 25gaussians (M = 25) are mixtures; other names raise JaxgenError.
  """
  if name == "8gaussians":
    return (_centers_8() / _DIV_8).astype(np.float32), _STD_8 / _DIV_8
  if name == "25gaussians":
    return (_centers_25() / _DIV_25).astype(np.float32), _STD_25 / _DIV_25
  raise JaxgenError(f"toy2d/{name} has no Gaussian modes; modes() supports toy2d/8gaussians and "
                    "toy2d/25gaussians.")


def _mixture(key, n, centers, std, div):
  k_idx, k_eps = jax.random.split(key)
  idx = jax.random.randint(k_idx, (n,), 0, centers.shape[0])
  c = jnp.asarray(centers, jnp.float32)[idx]
  return (c + std * jax.random.normal(k_eps, (n, 2), jnp.float32)) / div


def _swissroll(key, n):
  k_t, k_eps = jax.random.split(key)
  t = 1.5 * jnp.pi * (1.0 + 2.0 * jax.random.uniform(k_t, (n,), jnp.float32))
  xz = jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=-1)
  return (xz + _SWISS_NOISE * jax.random.normal(k_eps, (n, 2), jnp.float32)) / _SWISS_DIV


def _moons(key, n):
  k_th, k_moon, k_eps = jax.random.split(key, 3)
  theta = jnp.pi * jax.random.uniform(k_th, (n,), jnp.float32)
  lower = jax.random.bernoulli(k_moon, 0.5, (n,))
  upper_pts = jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=-1)
  lower_pts = jnp.stack([1.0 - jnp.cos(theta), 0.5 - jnp.sin(theta)], axis=-1)
  pts = jnp.where(lower[:, None], lower_pts, upper_pts)
  pts = pts + _MOONS_NOISE * jax.random.normal(k_eps, (n, 2), jnp.float32)
  return pts * 2.0 + jnp.array([-1.0, -0.2], jnp.float32)


def _checkerboard(key, n):
  k1, k2, k3 = jax.random.split(key, 3)
  x1 = jax.random.uniform(k1, (n,), jnp.float32) * 4.0 - 2.0
  x2_ = jax.random.uniform(k2, (n,), jnp.float32) - 2.0 * jax.random.randint(k3, (n,), 0, 2).astype(jnp.float32)
  x2 = x2_ + jnp.mod(jnp.floor(x1), 2.0)
  return jnp.stack([x1, x2], axis=-1) * 2.0


def _rings(key, n):
  k_ring, k_th, k_eps = jax.random.split(key, 3)
  radii = _RING_SCALE * jnp.asarray(_RING_RADII, jnp.float32)
  r = radii[jax.random.randint(k_ring, (n,), 0, len(_RING_RADII))]
  theta = 2.0 * jnp.pi * jax.random.uniform(k_th, (n,), jnp.float32)
  pts = r[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=-1)
  return pts + _RING_NOISE * jax.random.normal(k_eps, (n, 2), jnp.float32)


_SAMPLERS = {
    "8gaussians": lambda key, n: _mixture(key, n, _centers_8(), _STD_8, _DIV_8),
    "25gaussians": lambda key, n: _mixture(key, n, _centers_25(), _STD_25, _DIV_25),
    "swissroll": _swissroll, "moons": _moons, "checkerboard": _checkerboard, "rings": _rings,
}


def _check(name):
  if name not in NAMES:
    raise JaxgenError(f"toy2d/{name} is not a toy data set; choose one of "
                      f"{', '.join('toy2d/' + m for m in NAMES)}.")


def sample(name: str, key: jax.Array, n: int) -> jax.Array:
  """n i.i.d. points of toy distribution `name`: float32 (n, 2). Pure; jittable with name and n static."""
  _check(name)
  return _SAMPLERS[name](key, int(n))


@functools.partial(jax.jit, static_argnums=(0, 2))
def sample_jit(name: str, key: jax.Array, n: int) -> jax.Array:
  """`sample` compiled once per (name, n)."""
  return sample(name, key, n)


# Fixed keys of the finite draws returned by jaxgen.data.load_split for toy2d (independent of config.seed, so
# every model is evaluated on the same held-out points).
TEST_KEY_SEED = 20170331     # the WGAN-GP arXiv date; any fixed constant would do
TRAIN_KEY_SEED = 20170330
NUM_TEST = 10_000
NUM_TRAIN = 100_000          # the size of the WGAN-GP toy code's 25gaussians data set


def fixed_split(name: str, split: str) -> np.ndarray:
  """A fixed finite draw: "test" = 10,000 points, "train" = 100,000 points, from constant keys. float32 (N, 2)."""
  _check(name)
  seed, n = (TEST_KEY_SEED, NUM_TEST) if split == "test" else (TRAIN_KEY_SEED, NUM_TRAIN)
  key = jax.random.fold_in(jax.random.PRNGKey(seed), NAMES.index(name))
  return np.asarray(sample_jit(name, key, n), np.float32)
