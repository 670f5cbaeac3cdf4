"""Autoencoder: reference architecture, learning on digits, embedding-box tools."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config
from jaxgen import data as jdata
from jaxgen import viz
from jaxgen.errors import JaxgenError
from jaxgen.families import autoencoder as ae


def _tiny_config(**over):
  return load_config("ae_digits", **{"data.image_size": 8, "model.encoder_features": (8, 16),
                                     "model.decoder_features": (16, 8), "train.batch_size": 64, **over})


def test_reference_param_count_and_upsample_variant():
  c = load_config("ae_fashion_mnist")
  state = jax.eval_shape(lambda: ae.init(c, jax.random.PRNGKey(0), {"x": np.zeros((1, 32, 32, 1), np.float32)}))
  assert sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params)) == 343_043
  c = _tiny_config(**{"model.decoder": "upsample"})
  state = ae.init(c, jax.random.PRNGKey(0), {"x": np.zeros((1, 8, 8, 1), np.float32)})
  assert state.batch_stats                                   # BatchNorm in the upsample decoder
  state2, m = jax.jit(ae.train_step)(state, {"x": jnp.full((4, 8, 8, 1), 0.5)}, jax.random.PRNGKey(1))
  assert np.isfinite(float(m["loss"])) and int(state2.step) == 1
  assert not np.allclose(jax.tree.leaves(state2.batch_stats)[0], jax.tree.leaves(state.batch_stats)[0])


def test_autoencoder_learns_on_digits():
  """The test reconstruction BCE falls well below its initial value (log 2 = 0.693 at init)."""
  c = _tiny_config(**{"optim.learning_rate": 3e-3})
  train, test = jdata.load_split(c, "train"), jdata.load_split(c, "test")
  state = ae.init(c, jax.random.PRNGKey(0), {"x": train["x"][:1]})
  ev = jax.jit(ae.eval_step)
  before = float(ev(state, {"x": test["x"]}, None)["loss"])

  @jax.jit
  def run(state, key):
    def body(state, k):
      idx = jax.random.choice(k, train["x"].shape[0], (64,), replace=False)
      return ae.train_step(state, {"x": jnp.asarray(train["x"])[idx]}, k)
    return jax.lax.scan(body, state, jax.random.split(key, 300))

  state, _ = run(state, jax.random.PRNGKey(2))
  after = float(ev(state, {"x": test["x"]}, None)["loss"])
  assert after < before - 0.15, (before, after)
  # The box tracks the embeddings: most test embeddings lie inside it.
  z = np.asarray(ae.encode(state, test["x"]))
  inside = np.all((z >= np.asarray(state.box_lo) - 1e-6) & (z <= np.asarray(state.box_hi) + 1e-6), axis=1)
  assert inside.mean() > 0.8
  lo, hi = ae.embedding_box(state, test["x"], batch_size=100)
  np.testing.assert_allclose(lo, z.min(0), rtol=1e-5)
  np.testing.assert_allclose(hi, z.max(0), rtol=1e-5)


def test_box_and_grid_tools():
  lo, hi = np.array([-1.0, 2.0]), np.array([3.0, 5.0])
  pts = np.asarray(ae.sample_uniform_box(jax.random.PRNGKey(0), 5000, lo, hi))
  assert pts.shape == (5000, 2) and np.all(pts >= lo) and np.all(pts <= hi)
  np.testing.assert_allclose(pts.mean(0), (lo + hi) / 2, atol=0.06)
  grid = np.asarray(ae.box_grid(lo, hi, 3))
  np.testing.assert_allclose(grid[:3, 0], [-1, 1, 3])          # first row: x left -> right at y = hi
  np.testing.assert_allclose(grid[::3, 1], [5, 3.5, 2])          # rows from hi down to lo
  c = _tiny_config()
  state = ae.init(c, jax.random.PRNGKey(0), {"x": np.zeros((1, 8, 8, 1), np.float32)})
  s = ae.sample(state, jax.random.PRNGKey(1), 6)
  assert s.shape == (6, 8, 8, 1) and float(s.min()) >= 0 and float(s.max()) <= 1
  out = ae.sample_outputs(state, c, jax.random.PRNGKey(1), 6, {"latent_grid": 3})
  assert out["samples"].shape == (9, 8, 8, 1) and out["ncols"] == 3
  # The grid says which z each row and column decodes: the box's values, the coordinate names, the title.
  xs, ys = ae.box_axes(state.box_lo, state.box_hi, 3)
  np.testing.assert_allclose([float(v) for v in out["col_labels"]], xs, rtol=5e-3)
  np.testing.assert_allclose([float(v) for v in out["row_labels"]], ys, rtol=5e-3)
  texts = [t.get_text() for t in viz.outputs_figure(out).texts]
  assert {"z1", "z2", "autoencoder decoder over a 3×3 grid of z1, z2"} <= set(texts)
  title = ae.sample_outputs(state, c, jax.random.PRNGKey(1), 2, {})["title"]
  assert title == "autoencoder decoder, z uniform in the embedding box"
  r = ae.reconstruct(state, jnp.zeros((2, 8, 8, 1)))
  assert r.shape == (2, 8, 8, 1)
  with pytest.raises(JaxgenError, match="steps"):
    ae.sample(state, jax.random.PRNGKey(1), 2, steps=3)


def test_validate_config():
  with pytest.raises(JaxgenError, match="decoder"):
    ae.validate_config(_tiny_config(**{"model.decoder": "pixelshuffle"}))
  with pytest.raises(JaxgenError, match="divisible"):
    ae.validate_config(_tiny_config(**{"data.image_size": 12, "model.encoder_features": (8, 16, 32),
                                       "model.decoder_features": (32, 16, 8)}))
