"""Metrics for samples of the 2-D toy distributions (`toy2d/<name>`).

Mode metrics (mixtures of Gaussians, `toy2d/8gaussians`, `toy2d/25gaussians`), as PacGAN (Lin et al., 2018) and
VEEGAN (Srivastava et al., 2017) report them:

  * modes covered: a mode counts when at least 20 % of its expected share N/M of the N samples lies within
    3 std of its centre (20 of 2,500 samples for the 25-mode grid, PacGAN's threshold);
  * high-quality fraction: samples within 3 std of some centre;
  * reverse KL of the mode histogram to uniform: p_m = (high-quality samples nearest to mode m) / (high-quality
    samples); KL(p ‖ U) = Σ_m p_m log(M p_m) with 0 log 0 = 0; 0 for a perfectly balanced sampler, log M when
    all high-quality samples fall in one mode, NaN when there are none.

For every toy distribution, sample-based two-sample distances against fresh true samples: the energy distance
(Székely & Rizzo) and the squared MMD with a sum of RBF kernels. Distances are Euclidean; "within 3 std" means
‖x − c‖ ≤ 3·std for the isotropic components of these mixtures.
"""
from __future__ import annotations

import jax
import numpy as np

from jaxgen.data import toy2d


def _modes(name: str):
  centers, std = toy2d.modes(_short(name))
  return np.asarray(centers, np.float64), float(std)


def _short(name: str) -> str:
  return name.split("/", 1)[1] if name.startswith("toy2d/") else name


def mode_counts(samples, centers, std: float, num_std: float = 3.0):
  """Nearest-mode assignment of samples (N, 2) to mode centres (M, 2) of components with standard deviation `std`:
  (within (M,) int: samples within num_std·std of each centre (several modes only where modes overlap);
  nearest_hq (M,) int: high-quality samples assigned to their nearest centre; high_quality (N,) bool: samples
  within num_std·std of their nearest centre)."""
  x = np.asarray(samples, np.float64)
  c = np.asarray(centers, np.float64)
  d = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(-1))       # (N, M)
  radius = num_std * std
  within = (d <= radius).sum(0)
  nearest = d.argmin(1)
  high_quality = d.min(1) <= radius
  nearest_hq = np.bincount(nearest[high_quality], minlength=c.shape[0])
  return within, nearest_hq, high_quality


def mode_metrics_from_centers(samples, centers, std: float, threshold: float = 0.2) -> dict:
  """Modes covered, high-quality fraction and reverse KL (see the module docstring) for given mode centres."""
  x = np.asarray(samples, np.float64)
  n, num_modes = x.shape[0], len(centers)
  within, nearest_hq, high_quality = mode_counts(x, centers, std)
  min_count = threshold * n / num_modes
  num_hq = int(high_quality.sum())
  if num_hq:
    p = nearest_hq / num_hq
    nz = p > 0
    reverse_kl = float(np.sum(p[nz] * np.log(num_modes * p[nz])))
  else:
    reverse_kl = float("nan")
  return {
      "modes_covered": int((within >= min_count).sum()),
      "num_modes": int(num_modes),
      "high_quality_fraction": float(num_hq / n),
      "reverse_kl": reverse_kl,
  }


def mode_metrics(samples, name: str, threshold: float = 0.2) -> dict:
  """Mode metrics for `toy2d/8gaussians` or `toy2d/25gaussians` ("8gaussians" also accepted)."""
  centers, std = _modes(name)
  return mode_metrics_from_centers(samples, centers, std, threshold)


def has_modes(name: str) -> bool:
  """Whether `name` is a toy distribution with known mode centres."""
  return _short(name) in ("8gaussians", "25gaussians")


def _pairwise(x, y, fn, chunk=2048):
  """Sum over all pairs of fn(‖x_i − y_j‖²) in float64, chunked so memory stays O(chunk × M)."""
  from scipy.spatial.distance import cdist
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  total = 0.0
  for i in range(0, x.shape[0], chunk):
    total += fn(cdist(x[i:i + chunk], y, "sqeuclidean")).sum()
  return total


def energy_distance(x, y) -> float:
  """Energy distance 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ between samples x (N, D) and y (M, D).

  The within-sample terms exclude the i = j pairs (U-statistics), so the estimate is unbiased and can be
  slightly negative for two samples of the same distribution.
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  n, m = x.shape[0], y.shape[0]
  dist = lambda d2: np.sqrt(np.maximum(d2, 0.0))
  exy = _pairwise(x, y, dist) / (n * m)
  exx = _pairwise(x, x, dist) / (n * (n - 1))
  eyy = _pairwise(y, y, dist) / (m * (m - 1))
  return float(2 * exy - exx - eyy)


def mmd_rbf(x, y, bandwidths=(0.1, 0.5, 1.0, 2.0)) -> float:
  """Unbiased squared MMD with the kernel k(a, b) = Σ_σ exp(−‖a − b‖² / (2σ²)) (a sum over `bandwidths`)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  n, m = x.shape[0], y.shape[0]
  bw = np.asarray(bandwidths, np.float64)

  def k(d2):
    return sum(np.exp(-d2 / (2 * b ** 2)) for b in bw)

  kxy = _pairwise(x, y, k) / (n * m)
  kxx = (_pairwise(x, x, k) - n * len(bw)) / (n * (n - 1))    # drop the diagonal: k(a, a) = len(bw)
  kyy = (_pairwise(y, y, k) - m * len(bw)) / (m * (m - 1))
  return float(kxx + kyy - 2 * kxy)


def toy_metrics(samples, name: str, key=None, num_reference: int | None = None) -> dict:
  """All toy metrics for samples (N, 2) of `toy2d/<name>`: mode metrics where the distribution has modes, and
  energy distance + MMD against `num_reference` (default N) fresh true samples drawn with `key`."""
  x = np.asarray(samples, np.float64)
  key = jax.random.PRNGKey(1234) if key is None else key
  ref = np.asarray(toy2d.sample(_short(name), key, int(num_reference or x.shape[0])), np.float64)
  out = {}
  if has_modes(name):
    out.update(mode_metrics(x, name))
  out["energy_distance"] = energy_distance(x, ref)
  out["mmd_rbf"] = mmd_rbf(x, ref)
  return out
