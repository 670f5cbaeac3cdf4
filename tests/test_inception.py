"""FID Inception-v3 (jaxgen.metrics.inception) and KID (jaxgen.metrics.frechet), with random weights: no download."""
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import inception_twin
from conftest import ROOT
from jaxgen.errors import JaxgenError
from jaxgen.metrics import frechet
from jaxgen.metrics import inception as inc

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "inception_pytorch_fid.npz")

# torchvision's Inception-v3 (27,161,264 parameters, its published num_params) without the 1000-way fc
# (2048 * 1000 + 1000) and without the auxiliary head (conv0 768->128 1x1 + BN, conv1 128->768 5x5 + BN,
# fc 768->1000): the FID network's body has the same parameter shapes.
TORCHVISION_INCEPTION_V3 = 27_161_264
FC = 2048 * 1000 + 1000
AUX = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000)


def random_variables(seed=0):
  """He-scaled random kernels, identity BN: activations stay O(1) through the 94 convolutions."""
  rng = np.random.default_rng(seed)
  shapes = inc.variable_shapes()

  def leaf(path, s):
    name = path[-1].key
    if name == "kernel":
      fan_in = int(np.prod(s.shape[:-1]))
      return jnp.asarray(rng.normal(0, math.sqrt(2.0 / fan_in), s.shape), jnp.float32)
    if name in ("scale", "var"):
      return jnp.ones(s.shape, jnp.float32)
    return jnp.asarray(rng.normal(0, 0.1, s.shape) if name == "bias" else np.zeros(s.shape), jnp.float32)

  return jax.tree_util.tree_map_with_path(leaf, shapes)


def _torch_state(variables):
  """The pytorch-fid state dict the random variables stand for (HWIO -> OIHW), plus keys the loader ignores."""
  state = {"fc.weight": np.zeros((1008, 2048), np.float32), "fc.bias": np.zeros(1008, np.float32)}
  names = {("params", "kernel"): "conv.weight", ("params", "scale"): "bn.weight", ("params", "bias"): "bn.bias",
           ("batch_stats", "mean"): "bn.running_mean", ("batch_stats", "var"): "bn.running_var"}
  for path, v in jax.tree_util.tree_flatten_with_path(variables)[0]:
    keys = [p.key for p in path]
    v = np.asarray(v)
    prefix = ".".join(keys[1:-2])
    state[prefix + "." + names[(keys[0], keys[-1])]] = v.transpose(3, 2, 0, 1) if v.ndim == 4 else v
    state[prefix + ".bn.num_batches_tracked"] = np.array(0)
  return state


def test_parameter_count_matches_the_published_network():
  shapes = inc.variable_shapes()
  count = sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes["params"]))
  assert count == TORCHVISION_INCEPTION_V3 - FC - AUX == 21_785_568
  convs = [s for p, s in jax.tree_util.tree_flatten_with_path(shapes["params"])[0] if p[-1].key == "kernel"]
  assert len(convs) == 94                    # 94 BasicConv2d in torchvision's body (aux head excluded)
  bn = sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes["batch_stats"]))
  assert bn == 2 * sum(s.shape[-1] for s in convs)          # running mean + var per output channel


def test_stage_shapes_at_299():
  model = inc.FIDInceptionV3()
  variables = inc.variable_shapes()
  out, state = jax.eval_shape(lambda v, x: model.apply(v, x, capture_intermediates=True, mutable=["intermediates"]),
                              variables, jax.ShapeDtypeStruct((2, 299, 299, 3), jnp.float32))
  inter = state["intermediates"]
  expect = {"Conv2d_4a_3x3": (2, 71, 71, 192), "Mixed_5b": (2, 35, 35, 256), "Mixed_5d": (2, 35, 35, 288),
            "Mixed_6a": (2, 17, 17, 768), "Mixed_6e": (2, 17, 17, 768), "Mixed_7a": (2, 8, 8, 1280),
            "Mixed_7b": (2, 8, 8, 2048), "Mixed_7c": (2, 8, 8, 2048)}
  for name, shape in expect.items():
    assert inter[name]["__call__"][0].shape == shape, name
  assert out.shape == (2, inc.FEATURE_DIM)


def test_avg_pool_excludes_padding_and_max_pool_branch():
  x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3)
  got = np.asarray(inc.avg_pool_3x3_same(jnp.asarray(x)))
  twin = np.zeros_like(x)
  for i in range(4):
    for j in range(5):
      twin[:, i, j] = x[:, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].mean(axis=(1, 2))   # only real pixels
  np.testing.assert_allclose(got, twin, rtol=1e-6)
  mx = np.asarray(inc.max_pool_3x3(jnp.asarray(-x), stride=1, pad=1))   # padding never wins a max
  np.testing.assert_array_equal(mx[:, 0, 0], np.max(-x[:, :2, :2], axis=(1, 2)))


def test_preprocess_is_pytorch_bilinear_then_symmetric_range():
  rng = np.random.default_rng(0)
  img = rng.uniform(size=(1, 4, 6, 3)).astype(np.float32)
  got = np.asarray(inc.preprocess(img, size=9))

  def src(n_in, n_out):       # align_corners=False: half-pixel centres, clamped at the border
    s = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(s).astype(int)
    return lo, np.minimum(lo + 1, n_in - 1), s - lo

  (r0, r1, wr), (c0, c1, wc) = src(4, 9), src(6, 9)
  twin = np.zeros((9, 9, 3))
  for i in range(9):
    for j in range(9):
      top = img[0, r0[i], c0[j]] * (1 - wc[j]) + img[0, r0[i], c1[j]] * wc[j]
      bot = img[0, r1[i], c0[j]] * (1 - wc[j]) + img[0, r1[i], c1[j]] * wc[j]
      twin[i, j] = top * (1 - wr[i]) + bot * wr[i]
  np.testing.assert_allclose(got[0], 2 * twin - 1, atol=1e-5)
  with pytest.raises(ValueError, match="3\\)"):
    inc.preprocess(np.zeros((1, 8, 8, 1)))


def test_weights_from_torch_layout_npz(tmp_path, monkeypatch):
  variables = random_variables()
  path = tmp_path / "w.npz"
  np.savez(path, **_torch_state(variables))
  loaded = inc.load_weights(str(path))
  for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(loaded)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert jax.tree.structure(variables) == jax.tree.structure(loaded)

  state = _torch_state(variables)
  del state["Mixed_7c.branch_pool.conv.weight"]
  np.savez(tmp_path / "bad.npz", **state)
  with pytest.raises(JaxgenError, match="Mixed_7c.branch_pool.conv.weight"):
    inc.load_weights(str(tmp_path / "bad.npz"))

  monkeypatch.setenv("JAXGEN_CACHE", str(tmp_path / "cache"))
  assert not inc.weights_available()
  with pytest.raises(JaxgenError, match="cache/inception/pt_inception-2015-12-05.npz.*--convert"):
    inc.load_weights()


def test_features_match_pytorch_fid_with_the_same_random_weights():
  """pytorch-fid's own InceptionV3 (its resize and 2x - 1, FID blocks, eval mode) made the fixture's features from
  the weights inception_twin.random_state(seed) (benchmarks/inception_crosscheck.py, with PyTorch); here the same
  arrays go through jaxgen's converter, preprocess and network."""
  with np.load(FIXTURE) as f:
    fx = {k: f[k] for k in f.files}
  seed = int(fx["seed"])
  names = [str(n) for n in fx["names"]]
  torch_shapes = {n: tuple(int(d) for d in dims[:k]) for n, dims, k in zip(names, fx["shapes"], fx["ndim"])}
  assert torch_shapes == inception_twin.state_shapes()        # the state dict pytorch-fid built = the twin's
  assert set(json.loads(str(fx["versions"]))) >= {"torch", "pytorch_fid"}
  for got, stored in zip(inception_twin.images(seed), (fx["images_32"], fx["images_64"])):
    np.testing.assert_array_equal(got, stored)

  variables = inc.torch_to_flax(inception_twin.random_state(seed))     # fc.* present, ignored
  x = jnp.concatenate([inc.preprocess(fx[k].astype(np.float32) / np.float32(255.0)) for k in ("images_32", "images_64")])
  feats = np.asarray(jax.jit(inc.FIDInceptionV3().apply)(variables, x))
  want = fx["features"]
  assert feats.shape == want.shape == (5, inc.FEATURE_DIM)
  err, scale = float(np.abs(feats - want).max()), float(np.abs(want).max())
  # measured: 3.8e-5 with features up to 78 (std 6.5); PyTorch float32 itself is 1.5e-5 from float64
  assert err <= 1e-4 and err <= 2e-6 * scale, (err, scale)


@pytest.mark.slow      # compiles the whole network once (~25 s of CPU on 2 cores)
def test_features_and_fid_of_a_set_with_itself():
  rng = np.random.default_rng(1)
  images = rng.uniform(size=(5, 8, 8, 3)).astype(np.float32)
  ex = inc.InceptionExtractor(variables=random_variables(), batch=4)      # 2 batches, the last one padded
  feats = ex.features(images)
  assert feats.shape == (5, inc.FEATURE_DIM) and np.isfinite(feats).all() and feats.std() > 0
  np.testing.assert_allclose(feats[4:], ex.features(images[4:]), rtol=1e-4, atol=1e-5)   # padding-independent
  scale = float(np.var(feats, axis=0, ddof=1).sum())             # Tr(Σ): the size of each trace term
  assert scale > 0 and frechet.frechet_distance_from_features(feats, feats) <= 1e-9 * scale


def _mmd2_loop(x, y):
  """Unbiased MMD² with k(a, b) = (a·b/d + 1)³, by explicit loops."""
  m, d = x.shape
  k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
  return xx + yy - 2 * xy


def test_kid_matches_loop_twin_and_separates_distributions():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(12, 5)), rng.normal(0.5, 1.0, size=(12, 5))
  assert frechet.mmd2_unbiased(x, y) == pytest.approx(_mmd2_loop(x, y), rel=1e-10)
  # one subset holding every row is a permutation of each set: the same value
  mean, std = frechet.kernel_inception_distance(x, y, num_subsets=1, subset_size=50)
  assert mean == pytest.approx(_mmd2_loop(x, y), rel=1e-10) and std == 0.0
  # subsets: the average of the per-subset twins under the same draws
  big_x, big_y = rng.normal(size=(30, 5)), rng.normal(size=(40, 5))
  mean, _ = frechet.kernel_inception_distance(big_x, big_y, num_subsets=3, subset_size=10, seed=7)
  draws = np.random.default_rng(7)
  twins = []
  for _ in range(3):
    a = big_x[draws.choice(30, 10, replace=False)]
    twins.append(_mmd2_loop(a, big_y[draws.choice(40, 10, replace=False)]))
  assert mean == pytest.approx(np.mean(twins), rel=1e-10)
  same, _ = frechet.kernel_inception_distance(rng.normal(size=(400, 5)), rng.normal(size=(400, 5)), 10, 200)
  shifted, _ = frechet.kernel_inception_distance(rng.normal(size=(400, 5)), rng.normal(0.5, 1, (400, 5)), 10, 200)
  assert abs(same) < 0.1 and shifted > 1.0      # E MMD² ≈ 1.3 for a 0.5 shift in all 5 dimensions


def test_evaluate_uses_inception_for_3_channel_runs(monkeypatch, config_loader):
  import types
  from jaxgen import evaluate
  seen = []

  class FakeExtractor:                     # the plumbing, not the network: mean colour and spread per image
    def features(self, images):
      images = np.asarray(images)
      seen.append(images)
      return np.concatenate([images.mean((1, 2)), images.std((1, 2))], axis=1)

  monkeypatch.setattr(inc, "weights_available", lambda path=None: True)
  monkeypatch.setattr(inc, "InceptionExtractor", FakeExtractor)
  gray = config_loader("ddm_digits")
  rgb = config_loader("ddm_digits", **{"data.channels": 3, "data.range": "symmetric", "train.batch_size": 16})
  assert "inception" not in evaluate.plan(gray) and "inception" in evaluate.plan(rgb)
  run = types.SimpleNamespace(config=rgb, sample=lambda key, n, **o: 2.0 * jax.random.uniform(key, (n, 16, 16, 3)) - 1)
  out = evaluate.inception_metrics(run, jax.random.PRNGKey(0), 40, kid_subset=20)
  assert out["inception_num_real"] == 40 and np.isfinite(out["inception_fid"]) and out["inception_fid"] > 0
  assert all(x.min() >= 0.0 and x.max() <= 1.0 for x in seen)      # samples and real images both in [0, 1]
  assert np.isfinite(out["inception_kid"]) and out["inception_kid_std"] > 0
