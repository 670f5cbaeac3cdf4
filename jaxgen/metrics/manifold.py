"""Precision and recall with k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019, "Improved Precision and
Recall Metric for Assessing Generative Models"; docs/design.md §11).

Each point of a feature set spans a ball whose radius is the distance to its k-th nearest neighbour in the same
set, the point itself excluded; the union of the balls estimates the set's manifold. Precision is the fraction of
generated features inside the real manifold (sample quality), recall the fraction of real features inside the
generated manifold (coverage). Both lie in [0, 1]. The radii grow as a set gets sparser, so the two sets should
have about the same number of points (the paper uses equal numbers; so does `jaxgen.evaluate`).

Distances are exact Euclidean ones in float64 (|a|² + |b|² − 2a·b, clipped at 0), computed in row chunks of at most
`CHUNK_ELEMENTS` pairs, so 10,000 × 10,000 pairs in 128 dimensions hold a few 64 MB blocks at a time instead of
the 800 MB full matrix.
A point lies inside a ball when its distance is <= the radius (the paper's reference code), so a set always
covers itself.
"""
from __future__ import annotations

import numpy as np

CHUNK_ELEMENTS = 1 << 23      # distances held at once (8M float64 = 64 MB), whatever the set sizes


def _as_features(x, name: str) -> np.ndarray:
  x = np.asarray(x, np.float64)
  if x.ndim != 2 or x.shape[0] == 0:
    raise ValueError(f"{name} must be a non-empty (N, D) feature matrix; got shape {x.shape}")
  return x


def _row_chunk(num_cols: int, chunk_elements: int) -> int:
  return max(1, int(chunk_elements) // max(1, num_cols))


def _squared_distances(a: np.ndarray, b: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
  """(n, D), (m, D) float64 and their squared norms -> (n, m) squared Euclidean distances >= 0."""
  d = a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
  return np.maximum(d, 0.0, out=d)


def knn_radii(features, k: int = 3, chunk_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
  """features (N, D) -> radii (N,) float64 >= 0: the distance of each point to its k-th nearest neighbour among
  the other N − 1 points (a duplicate of a point counts as a neighbour at distance 0). Needs 1 <= k < N."""
  x = _as_features(features, "features")
  n = x.shape[0]
  if not 1 <= int(k) < n:
    raise ValueError(f"k={k} needs 1 <= k < N = {n} (the k-th neighbour other than the point itself)")
  k = int(k)
  sq = np.einsum("nd,nd->n", x, x)
  radii = np.empty(n, np.float64)
  rows = _row_chunk(n, chunk_elements)
  for start in range(0, n, rows):
    stop = min(n, start + rows)
    d = _squared_distances(x[start:stop], x, sq[start:stop], sq)
    d[np.arange(stop - start), np.arange(start, stop)] = np.inf      # exclude the point itself
    radii[start:stop] = np.partition(d, k - 1, axis=1)[:, k - 1]
  return np.sqrt(radii)


def in_manifold(queries, support, radii, chunk_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
  """queries (Q, D), support (S, D) with radii (S,) -> bool (Q,): whether each query lies in some support ball,
  i.e. |q − s_j| <= radii[j] for at least one j."""
  q = _as_features(queries, "queries")
  s = _as_features(support, "support")
  r = np.asarray(radii, np.float64)
  if q.shape[1] != s.shape[1] or r.shape != (s.shape[0],):
    raise ValueError(f"queries {q.shape}, support {s.shape} and radii {r.shape} do not match: need (Q, D), "
                     "(S, D) and (S,)")
  r_sq = r * r
  q_sq, s_sq = np.einsum("nd,nd->n", q, q), np.einsum("nd,nd->n", s, s)
  inside = np.empty(q.shape[0], bool)
  rows = _row_chunk(s.shape[0], chunk_elements)
  for start in range(0, q.shape[0], rows):
    stop = min(q.shape[0], start + rows)
    inside[start:stop] = np.any(_squared_distances(q[start:stop], s, q_sq[start:stop], s_sq) <= r_sq, axis=1)
  return inside


def manifold_coverage(queries, support, radii, chunk_elements: int = CHUNK_ELEMENTS) -> float:
  """The fraction in [0, 1] of `queries` (Q, D) inside the manifold of `support` (S, D) with ball `radii` (S,)."""
  return float(np.mean(in_manifold(queries, support, radii, chunk_elements)))


def precision_recall(real_features, fake_features, k: int = 3,
                     chunk_elements: int = CHUNK_ELEMENTS) -> tuple[float, float]:
  """(precision, recall) in [0, 1] of generated `fake_features` (M, D) against `real_features` (N, D).

  precision = fraction of fake points inside the real manifold (balls of the real k-NN radii);
  recall = fraction of real points inside the fake manifold (balls of the fake k-NN radii). k = 3 is the paper's
  choice; it needs k < min(N, M).
  """
  real = _as_features(real_features, "real_features")
  fake = _as_features(fake_features, "fake_features")
  if real.shape[1] != fake.shape[1]:
    raise ValueError(f"real {real.shape} and fake {fake.shape} features differ in dimension")
  precision = manifold_coverage(fake, real, knn_radii(real, k, chunk_elements), chunk_elements)
  recall = manifold_coverage(real, fake, knn_radii(fake, k, chunk_elements), chunk_elements)
  return precision, recall
