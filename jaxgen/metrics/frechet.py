"""Fréchet distance between Gaussians fitted to feature vectors (the "F" of FID).

  d² = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2 Tr((Σ₁ Σ₂)^{1/2})

The cross term is computed without the non-symmetric `sqrtm(Σ₁ Σ₂)` of the usual FID code: with S = Σ₁^{1/2}
(symmetric, from an eigendecomposition), Σ₁Σ₂ = S (S Σ₂ S) S⁻¹ is similar to the symmetric PSD matrix S Σ₂ S, so
Tr((Σ₁Σ₂)^{1/2}) = Σᵢ √λᵢ(S Σ₂ S). Only symmetric eigendecompositions are needed, which are stable for
singular (rank-deficient) covariances — the common case when there are fewer samples than feature dimensions —
and never produce the complex parts `scipy.linalg.sqrtm` returns there. Everything runs in float64 NumPy: the
statistics are small (D×D) and cancellation in the trace terms is what limits FID accuracy.
"""
from __future__ import annotations

import dataclasses

import numpy as np


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
  """Symmetric square root of a symmetric PSD matrix (negative round-off eigenvalues clipped to 0)."""
  w, v = np.linalg.eigh((cov + cov.T) / 2)
  return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
  """Tr((Σ₁ Σ₂)^{1/2}) for symmetric PSD Σ₁, Σ₂ of shape (D, D), via the symmetric S Σ₂ S with S = Σ₁^{1/2}."""
  s = _psd_sqrt(np.asarray(cov1, np.float64))
  m = s @ np.asarray(cov2, np.float64) @ s
  w = np.linalg.eigvalsh((m + m.T) / 2)
  return float(np.sum(np.sqrt(np.clip(w, 0, None))))


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
  """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2), the quantity FID reports:
  means (D,), symmetric PSD covariances (D, D) -> a Python float >= 0 (tiny negative round-off clipped to 0)."""
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
  if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.size, mu1.size):
    raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, cov {cov1.shape} vs {cov2.shape}")
  diff = mu1 - mu2
  d2 = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product(cov1, cov2)
  return float(max(d2, 0.0))


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
  """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64 (N >= 2)."""
  f = np.asarray(features, np.float64)
  if f.ndim != 2 or f.shape[0] < 2:
    raise ValueError(f"features must have shape (N>=2, D); got {f.shape}")
  return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


@dataclasses.dataclass
class RunningStatistics:
  """Mean and covariance of features accumulated over batches (what FID code does over a data loader).

  Uses shifted sums (shift = the first batch's mean) in float64 so that large feature offsets do not cancel.
  `update(batch (B, D))` then `statistics()` equals `feature_statistics(concatenate(batches))`.
  """
  n: int = 0
  shift: np.ndarray | None = None
  sum: np.ndarray | None = None
  sum_outer: np.ndarray | None = None

  def update(self, features) -> "RunningStatistics":
    f = np.asarray(features, np.float64)
    if f.ndim != 2:
      raise ValueError(f"features must have shape (B, D); got {f.shape}")
    if self.shift is None:
      self.shift = f.mean(0)
      self.sum = np.zeros(f.shape[1])
      self.sum_outer = np.zeros((f.shape[1], f.shape[1]))
    g = f - self.shift
    self.n += f.shape[0]
    self.sum += g.sum(0)
    self.sum_outer += g.T @ g
    return self

  def statistics(self) -> tuple[np.ndarray, np.ndarray]:
    if self.n < 2:
      raise ValueError(f"need at least 2 feature vectors; have {self.n}")
    m = self.sum / self.n
    cov = (self.sum_outer - self.n * np.outer(m, m)) / (self.n - 1)
    return self.shift + m, cov


def frechet_distance_from_features(features1, features2) -> float:
  """Fréchet distance between Gaussians fitted to two feature sets (N1, D) and (N2, D)."""
  return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def polynomial_kernel(x, y) -> np.ndarray:
  """KID's cubic kernel k(x, y) = (x·y / d + 1)³ between rows of x (N, d) and y (M, d) -> (N, M), float64."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y) -> float:
  """Unbiased squared MMD with the cubic kernel between equal-size sets x, y of shape (m, d), m >= 2:

    MMD²_u = Σ_{i≠j} [k(xᵢ,xⱼ) + k(yᵢ,yⱼ)] / (m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ) / m²

  (Bińkowski et al., 2018, eq. 2 with the cross term over all pairs, as their code and clean-fid compute it).
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  m = x.shape[0]
  if x.shape != y.shape or x.ndim != 2 or m < 2:
    raise ValueError(f"need two (m>=2, d) sets of equal shape; got {x.shape} and {y.shape}")
  kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
  return float(within - 2.0 * kxy.sum() / m**2)


def kernel_inception_distance(features1, features2, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
  """KID: mean and standard deviation of `mmd2_unbiased` over `num_subsets` random subsets.

  Each subset draws m = min(subset_size, N1, N2) rows without replacement from each feature set (N1, d), (N2, d)
  (Bińkowski et al. 2018; clean-fid's and torch-fidelity's defaults are 100 subsets of 1000). Unlike FID, KID is
  unbiased in the number of samples, so small sample sets give comparable (noisier) values; it can be < 0.
  """
  f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
  if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
    raise ValueError(f"features must have shapes (N1, d), (N2, d); got {f1.shape}, {f2.shape}")
  m = min(int(subset_size), f1.shape[0], f2.shape[0])
  rng = np.random.default_rng(seed)
  values = [mmd2_unbiased(f1[rng.choice(f1.shape[0], m, replace=False)],
                          f2[rng.choice(f2.shape[0], m, replace=False)]) for _ in range(int(num_subsets))]
  return float(np.mean(values)), float(np.std(values))
