"""Latent tools: truncation, style mixing, PCA and boundary directions, edits (closed forms and NumPy twins)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import JaxgenError
from jaxgen.latent import directions, edits, mixing, truncation


def _w(shape, seed=0):
  return jax.random.normal(jax.random.PRNGKey(seed), shape)


def test_truncation_psi_0_and_1_and_closed_form():
  w, w_avg = _w((5, 6, 8)), _w((8,), 1)
  np.testing.assert_allclose(truncation.truncate(w, w_avg, 0.0), jnp.broadcast_to(w_avg, w.shape), atol=0)
  np.testing.assert_array_equal(truncation.truncate(w, w_avg, 1.0), w)
  np.testing.assert_allclose(truncation.truncate(w, w_avg, 0.7), np.asarray(w_avg) + 0.7 * (np.asarray(w) - w_avg),
                             rtol=1e-6, atol=1e-6)
  cut = truncation.truncate(w, w_avg, 0.0, cutoff=2)
  np.testing.assert_array_equal(cut[:, 2:], w[:, 2:])
  np.testing.assert_allclose(cut[:, :2], jnp.broadcast_to(w_avg, (5, 2, 8)), atol=0)


def test_style_mix_crossover_endpoints_and_middle():
  L = 6
  wa, wb = _w((4, L, 8), 0), _w((4, L, 8), 1)
  np.testing.assert_array_equal(mixing.style_mix(wa, wb, 0), wb)     # no layer from a
  np.testing.assert_array_equal(mixing.style_mix(wa, wb, L), wa)     # every layer from a
  mixed = mixing.style_mix(wa, wb, 2)
  np.testing.assert_array_equal(mixed[:, :2], wa[:, :2])
  np.testing.assert_array_equal(mixed[:, 2:], wb[:, 2:])
  per_sample = mixing.style_mix(wa, wb, jnp.array([0, 1, 5, 6]))
  for b, c in enumerate([0, 1, 5, 6]):
    np.testing.assert_array_equal(per_sample[b], np.concatenate([wa[b, :c], wb[b, c:]]))


def test_random_crossover_probabilities():
  key = jax.random.PRNGKey(0)
  assert np.all(np.asarray(mixing.random_crossover(key, 1000, 8, 0.0)) == 8)
  cut = np.asarray(mixing.random_crossover(key, 1000, 8, 1.0))
  assert cut.min() >= 1 and cut.max() <= 7 and len(np.unique(cut)) == 7
  frac = np.mean(np.asarray(mixing.random_crossover(key, 4000, 8, 0.9)) < 8)
  assert abs(frac - 0.9) < 0.03


def test_broadcast_layers():
  w = _w((3, 5))
  wp = mixing.broadcast_layers(w, 4)
  assert wp.shape == (3, 4, 5)
  for l in range(4):
    np.testing.assert_array_equal(wp[:, l], w)


def test_pca_orthonormal_and_matches_numpy_svd():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2000, 12)) @ rng.normal(size=(12, 12)) + rng.normal(size=12)   # correlated, off-centre
  k = 5
  pca = directions.pca_directions(jnp.asarray(x, jnp.float32), k)
  c = np.asarray(pca.components, np.float64)
  np.testing.assert_allclose(c @ c.T, np.eye(k), atol=1e-5)
  xc = x - x.mean(0)
  _, s, vt = np.linalg.svd(xc, full_matrices=False)
  np.testing.assert_allclose(pca.explained_variance_ratio, (s ** 2 / np.sum(s ** 2))[:k], rtol=1e-4)
  np.testing.assert_allclose(np.abs(np.sum(c * vt[:k], axis=1)), 1.0, atol=1e-4)      # same axes up to sign
  np.testing.assert_allclose(pca.std, np.std(xc @ vt[:k].T, axis=0, ddof=1), rtol=1e-4)
  np.testing.assert_allclose(pca.mean, x.mean(0), rtol=1e-5, atol=1e-5)
  assert np.all(np.diff(np.asarray(pca.explained_variance_ratio)) <= 0)
  with pytest.raises(ValueError):
    directions.pca_directions(jnp.asarray(x), 13)


def test_linear_boundary_separates_a_separable_set():
  rng = np.random.default_rng(1)
  d = 20
  u = rng.normal(size=d)
  u /= np.linalg.norm(u)
  x = rng.normal(size=(3000, d)) * 2.0 + 1.0
  margin = x @ u - 1.5
  keep = np.abs(margin) > 0.3                     # a gap of 0.6 around the true hyperplane
  x, y = x[keep], margin[keep] > 0                 # unbalanced: ~1/4 positive
  b = directions.linear_boundary(jnp.asarray(x, jnp.float32), jnp.asarray(y))
  n = np.asarray(b.normal)
  assert abs(np.linalg.norm(n) - 1) < 1e-5
  pred = x @ n + float(b.offset) > 0
  assert np.all(pred == y), f"{np.sum(pred != y)} of {len(y)} points on the wrong side"
  assert float(b.accuracy) == 1.0
  assert n @ u > 0.95                              # recovers the true normal's direction


def test_linear_boundary_points_to_positive_class_on_overlapping_data():
  rng = np.random.default_rng(2)
  x = np.concatenate([rng.normal(size=(500, 4)) + [1, 0, 0, 0], rng.normal(size=(500, 4)) - [1, 0, 0, 0]])
  y = np.arange(1000) < 500
  b = directions.linear_boundary(jnp.asarray(x, jnp.float32), y)
  assert np.asarray(b.normal)[0] > 0.9
  assert 0.75 < float(b.accuracy) < 0.9           # Bayes accuracy Phi(1) = 0.84


def test_layer_weights_and_apply_direction_numpy_twin():
  np.testing.assert_array_equal(edits.layer_weights(6, None), np.ones(6))
  np.testing.assert_array_equal(edits.layer_weights(6, "all"), np.ones(6))
  np.testing.assert_array_equal(edits.layer_weights(6, "0:2=1,2:6=0.25"), [1, 1, .25, .25, .25, .25])
  np.testing.assert_array_equal(edits.layer_weights(6, "3:"), [0, 0, 0, 1, 1, 1])
  for bad in ("0:7=1", "2:1", "a:b"):
    with pytest.raises(JaxgenError):
      edits.layer_weights(6, bad)
  w, d = np.asarray(_w((3, 6, 4))), np.asarray(_w((4,), 1))
  weights = edits.layer_weights(6, "0:2=1,2:6=0.25")
  out = np.asarray(edits.apply_direction(w, d, 2.0, weights))
  twin = w.copy()
  for b in range(3):
    for l in range(6):
      twin[b, l] += 2.0 * weights[l] * d
  np.testing.assert_allclose(out, twin, rtol=1e-6)
  np.testing.assert_allclose(edits.apply_direction(w, d, 2.0), w + 2.0 * d, rtol=1e-6)   # all layers
  flat = np.asarray(_w((3, 4), 2))                                                          # VAE-style z
  np.testing.assert_allclose(edits.apply_direction(flat, d, jnp.array([1., 2., 3.])),
                             flat + np.array([1., 2., 3.])[:, None] * d, rtol=1e-6)


def test_sweep_and_two_direction_grid():
  w = np.asarray(_w((2, 3, 4)))
  d1, d2 = np.asarray(_w((4,), 1)), np.asarray(_w((4,), 2))
  alphas = edits.parse_alphas("-4:4:5")
  np.testing.assert_allclose(alphas, [-4, -2, 0, 2, 4])
  s = np.asarray(edits.sweep(w, d1, alphas))
  assert s.shape == (2, 5, 3, 4)
  for a in range(5):
    np.testing.assert_allclose(s[:, a], w + alphas[a] * d1, rtol=1e-6, atol=1e-6)
  g = np.asarray(edits.grid(w[0], d1, d2, alphas, alphas[:3]))
  assert g.shape == (5, 3, 3, 4)
  for r in range(5):
    for c in range(3):
      np.testing.assert_allclose(g[r, c], w[0] + alphas[r] * d1 + alphas[c] * d2, rtol=1e-5, atol=1e-5)
  for bad in ("-4:4", "a:b:c", "1:2:0"):
    with pytest.raises(JaxgenError):
      edits.parse_alphas(bad)


def test_latent_package_exposes_its_modules():
  from jaxgen import latent
  assert latent.directions.pca_directions is directions.pca_directions
  assert latent.edits.layer_weights is edits.layer_weights and latent.interpolate.slerp


def test_layer_weight_presets_lists_and_ranges():
  w = edits.layer_weights(18, "coarse=1,middle=0.5,fine=0.1")
  np.testing.assert_allclose(w, [1] * 7 + [0.5] * 5 + [0.1] * 6)          # the exercise's 0-6 / 7-11 / 12-17
  np.testing.assert_array_equal(edits.layer_weights(18, "middle"), [0] * 7 + [1] * 5 + [0] * 6)
  np.testing.assert_array_equal(edits.layer_weights(18, "coarse=2,12:=1"), [2] * 7 + [0] * 5 + [1] * 6)
  np.testing.assert_array_equal(edits.layer_weights(4, "1,0.5,0.25,0"), [1, 0.5, 0.25, 0])
  with pytest.raises(JaxgenError, match="4 layers"):
    edits.layer_weights(4, "1,0.5")
  with pytest.raises(JaxgenError, match="presets"):
    edits.layer_weights(4, "coarse=x")


def test_load_direction_and_combinations(tmp_path):
  d = np.random.default_rng(0).normal(size=(1, 6)).astype(np.float32)
  np.save(tmp_path / "b.npy", d)
  np.testing.assert_array_equal(directions.load_direction(str(tmp_path / "b.npy"), 6), d[0])
  with pytest.raises(JaxgenError, match=r"shape \(1, 6\)"):
    directions.load_direction(str(tmp_path / "b.npy"), 5)
  with pytest.raises(JaxgenError, match="does not exist"):
    directions.load_direction(str(tmp_path / "missing.npy"), 6)
  assert directions.parse_combination("2*file:a.npy + -0.5*pca:1") == [(2.0, "file:a.npy"), (-0.5, "pca:1")]
  assert directions.parse_combination("pca:0") == [(1.0, "pca:0")]
  with pytest.raises(JaxgenError, match="COEF"):
    directions.parse_combination("x*pca:0")


def test_sincos_interpolation_by_value():
  from jaxgen.latent import interpolate
  a, b = np.asarray(_w((3, 4), 0)), np.asarray(_w((3, 4), 1))
  out = np.asarray(interpolate.sincos_interpolation(a, b, jnp.array([0.0, 1 / 3, 1.0])))
  np.testing.assert_allclose(out[0], b, atol=1e-6)
  np.testing.assert_allclose(out[2], a, atol=1e-6)
  np.testing.assert_allclose(out[1], 0.5 * a + np.sqrt(3) / 2 * b, rtol=1e-5, atol=1e-6)   # sin 30°, cos 30°


def test_latent_grid_by_value():
  from jaxgen.latent.grid import latent_grid
  z = np.asarray(latent_grid([-1.0, 0.0, 1.0], [5.0, 4.0], 4, dims=(2, 0)))
  assert z.shape == (6, 4)
  for r, y in enumerate([5.0, 4.0]):
    for c, x in enumerate([-1.0, 0.0, 1.0]):
      np.testing.assert_array_equal(z[r * 3 + c], [y, 0.0, x, 0.0])
