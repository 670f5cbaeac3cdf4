"""Normalised densities of 2-D energy models on a grid, test NLL, and KL to the true toy density.

An energy E(x) defines p(x) = exp(−E(x)) / Z on a box B = [xmin, xmax] × [ymin, ymax] (the model puts no mass
outside B). Z is the midpoint rule over an R × R grid of cell centres:

  log Z ≈ logsumexp_ij(−E(c_ij)) + log(Δx · Δy),     Δx = (xmax − xmin)/R, Δy = (ymax − ymin)/R,

so exp(log p) sums to 1 over the cells (times the cell area). Grids are (R, R) arrays with axis 0 = y
increasing from ymin and axis 1 = x increasing from xmin (flip axis 0 to draw with y up).

`grid_nll` evaluates log p at arbitrary points by bilinear interpolation of the log-density between cell
centres (points are clamped into the box). `kl_to_true` measures KL(p_true ‖ p_model):
  * mixtures of Gaussians (toy2d/8gaussians, 25gaussians): Monte Carlo over true samples with the exact
    mixture log-density, E_true[log p_true(x) − log p_model(x)];
  * other toy sets (rings, moons, swissroll, checkerboard): no closed form here, so the true density is a
    histogram of many true samples on the same grid, and the KL is between the two *cell* distributions,
    Σ_c P_true(c) log(P_true(c) / P_model(c)). This is biased (finite samples, cell-averaged densities) and
    is comparable only between models at the same resolution and sample count.
"""
from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from jaxgen.data import toy2d

Box = tuple[float, float, float, float]   # (xmin, xmax, ymin, ymax)


def grid_centres(box: Box, resolution: int) -> jax.Array:
  """Cell centres, (R, R, 2) with [i, j] = (x_j, y_i)."""
  xmin, xmax, ymin, ymax = box
  r = int(resolution)
  xs = xmin + (jnp.arange(r, dtype=jnp.float32) + 0.5) * (xmax - xmin) / r
  ys = ymin + (jnp.arange(r, dtype=jnp.float32) + 0.5) * (ymax - ymin) / r
  yy, xx = jnp.meshgrid(ys, xs, indexing="ij")
  return jnp.stack([xx, yy], axis=-1)


def _cell_area(box: Box, resolution: int) -> float:
  xmin, xmax, ymin, ymax = box
  return (xmax - xmin) * (ymax - ymin) / float(resolution) ** 2


def grid_energy(energy_fn: Callable[[jax.Array], jax.Array], box: Box, resolution: int) -> jax.Array:
  """E at the cell centres, (R, R); energy_fn: (N, 2) -> (N,)."""
  pts = grid_centres(box, resolution).reshape(-1, 2)
  return energy_fn(pts).reshape(int(resolution), int(resolution))


def grid_log_normalizer(energy_fn, box: Box, resolution: int) -> jax.Array:
  """log Z of exp(−E) over the box by the midpoint rule (scalar)."""
  e = grid_energy(energy_fn, box, resolution)
  return logsumexp(-e) + jnp.log(_cell_area(box, resolution))


def grid_log_density(energy_fn, box: Box, resolution: int) -> jax.Array:
  """log p = −E − log Z at the cell centres, (R, R) (axis 0 = y, axis 1 = x)."""
  e = grid_energy(energy_fn, box, resolution)
  return -e - (logsumexp(-e) + jnp.log(_cell_area(box, resolution)))


@functools.partial(jax.jit, static_argnums=(1,))
def interpolate(grid: jax.Array, box: Box, points: jax.Array) -> jax.Array:
  """Bilinear interpolation of a (R, R) cell-centre grid at points (N, 2), clamped into the box; (N,)."""
  xmin, xmax, ymin, ymax = box
  r = grid.shape[0]
  points = jnp.asarray(points, jnp.float32)
  # Continuous index: centre of cell j sits at u = j.
  u = (points[:, 0] - xmin) / (xmax - xmin) * r - 0.5
  v = (points[:, 1] - ymin) / (ymax - ymin) * r - 0.5
  u = jnp.clip(u, 0.0, r - 1.0)
  v = jnp.clip(v, 0.0, r - 1.0)
  j0 = jnp.clip(jnp.floor(u).astype(jnp.int32), 0, r - 2)
  i0 = jnp.clip(jnp.floor(v).astype(jnp.int32), 0, r - 2)
  fu, fv = u - j0, v - i0
  g00, g01 = grid[i0, j0], grid[i0, j0 + 1]
  g10, g11 = grid[i0 + 1, j0], grid[i0 + 1, j0 + 1]
  return (1 - fv) * ((1 - fu) * g00 + fu * g01) + fv * ((1 - fu) * g10 + fu * g11)


def grid_nll(log_density_grid: jax.Array, box: Box, test_points: jax.Array) -> jax.Array:
  """Mean negative log-likelihood (nats per point) of test_points (N, 2) under the gridded log-density."""
  return -jnp.mean(interpolate(log_density_grid, tuple(float(b) for b in box), test_points))


def gaussian_nll(train_points, test_points) -> float:
  """Baseline: mean test NLL (nats/point) of the maximum-likelihood full-covariance Gaussian fitted to train."""
  x = np.asarray(train_points, np.float64)
  t = np.asarray(test_points, np.float64)
  mu = x.mean(0)
  cov = np.cov(x, rowvar=False, bias=True)
  d = x.shape[1]
  diff = t - mu
  sol = np.linalg.solve(cov, diff.T).T
  _, logdet = np.linalg.slogdet(cov)
  return float(np.mean(0.5 * (np.sum(diff * sol, axis=1) + logdet + d * np.log(2 * np.pi))))


def mixture_log_density(points, centers, std: float) -> np.ndarray:
  """log of the equal-weight isotropic Gaussian mixture at points (N, 2); (N,) float64."""
  x = np.asarray(points, np.float64)
  c = np.asarray(centers, np.float64)
  d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
  logp = -0.5 * d2 / std ** 2 - np.log(2 * np.pi * std ** 2)
  m = logp.max(1, keepdims=True)
  return (m + np.log(np.exp(logp - m).mean(1, keepdims=True)))[:, 0]


def kl_to_true(log_density_grid: jax.Array, box: Box, name: str, key: jax.Array,
               num_samples: int = 100_000) -> float:
  """KL(p_true ‖ p_model) in nats for toy2d `name` (see the module docstring for the two estimators)."""
  name = name.split("/", 1)[1] if name.startswith("toy2d/") else name
  samples = np.asarray(toy2d.sample(name, key, int(num_samples)), np.float64)
  grid = np.asarray(log_density_grid, np.float64)
  if name in ("8gaussians", "25gaussians"):
    centers, std = toy2d.modes(name)
    log_true = mixture_log_density(samples, centers, std)
    log_model = np.asarray(interpolate(jnp.asarray(grid, jnp.float32), tuple(map(float, box)),
                                            jnp.asarray(samples, jnp.float32)))
    return float(np.mean(log_true - log_model))
  r = grid.shape[0]
  xmin, xmax, ymin, ymax = box
  hist, _, _ = np.histogram2d(samples[:, 1], samples[:, 0], bins=r, range=[[ymin, ymax], [xmin, xmax]])
  p_true = hist / max(hist.sum(), 1.0)
  log_p_model = grid + np.log(_cell_area(box, r))          # log cell probabilities (sum to 1)
  nz = p_true > 0
  return float(np.sum(p_true[nz] * (np.log(p_true[nz]) - log_p_model[nz])))


__all__ = ["grid_centres", "grid_energy", "grid_log_normalizer", "grid_log_density", "interpolate", "grid_nll",
           "gaussian_nll", "mixture_log_density", "kl_to_true"]
