"""VAE: closed-form KL, reparameterization gradients, the loss scales, latent tools, and a learning check."""
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config
from jaxgen import data as jdata
from jaxgen import viz
from jaxgen.errors import JaxgenError
from jaxgen.families import vae
from jaxgen.latent import attributes, interpolate


def test_kl_closed_form_at_known_points():
  mean = jnp.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]])
  logvar = jnp.array([[0.0, 0.0], [0.0, 0.0], [math.log(4.0), 0.0]])
  # KL(N(m, s²) ‖ N(0, 1)) = ½(s² + m² − 1 − log s²) per dimension.
  np.testing.assert_allclose(vae.kl_divergence(mean, logvar), [0.0, 2.5, 0.5 * (4 - 1 - math.log(4))], rtol=1e-6)


def test_kl_against_monte_carlo():
  mean = jnp.array([0.7, -1.2, 0.1])
  logvar = jnp.array([-0.5, 0.8, 0.0])
  n = 200_000
  z = vae.reparameterize(jax.random.PRNGKey(0), jnp.broadcast_to(mean, (n, 3)), jnp.broadcast_to(logvar, (n, 3)))
  log_q = -0.5 * jnp.sum(math.log(2 * math.pi) + logvar + (z - mean) ** 2 / jnp.exp(logvar), axis=-1)
  log_p = -0.5 * jnp.sum(math.log(2 * math.pi) + z ** 2, axis=-1)
  diff = np.asarray(log_q - log_p, np.float64)
  mc, se = diff.mean(), diff.std() / math.sqrt(n)
  kl = float(vae.kl_divergence(mean[None], logvar[None])[0])
  assert abs(mc - kl) < 4 * se, (mc, kl, se)


def test_reparameterization_gradient():
  """∂/∂(mean, logvar) of Σ g(z(ε)) for fixed ε equals central finite differences, and its average over many
  ε equals the gradient of the closed form E[z³ + z²] = m³ + 3m·s² + m² + s² (s² = exp(logvar))."""
  g = lambda z: z ** 3 + z ** 2
  mean, logvar = jnp.array([0.3, -0.8]), jnp.array([0.2, -0.4])
  f = lambda m, lv: jnp.sum(g(vae.reparameterize(jax.random.PRNGKey(1), m, lv)))
  gm, glv = jax.grad(f, argnums=(0, 1))(mean, logvar)
  f64 = lambda m, lv: float(np.sum(g(np.asarray(m, np.float64) + np.exp(0.5 * np.asarray(lv, np.float64))
                                       * np.asarray(jax.random.normal(jax.random.PRNGKey(1), (2,)), np.float64))))
  h = 1e-4
  for i in range(2):
    e = np.zeros(2); e[i] = h
    fd_m = (f64(np.asarray(mean) + e, logvar) - f64(np.asarray(mean) - e, logvar)) / (2 * h)
    fd_lv = (f64(mean, np.asarray(logvar) + e) - f64(mean, np.asarray(logvar) - e)) / (2 * h)
    np.testing.assert_allclose(gm[i], fd_m, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(glv[i], fd_lv, rtol=1e-3, atol=1e-4)
  n = 400_000
  fe = lambda m, lv: jnp.mean(jnp.sum(g(vae.reparameterize(jax.random.PRNGKey(2), jnp.broadcast_to(m, (n, 2)),
                                                           jnp.broadcast_to(lv, (n, 2)))), axis=-1))
  gm, glv = jax.grad(fe, argnums=(0, 1))(mean, logvar)
  s2 = np.exp(np.asarray(logvar))
  m = np.asarray(mean)
  np.testing.assert_allclose(gm, 3 * m ** 2 + 3 * s2 + 2 * m, rtol=0.03, atol=0.02)
  np.testing.assert_allclose(glv, (3 * m + 1) * s2, rtol=0.03, atol=0.02)


def test_elbo_and_loss_scales():
  rng = np.random.default_rng(0)
  x = rng.uniform(size=(3, 4, 4, 1)).astype(np.float32)
  logits = rng.normal(size=(3, 4, 4, 1)).astype(np.float32)
  mean, logvar = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  log_lik = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
  kl = -0.5 * np.sum(1 + logvar - mean ** 2 - np.exp(logvar), axis=1)
  np.testing.assert_allclose(vae.elbo(x, logits, mean, logvar), log_lik - kl, rtol=1e-5)
  # The notebook's loss: 500 · pixel-mean BCE + KL, averaged over the batch.
  loss, m = vae.vae_loss(x, logits, mean, logvar, "bce", 500.0, "mean")
  np.testing.assert_allclose(loss, np.mean(-500 / 16 * log_lik + kl), rtol=1e-5)
  np.testing.assert_allclose(m["reconstruction"], np.mean(-500 / 16 * log_lik), rtol=1e-5)
  np.testing.assert_allclose(m["kl"], kl.mean(), rtol=1e-5)
  # MSE: the Gaussian decoder whose ELBO the faces loss is has σ² = 3072 / (2·2000).
  np.testing.assert_allclose(vae.gaussian_sigma(2000.0, "mean", 3072) ** 2, 0.768)


def _tiny_config(**over):
  c = load_config("vae_digits", **{"data.image_size": 8, "model.encoder_features": (8, 16),
                                   "model.decoder_features": (16, 8), "train.batch_size": 64, **over})
  return c


def test_vae_learns_on_digits():
  """A few hundred steps lower the test negative ELBO (nats, one z sample) well below its initial value."""
  c = _tiny_config(**{"optim.learning_rate": 3e-3})
  train, test = jdata.load_split(c, "train"), jdata.load_split(c, "test")
  state = vae.init(c, jax.random.PRNGKey(0), {"x": train["x"][:1]})
  ev = jax.jit(vae.eval_step)
  before = float(ev(state, {"x": test["x"]}, jax.random.PRNGKey(1))["neg_elbo"])

  @jax.jit
  def run(state, key):
    def body(state, k):
      idx = jax.random.choice(k, train["x"].shape[0], (64,), replace=False)
      state, m = vae.train_step(state, {"x": jnp.asarray(train["x"])[idx]}, jax.random.fold_in(k, 1))
      return state, m["loss"]
    return jax.lax.scan(body, state, jax.random.split(key, 300))

  state, losses = run(state, jax.random.PRNGKey(2))
  after = ev(state, {"x": test["x"]}, jax.random.PRNGKey(1))
  assert np.all(np.isfinite(np.asarray(losses)))
  assert float(after["neg_elbo"]) < 0.75 * before, (before, after)
  assert float(after["kl"]) > 0.5          # the latent is used


def test_encode_decode_sample_tools(tmp_path):
  c = _tiny_config()
  state = vae.init(c, jax.random.PRNGKey(0), {"x": np.zeros((1, 8, 8, 1), np.float32)})
  x = jax.random.uniform(jax.random.PRNGKey(1), (5, 8, 8, 1))
  mean, logvar = vae.encode(state, x)
  assert mean.shape == logvar.shape == (5, 2)
  s = vae.sample(state, jax.random.PRNGKey(2), 7)
  assert s.shape == (7, 8, 8, 1) and float(s.min()) >= 0 and float(s.max()) <= 1
  out = vae.sample_outputs(state, c, jax.random.PRNGKey(2), 7, {"latent_grid": 4})
  assert out["samples"].shape == (16, 8, 8, 1) and out["ncols"] == 4
  # Columns at Φ⁻¹(0.05, 0.35, 0.65, 0.95), rows the same from the top down.
  assert out["col_labels"] == ["-1.64", "-0.385", "+0.385", "+1.64"] and out["row_labels"] == out["col_labels"][::-1]
  assert (out["col_title"], out["row_title"]) == ("z1", "z2")
  # latent_scatter=N: the posterior means of the first N test images, with their labels.
  test = jdata.load_split(c, "test")
  out = vae.sample_outputs(state, c, jax.random.PRNGKey(2), 7, {"latent_scatter": 30})
  np.testing.assert_allclose(out["samples"], vae.encode(state, jnp.asarray(test["x"][:30]))[0], rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(out["labels"], test["label"][:30])
  assert out["title"] == "VAE posterior means of 30 test images" and out["axis_labels"] == ("$z_1$", "$z_2$")
  fig = viz.outputs_figure(out)
  assert fig.axes[0].get_legend().get_title().get_text() == "label"
  with pytest.raises(JaxgenError, match="latent_scatter=0 must be a positive integer"):
    vae.sample_outputs(state, c, jax.random.PRNGKey(2), 7, {"latent_scatter": 0})
  with pytest.raises(JaxgenError, match="not both"):
    vae.sample_outputs(state, c, jax.random.PRNGKey(2), 7, {"latent_scatter": 5, "latent_grid": 3})
  with pytest.raises(JaxgenError, match="label"):
    vae.sample(state, jax.random.PRNGKey(2), 3, label=1)
  grid = np.asarray(vae.prior_grid(3, 2))
  assert grid[0, 0] < 0 and grid[2, 0] > 0 and grid[0, 1] > 0 and grid[6, 1] < 0   # x left->right, y top->bottom
  assert vae.interpolate(state, x[0], x[1], 4).shape == (4, 8, 8, 1)
  path = os.path.join(tmp_path, "hist.png")
  vae.latent_histograms_png(np.random.default_rng(0).normal(size=(500, 12)), path, num_dims=12)
  assert os.path.getsize(path) > 0


@pytest.mark.parametrize("recon_loss", ["bce", "mse"])
def test_log_px_given_z_is_the_decoder_likelihood(recon_loss):
  """log p(x|z) from the decoder's mean p = sigmoid(logits), in float64 outside JAX: a Bernoulli log-likelihood
  ("bce"), or for the squared-error loss w·mean SE = SE/(2σ²) the Gaussian N(p, σ²) with σ² = P/(2w) (scipy)."""
  import scipy.stats
  c = _tiny_config(**{"model.recon_loss": recon_loss, "model.recon_weight": 2000.0})
  state = vae.init(c, jax.random.PRNGKey(0), {"x": np.zeros((1, 8, 8, 1), np.float32)})
  x = np.asarray(jax.random.uniform(jax.random.PRNGKey(1), (5, 8, 8, 1)), np.float64)
  z = jax.random.normal(jax.random.PRNGKey(2), (5, 2))
  p = 1.0 / (1.0 + np.exp(-np.asarray(vae.decoder_logits(state, z), np.float64)))
  if recon_loss == "bce":
    want = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
  else:
    want = np.sum(scipy.stats.norm.logpdf(x, loc=p, scale=math.sqrt(64 / (2 * 2000.0))), axis=(1, 2, 3))
  np.testing.assert_allclose(vae.log_px_given_z(state, z, jnp.asarray(x, jnp.float32)), want, rtol=1e-5)


def test_interpolations():
  a, b = jnp.array([3.0, 0.0]), jnp.array([0.0, 3.0])
  t = jnp.array([0.0, 0.5, 1.0])
  np.testing.assert_allclose(interpolate.lerp(a, b, t), [[3, 0], [1.5, 1.5], [0, 3]])
  s = interpolate.slerp(a, b, t)
  np.testing.assert_allclose(np.asarray(s)[[0, 2]], [[3, 0], [0, 3]], atol=1e-5)
  np.testing.assert_allclose(jnp.linalg.norm(s, axis=-1), 3.0, rtol=1e-5)      # stays on the circle
  np.testing.assert_allclose(s[1], [3 / math.sqrt(2)] * 2, rtol=1e-5)
  np.testing.assert_allclose(interpolate.slerp(a, 2 * a, 0.5), 1.5 * a, rtol=1e-5)   # parallel: lerp
  n = interpolate.sincos_interpolation(a, b, t)
  np.testing.assert_allclose(n[0], b, atol=1e-6)
  np.testing.assert_allclose(n[2], a, atol=1e-6)
  np.testing.assert_allclose(n[1], (a + b) / math.sqrt(2), rtol=1e-6)


def test_attribute_vector_and_edits():
  rng = np.random.default_rng(0)
  z = rng.normal(size=(400, 5)).astype(np.float32)
  labels = np.where(np.arange(400) % 2 == 0, 1, -1)
  z[labels == 1] += np.array([2.0, 0, 0, 0, 0], np.float32)
  v = attributes.attribute_vector(z, labels)
  expected = z[labels == 1].mean(0) - z[labels == -1].mean(0)
  np.testing.assert_allclose(v, expected / np.linalg.norm(expected), rtol=1e-5)
  assert float(v[0]) > 0.95
  edits = attributes.apply_vector(z[:3], v, [-1.0, 0.0, 2.0])
  assert edits.shape == (3, 3, 5)
  np.testing.assert_allclose(edits[2], z[:3] + 2 * np.asarray(v), rtol=1e-6)
  with pytest.raises(JaxgenError):
    attributes.attribute_vector(z, np.ones(400))


def test_reference_param_counts():
  for name, shape, total in [("vae_fashion_mnist", (1, 32, 32, 1), 347_141), ("vae_celeba", (1, 32, 32, 3), 1_354_387)]:
    c = load_config(name)
    state = jax.eval_shape(lambda: vae.init(c, jax.random.PRNGKey(0), {"x": np.zeros(shape, np.float32)}))
    n = sum(int(np.prod(x.shape)) for x in jax.tree.leaves((state.params, state.batch_stats)))
    assert n == total, (name, n)
