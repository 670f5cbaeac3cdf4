"""jaxgen.metrics against independent formulas: closed forms, scipy, NumPy/Python-loop twins."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from jaxgen.metrics import classifier as clf_lib
from jaxgen.metrics import frechet, likelihood, manifold
from jaxgen.metrics import toy2d as toy


# ------------------------------------------------------------------------------------------------ Fréchet


def _random_cov(rng, d, rank=None):
  a = rng.normal(size=(d, rank or d))
  return a @ a.T / (rank or d)


def test_frechet_identical_statistics_is_zero():
  rng = np.random.default_rng(0)
  for rank in (None, 3):                       # full rank and singular (rank 3 of 8)
    mu, cov = rng.normal(size=8), _random_cov(rng, 8, rank)
    assert abs(frechet.frechet_distance(mu, cov, mu, cov)) < 1e-9


def test_frechet_diagonal_gaussians_closed_form():
  # Commuting covariances: d² = |mu1 - mu2|² + Σ (sqrt(a_i) - sqrt(b_i))².
  mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
  a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)   # 7.25 + 4 + 1 + 0 = 12.25
  assert frechet.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, abs=1e-10)
  assert expected == pytest.approx(12.25)


def test_frechet_general_gaussians_match_scipy_sqrtm():
  rng = np.random.default_rng(1)
  mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
  c1, c2 = _random_cov(rng, 6), _random_cov(rng, 6)
  covmean = scipy.linalg.sqrtm(c1 @ c2).real
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean)
  assert frechet.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-9)
  # Symmetric in its arguments.
  assert frechet.frechet_distance(mu2, c2, mu1, c1) == pytest.approx(expected, rel=1e-9)


def test_frechet_singular_covariances_stay_finite_and_nonnegative():
  rng = np.random.default_rng(2)
  feats1 = rng.normal(size=(10, 64))            # 10 samples in 64 dims: rank-9 covariance
  feats2 = rng.normal(size=(10, 64)) + 0.1
  d = frechet.frechet_distance_from_features(feats1, feats2)
  # Twin for PSD (possibly singular) covariances: tr sqrt(C1 C2) = Σ sqrt(eig(C1^½ C2 C1^½)), eigenvalues >= 0.
  mu1, mu2 = feats1.mean(0), feats2.mean(0)
  c1, c2 = np.cov(feats1, rowvar=False), np.cov(feats2, rowvar=False)
  w, v = np.linalg.eigh(c1)
  root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
  tr_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ c2 @ root1), 0, None)))
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * tr_sqrt
  assert np.isfinite(d) and d == pytest.approx(expected, rel=1e-6)


def test_running_statistics_equal_batch_statistics():
  rng = np.random.default_rng(3)
  f = rng.normal(size=(250, 5)) * 3 + 1000.0    # large offset: the shifted sums must not cancel
  running = frechet.RunningStatistics()
  for i in range(0, 250, 64):
    running.update(f[i:i + 64])
  mu, cov = running.statistics()
  np.testing.assert_allclose(mu, f.mean(0), rtol=1e-12)
  np.testing.assert_allclose(cov, np.cov(f, rowvar=False), rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------------------------------------ toy 2-D


def _ring_points(center, radius, n, rng):
  angle = rng.uniform(0, 2 * np.pi, n)
  r = radius * np.sqrt(rng.uniform(0, 1, n))
  return center + np.stack([r * np.cos(angle), r * np.sin(angle)], -1)


def test_mode_metrics_25gaussians_known_coverage():
  centers, std = toy._modes("toy2d/25gaussians")
  rng = np.random.default_rng(0)
  # 2,500 samples: 20 modes with >= 20 samples each, mode 20 with exactly 19 (just below the threshold 20),
  # modes 21..24 empty, and 250 outliers (10 %) half-way between neighbouring centres (far from every mode).
  counts = np.zeros(25, int)
  counts[:20] = 111
  counts[0] = 122 + 9
  counts[19] = 20                               # exactly at the threshold: covered
  counts[20] = 19                               # one below: not covered
  counts[1] = 2250 - counts.sum() + counts[1]
  assert counts.sum() == 2250
  pts = [_ring_points(centers[m], 2.9 * std, counts[m], rng) for m in range(25)]
  spacing = abs(centers[1] - centers[0]).max()
  outliers = centers[rng.integers(0, 25, 250)] + np.array([spacing / 2, spacing / 2])
  samples = np.concatenate(pts + [outliers])
  m = toy.mode_metrics(samples, "toy2d/25gaussians")
  assert m["modes_covered"] == 20
  assert m["num_modes"] == 25
  assert m["high_quality_fraction"] == pytest.approx(0.9, abs=1e-12)
  p = counts / counts.sum()
  assert m["reverse_kl"] == pytest.approx(scipy.stats.entropy(p, np.full(25, 1 / 25)), rel=1e-12)


def test_mode_metrics_8gaussians_perfect_and_collapsed():
  centers, std = toy._modes("8gaussians")
  rng = np.random.default_rng(1)
  balanced = np.concatenate([_ring_points(c, 2.5 * std, 100, rng) for c in centers])
  m = toy.mode_metrics(balanced, "toy2d/8gaussians")
  assert (m["modes_covered"], m["high_quality_fraction"], m["reverse_kl"]) == (8, 1.0, 0.0)
  # Threshold 0.2 * 800 / 8 = 20: seven modes with 20 samples and one with 660.
  counts = [660] + [20] * 7
  pts = np.concatenate([_ring_points(c, 2.5 * std, k, rng) for c, k in zip(centers, counts)])
  assert toy.mode_metrics(pts, "8gaussians")["modes_covered"] == 8
  counts = [661] + [19] * 7
  pts = np.concatenate([_ring_points(c, 2.5 * std, k, rng) for c, k in zip(centers, counts)])
  assert toy.mode_metrics(pts, "8gaussians")["modes_covered"] == 1
  collapsed = _ring_points(centers[3], std, 500, rng)
  m = toy.mode_metrics(collapsed, "8gaussians")
  assert m["modes_covered"] == 1 and m["reverse_kl"] == pytest.approx(math.log(8))


def _energy_twin(x, y):
  n, m = len(x), len(y)
  dxy = sum(np.linalg.norm(a - b) for a in x for b in y) / (n * m)
  dxx = sum(np.linalg.norm(x[i] - x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  dyy = sum(np.linalg.norm(y[i] - y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  return 2 * dxy - dxx - dyy


def _mmd_twin(x, y, bws):
  k = lambda a, b: sum(math.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in bws)
  n, m = len(x), len(y)
  kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  kxy = sum(k(a, b) for a in x for b in y) / (n * m)
  return kxx + kyy - 2 * kxy


def test_energy_distance_and_mmd_match_loop_twins():
  rng = np.random.default_rng(4)
  x, y = rng.normal(size=(23, 2)), rng.normal(size=(17, 2)) + 0.5
  assert toy.energy_distance(x, y) == pytest.approx(_energy_twin(x, y), rel=1e-10)
  assert toy.mmd_rbf(x, y, (0.3, 1.0)) == pytest.approx(_mmd_twin(x, y, (0.3, 1.0)), rel=1e-9)
  # Chunking does not change the sums.
  big_x, big_y = rng.normal(size=(2100, 2)), rng.normal(size=(300, 2))
  assert toy._pairwise(big_x, big_y, np.sqrt, chunk=1000) == pytest.approx(
      toy._pairwise(big_x, big_y, np.sqrt, chunk=5000), rel=1e-12)


def test_toy_metrics_separate_true_from_shifted_samples():
  from jaxgen.data import toy2d
  true = np.asarray(toy2d.sample("25gaussians", jax.random.PRNGKey(7), 1000))
  good = toy.toy_metrics(true, "toy2d/25gaussians", key=jax.random.PRNGKey(8))
  bad = toy.toy_metrics(true * 1.3, "toy2d/25gaussians", key=jax.random.PRNGKey(8))
  assert good["modes_covered"] == 25 and good["high_quality_fraction"] > 0.97
  assert abs(good["energy_distance"]) < 5e-3 < bad["energy_distance"]
  assert good["mmd_rbf"] < bad["mmd_rbf"]
  moons = toy.toy_metrics(np.asarray(toy2d.sample("moons", jax.random.PRNGKey(9), 500)), "toy2d/moons")
  assert set(moons) == {"energy_distance", "mmd_rbf"}


# ------------------------------------------------------------------------------- k-NN precision and recall


def _radii_twin(x, k):
  """Python-loop twin: for each point, the k-th smallest distance to the other points."""
  return np.array([sorted(math.dist(x[i], x[j]) for j in range(len(x)) if j != i)[k - 1] for i in range(len(x))])


def _coverage_twin(queries, support, radii):
  return sum(any(math.dist(q, s) <= r for s, r in zip(support, radii)) for q in queries) / len(queries)


def test_knn_precision_recall_match_a_python_loop_twin():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(size=(40, 5)), rng.normal(size=(33, 5)) + 0.7
  for k in (1, 3, 5):
    r_real, r_fake = _radii_twin(real, k), _radii_twin(fake, k)
    np.testing.assert_allclose(manifold.knn_radii(real, k), r_real, rtol=1e-12)
    precision, recall = manifold.precision_recall(real, fake, k=k)
    assert precision == _coverage_twin(fake, real, r_real)
    assert recall == _coverage_twin(real, fake, r_fake)
    assert 0.0 < precision < 1.0 and 0.0 < recall < 1.0     # the case is not trivially all-in or all-out
  # Tiny chunks (one row at a time) give the same radii and memberships as one block.
  np.testing.assert_allclose(manifold.knn_radii(real, 3, chunk_elements=1), manifold.knn_radii(real, 3), rtol=1e-14)
  r = manifold.knn_radii(real, 3)
  np.testing.assert_array_equal(manifold.in_manifold(fake, real, r, chunk_elements=50),
                                manifold.in_manifold(fake, real, r))


def test_knn_precision_recall_one_dimensional_by_hand():
  # k = 1. Real -5, 0, 1, 3, 7 have radii 5, 1, 1, 2, 4. Fake 0.5, 2, 5.5, 11, 12 have radii 1.5, 1.5, 3.5, 1, 1.
  # Precision: 0.5 (ball of 0), 2 (ball of 1, on its edge), 5.5 (ball of 7), 11 (ball of 7, on its edge) are in,
  # 12 is 5 > 4 from 7: 4/5. Recall: 0, 1, 3 (ball of 2) and 7 (ball of 5.5) are in, -5 is 5.5 > 1.5 from 0.5: 4/5.
  real = np.array([-5.0, 0.0, 1.0, 3.0, 7.0])[:, None]
  fake = np.array([0.5, 2.0, 5.5, 11.0, 12.0])[:, None]
  np.testing.assert_array_equal(manifold.knn_radii(real, 1), [5, 1, 1, 2, 4])
  np.testing.assert_array_equal(manifold.knn_radii(fake, 1), [1.5, 1.5, 3.5, 1, 1])
  np.testing.assert_array_equal(manifold.in_manifold(fake, real, manifold.knn_radii(real, 1)),
                                [True, True, True, True, False])
  assert manifold.precision_recall(real, fake, k=1) == (0.8, 0.8)
  # k = 2: the second-nearest of -5 is 1 (6 away), of 0 is 3, of 1 is 3 (2 away), of 3 is 0, of 7 is 1.
  np.testing.assert_array_equal(manifold.knn_radii(real, 2), [6, 3, 2, 3, 6])
  # A duplicated point is its copy's nearest neighbour (distance 0): only the point itself is excluded.
  np.testing.assert_array_equal(manifold.knn_radii(np.array([[0.0], [0.0], [2.0]]), 1), [0, 0, 2])


def test_knn_precision_recall_identical_and_disjoint_sets():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(300, 16))
  assert manifold.precision_recall(x, x) == (1.0, 1.0)
  assert manifold.precision_recall(x, x[::-1].copy()) == (1.0, 1.0)     # order does not matter
  far = rng.normal(size=(300, 16)) + 100.0
  assert manifold.precision_recall(x, far) == (0.0, 0.0)
  with pytest.raises(ValueError, match="k=3"):
    manifold.precision_recall(x[:3], x)                   # 3 points have no 3rd neighbour other than themselves
  with pytest.raises(ValueError, match="dimension"):
    manifold.precision_recall(x, x[:, :8])


def test_knn_precision_recall_shifted_and_scaled_gaussians():
  rng = np.random.default_rng(2)
  real = rng.normal(size=(1000, 8))
  noise = rng.normal(size=(1000, 8))
  shifted = [manifold.precision_recall(real, noise + np.eye(8)[0] * s) for s in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)]
  precisions, recalls = np.array(shifted).T
  assert precisions[0] > 0.6 and recalls[0] > 0.6          # two samples of one distribution
  assert np.all(np.diff(precisions) < 0) and np.all(np.diff(recalls) < 0), shifted
  assert precisions[-2] < 0.3 and recalls[-2] < 0.3 and precisions[-1] == recalls[-1] == 0.0
  # Too narrow (dropped modes): high precision, low recall; too wide (off-manifold samples): the reverse.
  p_narrow, r_narrow = manifold.precision_recall(real, 0.5 * noise)
  p_wide, r_wide = manifold.precision_recall(real, 2.0 * noise)
  assert p_narrow > 0.9 and r_narrow < 0.3, (p_narrow, r_narrow)
  assert p_wide < 0.3 and r_wide > 0.9, (p_wide, r_wide)
  # Swapping the roles swaps precision and recall.
  p, r = manifold.precision_recall(real, 2.0 * noise)
  assert manifold.precision_recall(2.0 * noise, real) == (r, p)


# ------------------------------------------------------------------------------------------- likelihood


def _linear_gaussian(seed=0, d_z=2, d_x=5, sigma=0.5):
  """p(z) = N(0, I), p(x|z) = N(Wz + b, sigma² I): log p(x) and the exact posterior in closed form."""
  rng = np.random.default_rng(seed)
  w, b = rng.normal(size=(d_x, d_z)), rng.normal(size=d_x)
  x = rng.normal(size=(3, d_x)) * 2
  log_px = scipy.stats.multivariate_normal(b, w @ w.T + sigma ** 2 * np.eye(d_x)).logpdf(x)
  post_cov = np.linalg.inv(np.eye(d_z) + w.T @ w / sigma ** 2)
  post_mean = (x - b) @ w @ post_cov.T / sigma ** 2
  wj, bj = jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32)

  def log_px_given_z(z, x):
    return likelihood.gaussian_log_likelihood(z @ wj.T + bj, x, sigma)

  return log_px_given_z, jnp.asarray(x, jnp.float32), post_mean, post_cov, log_px, (w, b, sigma)


def test_iwae_with_exact_diagonal_posterior_is_log_px_for_any_k():
  # With d_z = 1 the exact posterior is a (diagonal) Gaussian: every importance weight equals p(x).
  fn, x, pm, pc, log_px, _ = _linear_gaussian(d_z=1)
  mean = jnp.asarray(pm, jnp.float32)
  logvar = jnp.full_like(mean, math.log(pc[0, 0]))
  for k in (1, 7):
    bound = likelihood.iwae_bound(fn, x, mean, logvar, jax.random.PRNGKey(k), k)
    np.testing.assert_allclose(bound, log_px, rtol=1e-4)


def test_iwae_k1_is_elbo_and_bound_increases_with_k():
  fn, x, pm, pc, log_px, (w, b, sigma) = _linear_gaussian(d_z=2)
  mean = jnp.asarray(pm + 0.4, jnp.float32)                 # a deliberately imperfect q
  logvar = jnp.asarray(np.log(np.diag(pc)) + 0.5, jnp.float32) * jnp.ones_like(mean)
  key = jax.random.PRNGKey(0)
  # K=1 is exactly the single-sample ELBO with the same noise.
  eps = jax.random.normal(jax.random.split(key, 1)[0], mean.shape)
  z = mean + jnp.exp(0.5 * logvar) * eps
  elbo_1 = (fn(z, x) + likelihood.standard_normal_log_prob(z)
            - likelihood.diag_gaussian_log_prob(z, mean, logvar))
  np.testing.assert_allclose(likelihood.iwae_bound(fn, x, mean, logvar, key, 1), elbo_1, rtol=1e-6)
  # Its expectation is the analytic ELBO E_q log p(x|z) - KL(q || p).
  m, v = np.asarray(mean, np.float64), np.exp(np.asarray(logvar, np.float64))
  resid = np.asarray(x) - m @ w.T - b
  e_loglik = -0.5 * (x.shape[1] * math.log(2 * math.pi * sigma ** 2)
                     + (np.sum(resid ** 2, 1) + np.sum(v * np.sum(w ** 2, 0), 1)) / sigma ** 2)
  analytic_elbo = e_loglik - np.asarray(likelihood.gaussian_kl(mean, logvar))
  reps = 1000
  keys = jax.random.split(jax.random.PRNGKey(1), reps)
  draws = {k: np.mean(np.asarray(jax.jit(jax.vmap(
      lambda kk: likelihood.iwae_bound(fn, x, mean, logvar, kk, k, chunk=k)))(keys)), 0) for k in (1, 4, 32)}
  np.testing.assert_allclose(draws[1], analytic_elbo, atol=0.05 * np.abs(analytic_elbo).max())
  np.testing.assert_allclose(
      np.mean(np.asarray(jax.jit(jax.vmap(lambda kk: likelihood.elbo(fn, x, mean, logvar, kk)))(keys)), 0),
      analytic_elbo, atol=0.05 * np.abs(analytic_elbo).max())
  assert np.all(draws[1] < draws[4]) and np.all(draws[4] < draws[32]) and np.all(draws[32] < log_px)


def test_iwae_chunking_does_not_change_the_result():
  fn, x, pm, pc, _, _ = _linear_gaussian()
  mean, logvar = jnp.asarray(pm, jnp.float32), jnp.zeros((3, 2), jnp.float32)
  key = jax.random.PRNGKey(3)
  a = likelihood.iwae_bound(fn, x, mean, logvar, key, 10, chunk=3)
  b = likelihood.iwae_bound(fn, x, mean, logvar, key, 10, chunk=10)
  np.testing.assert_allclose(a, b, rtol=1e-6)


def test_bernoulli_log_likelihood_matches_numpy():
  rng = np.random.default_rng(0)
  logits, x = rng.normal(size=(2, 4, 4, 1)), rng.uniform(size=(2, 4, 4, 1))
  p = 1 / (1 + np.exp(-logits))
  expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
  np.testing.assert_allclose(likelihood.bernoulli_log_likelihood(jnp.asarray(logits), jnp.asarray(x)), expected,
                             rtol=1e-5)


# ------------------------------------------------------------------------------------------- classifier


def test_probability_metrics_by_hand():
  probs = np.array([[0.95, 0.05, 0.0], [0.2, 0.7, 0.1], [0.05, 0.01, 0.94], [0.91, 0.09, 0.0]])
  assert clf_lib.confidence(probs) == 0.75
  assert clf_lib.label_accuracy(probs, [0, 1, 1, 0]) == 0.75
  # Predicted labels 0, 1, 2, 0: histogram (1/2, 1/4, 1/4).
  assert clf_lib.label_entropy(probs) == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))
  assert clf_lib.label_entropy(np.eye(3)[[1, 1, 1]]) == 0.0


@pytest.fixture(scope="module")
def digits_classifier(tmp_path_factory, monkeypatch_module):
  monkeypatch_module.setenv("JAXGEN_CACHE", str(tmp_path_factory.mktemp("cache")))
  return clf_lib.get_classifier("digits", image_size=16, channels=1, seed=0)


@pytest.fixture(scope="module")
def monkeypatch_module():
  mp = pytest.MonkeyPatch()
  yield mp
  mp.undo()


def test_digits_classifier_accuracy_cache_and_metrics(digits_classifier):
  from jaxgen import data as jdata
  clf = digits_classifier
  assert isinstance(clf, clf_lib.FeatureExtractor)
  test = jdata.load_split(clf.spec.data_config(), "test")
  accuracy = float(np.mean(clf.probabilities(test["x"]).argmax(-1) == test["label"]))
  assert accuracy >= 0.95, accuracy
  assert accuracy == pytest.approx(clf.test_accuracy)
  # A second call loads the cached weights: identical features.
  again = clf_lib.get_classifier("digits", image_size=16, channels=1, seed=0)
  np.testing.assert_array_equal(again.features(test["x"][:7]), clf.features(test["x"][:7]))
  # Real held-out images score well; noise and a single repeated digit score badly.
  train = jdata.load_split(clf.spec.data_config(), "train")
  real = clf_lib.image_metrics(clf, train["x"][:360], test["x"], labels=train["label"][:360])
  noise = clf_lib.image_metrics(clf, np.random.default_rng(0).uniform(size=test["x"].shape), test["x"])
  one = clf_lib.image_metrics(clf, np.repeat(test["x"][:1], 100, 0), test["x"])
  assert real["fd"] < 0.2 * noise["fd"]
  assert real["confidence"] > 0.9 and real["label_accuracy"] > 0.97
  assert real["label_entropy"] > 0.97 * math.log(10)
  assert one["label_entropy"] == 0.0


def test_digits_of_every_image_size_are_scored_by_the_one_16x16_classifier(digits_classifier):
  # Digits configs use 8x8 (native), 16x16 and 32x32: one classifier scores them all, so their numbers compare.
  from jaxgen import data as jdata
  for size in (8, 16, 32):
    clf = clf_lib.get_classifier("digits", image_size=size, channels=1, seed=0)
    assert clf.spec.image_size == 16 and clf.name == digits_classifier.name, size
  assert clf_lib.scoring_size("tfds/mnist", 28) == 28          # other data sets: a classifier per size
  # An 8x8 digit is scored exactly as the 16x16 training digit the pipeline makes from the same 8x8 image.
  cfg = digits_classifier.spec.data_config()
  x16 = jdata.load_split(cfg, "test")["x"][:50]
  cfg.data.image_size = 8
  x8 = jdata.load_split(cfg, "test")["x"][:50]
  assert x8.shape[1:3] == (8, 8)
  np.testing.assert_allclose(digits_classifier.probabilities(x8), digits_classifier.probabilities(x16), atol=1e-5)
  np.testing.assert_allclose(digits_classifier.features(x8), digits_classifier.features(x16), atol=1e-4)
