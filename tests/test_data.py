"""Tests of jaxgen.data: toy distributions against their closed forms / sklearn twins, preprocessing against
loop twins, digits/TFDS (mock)/folder sources, name checks and the deterministic pipeline."""
import math
import os

import jax
import numpy as np
import pytest

from jaxgen import data
from jaxgen.config import base_config
from jaxgen.data import digits, pipeline, preprocess, toy2d
from jaxgen.errors import JaxgenError


def make_config(name="digits", image_size=8, channels=1, pad=0, range_="unit", batch_size=32, seed=0, **kw):
  c = base_config()
  c.seed = seed
  c.data.name = name
  c.data.image_size = image_size
  c.data.channels = channels
  c.data.pad = pad
  c.data.range = range_
  c.train.batch_size = batch_size
  for k, v in kw.items():
    c.data[k] = v
  return c


# ---------------------------------------------------------------------------------------------------- toy2d


def _assign(x, centers):
  d = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
  return d.argmin(1)


@pytest.mark.parametrize("name,num_modes,radius_or_spacing,std", [
    ("8gaussians", 8, 2.0 / 1.414, 0.02 / 1.414),
    ("25gaussians", 25, 2.0 / 2.828, 0.05 / 2.828),
])
def test_gaussian_mixtures_match_documented_modes(name, num_modes, radius_or_spacing, std):
  centers, s = toy2d.modes(name)
  assert centers.shape == (num_modes, 2) and math.isclose(s, std)
  if name == "8gaussians":
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), radius_or_spacing, rtol=1e-6)
  else:
    np.testing.assert_allclose(np.unique(np.round(centers[:, 0], 6)), radius_or_spacing * np.arange(-2, 3),
                               rtol=1e-5, atol=1e-6)
  n = 50_000
  x = np.asarray(toy2d.sample_jit(name, jax.random.PRNGKey(0), n))
  assert x.shape == (n, 2) and x.dtype == np.float32
  a = _assign(x, centers)
  occupancy = np.bincount(a, minlength=num_modes) / n
  np.testing.assert_allclose(occupancy, 1.0 / num_modes, atol=5 * math.sqrt(1.0 / num_modes / n))
  for m in range(num_modes):
    pts = x[a == m]
    np.testing.assert_allclose(pts.mean(0), centers[m], atol=6 * std / math.sqrt(len(pts)))
    np.testing.assert_allclose(pts.std(0), std, rtol=0.08)
  np.testing.assert_allclose(x.mean(0), 0.0, atol=0.02)


def _quantiles(x):
  return np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)


def test_swissroll_and_moons_match_sklearn_twins():
  import sklearn.datasets as skd
  n = 60_000
  twins = {
      "swissroll": skd.make_swiss_roll(n, noise=0.25, random_state=0)[0][:, [0, 2]] / 7.5,
      "moons": skd.make_moons(n, noise=0.1, random_state=0)[0] * 2 + np.array([-1.0, -0.2]),
  }
  for name, ref in twins.items():
    x = np.asarray(toy2d.sample_jit(name, jax.random.PRNGKey(3), n))
    np.testing.assert_allclose(_quantiles(x), _quantiles(ref), atol=0.04, err_msg=name)
    np.testing.assert_allclose(x.std(0), ref.std(0), rtol=0.02, err_msg=name)


def test_checkerboard_and_rings_support():
  x = np.asarray(toy2d.sample_jit("checkerboard", jax.random.PRNGKey(1), 40_000))
  assert (np.abs(x) <= 4.0).all()
  cells = np.floor(x / 2.0).astype(int)
  assert ((cells[:, 0] + cells[:, 1]) % 2 == 0).all()            # only the 8 "black" squares
  counts = np.unique(cells[:, 0] * 10 + cells[:, 1], return_counts=True)[1]
  assert len(counts) == 8 and counts.min() > 0.8 * 40_000 / 8
  r = np.linalg.norm(np.asarray(toy2d.sample_jit("rings", jax.random.PRNGKey(2), 40_000)), axis=1)
  radii = 3.0 * np.array([1.0, 0.75, 0.5, 0.25])
  a = np.abs(r[:, None] - radii).argmin(1)
  np.testing.assert_allclose(np.bincount(a) / len(r), 0.25, atol=0.015)
  assert np.abs(r[a == 0] - 3.0).mean() < 0.08                    # radial noise of std 0.08


def test_toy2d_sample_is_jittable_and_keyed():
  sample_all = jax.jit(lambda key: [toy2d.sample(name, key, 64) for name in toy2d.NAMES])  # one compile
  a, b, c = sample_all(jax.random.PRNGKey(7)), sample_all(jax.random.PRNGKey(7)), sample_all(jax.random.PRNGKey(8))
  for name, x, y, z in zip(toy2d.NAMES, a, b, c):
    assert x.shape == (64, 2) and x.dtype == np.float32 and np.isfinite(x).all(), name
    np.testing.assert_array_equal(x, y)
    assert not np.allclose(x, z), name
  with pytest.raises(JaxgenError, match="swissroll"):
    toy2d.modes("swissroll")


def test_toy2d_load_split_is_fixed_and_seed_independent():
  a = data.load_split(make_config("toy2d/25gaussians", seed=0), "test")
  b = data.load_split(make_config("toy2d/25gaussians", seed=5), "test")
  assert set(a) == {"x"} and a["x"].shape == (10_000, 2)
  np.testing.assert_array_equal(a["x"], b["x"])
  train = data.load_split(make_config("toy2d/25gaussians"), "train")["x"]
  assert train.shape == (100_000, 2) and not np.allclose(train[:10_000], a["x"])


# ---------------------------------------------------------------------------------------------------- digits


def test_digits_split_sizes_labels_and_values():
  from sklearn.datasets import load_digits
  ref = load_digits()
  cfg = make_config(image_size=8, seed=0)
  tr, te = data.load_split(cfg, "train"), data.load_split(cfg, "test")
  assert tr["x"].shape == (1437, 8, 8, 1) and te["x"].shape == (360, 8, 8, 1)
  assert tr["x"].dtype == np.float32 and tr["label"].dtype == np.int32
  assert tr["x"].min() == 0.0 and tr["x"].max() == 1.0
  idx_tr, idx_te = digits.split_indices("train"), digits.split_indices("test")
  assert len(np.intersect1d(idx_tr, idx_te)) == 0 and len(np.union1d(idx_tr, idx_te)) == 1797
  np.testing.assert_array_equal(tr["x"][..., 0], ref.images[idx_tr] / 16.0)
  np.testing.assert_array_equal(te["label"], ref.target[idx_te])
  assert set(np.unique(te["label"])) == set(range(10))
  # The split is fixed: independent of config.seed.
  np.testing.assert_array_equal(data.load_split(make_config(image_size=8, seed=3), "test")["label"], te["label"])
  assert data.num_classes(cfg) == 10


def test_digits_resize_channels_and_range():
  cfg = make_config(image_size=16, channels=3, range_="symmetric")
  x = data.load_split(cfg, "test")["x"]
  assert x.shape == (360, 16, 16, 3) and x.min() >= -1.0 and x.max() <= 1.0
  np.testing.assert_array_equal(x[..., 0], x[..., 2])
  src = digits.raw_split("test")[0][..., 0]
  # 2x bilinear upsampling with half-pixel centres: out[0] = in[0], out[1] = 3/4 in[0] + 1/4 in[1].
  unit = (x[..., 0] + 1) / 2
  np.testing.assert_allclose(unit[:, 0, 0], src[:, 0, 0], atol=1e-6)
  np.testing.assert_allclose(unit[:, 1, 0], 0.75 * src[:, 0, 0] + 0.25 * src[:, 1, 0], atol=1e-6)


# ---------------------------------------------------------------------------------------------------- preprocessing


def _tf_bilinear_loop(img, out_h, out_w):
  """Python-loop twin of tf.image.resize(bilinear, half_pixel_centers, no antialias) for (H, W) arrays."""
  h, w = img.shape
  out = np.zeros((out_h, out_w))
  for i in range(out_h):
    u = (i + 0.5) * h / out_h - 0.5
    y0, fy = math.floor(u), u - math.floor(u)
    ya, yb = min(max(y0, 0), h - 1), min(max(math.ceil(u), 0), h - 1)
    for j in range(out_w):
      v = (j + 0.5) * w / out_w - 0.5
      x0, fx = math.floor(v), v - math.floor(v)
      xa, xb = min(max(x0, 0), w - 1), min(max(math.ceil(v), 0), w - 1)
      top = img[ya, xa] * (1 - fx) + img[ya, xb] * fx
      bot = img[yb, xa] * (1 - fx) + img[yb, xb] * fx
      out[i, j] = top * (1 - fy) + bot * fy
  return out


def test_pad_28_to_32_in_both_ranges():
  rng = np.random.default_rng(0)
  img = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
  for range_, border in (("unit", 0.0), ("symmetric", -1.0)):
    x = preprocess.preprocess(img, image_size=32, channels=1, pad=2, range_=range_)
    assert x.shape == (3, 32, 32, 1) and x.dtype == np.float32
    inner = img.astype(np.float32) / 255.0 if range_ == "unit" else (img.astype(np.float32) - 127.5) / 127.5
    np.testing.assert_allclose(x[:, 2:30, 2:30], inner, atol=1e-6)
    mask = np.ones((32, 32), bool)
    mask[2:30, 2:30] = False
    assert (x[:, mask] == border).all()


@pytest.mark.parametrize("shape,out", [((218, 178), (64, 64)), ((7, 5), (16, 16)), ((20, 20), (6, 6))])
def test_resize_matches_tf_bilinear_loop_twin(shape, out):
  img = np.random.default_rng(1).random(shape).astype(np.float32)
  got = preprocess.resize_bilinear(img[None, ..., None], out)[0, ..., 0]
  np.testing.assert_allclose(got, _tf_bilinear_loop(img, *out), atol=2e-6)


def test_resize_2x_matches_jax_image_resize():
  img = np.random.default_rng(2).random((2, 8, 8, 3)).astype(np.float32)
  got = preprocess.resize_bilinear(img, 16)
  ref = jax.image.resize(img, (2, 16, 16, 3), "bilinear", antialias=False)
  np.testing.assert_allclose(got, ref, atol=1e-6)


def test_channels_conversion_and_errors():
  rgb = np.random.default_rng(3).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
  gray = preprocess.preprocess(rgb, image_size=4, channels=1)
  np.testing.assert_allclose(gray[..., 0], (rgb / 255.0) @ np.array([0.2989, 0.5870, 0.1140]), atol=1e-5)
  tiled = preprocess.preprocess(rgb[..., :1], image_size=4, channels=3)
  np.testing.assert_array_equal(tiled[..., 1], tiled[..., 0])
  rgba = np.concatenate([rgb, np.zeros_like(rgb[..., :1])], -1)
  np.testing.assert_array_equal(preprocess.preprocess(rgba, image_size=4, channels=3),
                                preprocess.preprocess(rgb, image_size=4, channels=3))
  with pytest.raises(JaxgenError, match="2 channels"):
    preprocess.preprocess(np.zeros((1, 4, 4, 2), np.uint8), image_size=4, channels=1)
  with pytest.raises(JaxgenError, match="shape"):
    preprocess.preprocess(np.zeros((4, 4), np.uint8), image_size=4, channels=1)


# ---------------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize("bad", ["toy2d/spiral", "tfds/imagenet", "mnist", "folder:", "", "digits2", "toy2d/"])
def test_bad_names_raise_with_the_name(bad):
  with pytest.raises(JaxgenError) as e:
    data.check_name(bad)
  assert repr(bad) in str(e.value) and "toy2d/8gaussians" in str(e.value) and "folder:<path>" in str(e.value)


def test_good_names_pass():
  for name in ["digits", "folder:/x/y", *(f"toy2d/{n}" for n in toy2d.NAMES),
               *(f"tfds/{n}" for n in data.TFDS_NAMES)]:
    data.check_name(name)


def test_example_batch_and_num_classes():
  b = data.example_batch(make_config("toy2d/moons"), 5)
  assert set(b) == {"x"} and b["x"].shape == (5, 2)
  b = data.example_batch(make_config("digits", image_size=32, channels=3), 4)
  assert b["x"].shape == (4, 32, 32, 3) and b["x"].dtype == np.float32 and b["label"].dtype == np.int32
  assert set(data.example_batch(make_config("tfds/celeb_a", image_size=64), 2)) == {"x"}
  assert set(data.example_batch(make_config("tfds/celeb_a", label="Blond_Hair"), 2)) == {"x", "label"}
  assert data.num_classes(make_config("tfds/oxford_flowers102")) == 102
  assert data.num_classes(make_config("tfds/cifar10")) == 10
  assert data.num_classes(make_config("folder:/tmp")) == 0


# ---------------------------------------------------------------------------------------------------- TFDS (mock)


def test_tfds_mnist_under_mock_data():
  tfds = pytest.importorskip("tensorflow_datasets")
  cfg = make_config("tfds/mnist", image_size=32, pad=2, range_="symmetric", batch_size=8)
  with tfds.testing.mock_data(num_examples=24):
    raw = tfds.data_source("mnist", split="test")
    ref = np.stack([raw[i]["image"] for i in range(len(raw))])
    labels = [int(raw[i]["label"]) for i in range(len(raw))]
    out = data.load_split(cfg, "test")
    batch = data.make_pipeline(cfg, "train").batch(1)
  assert out["x"].shape == (24, 32, 32, 1) and out["label"].dtype == np.int32
  np.testing.assert_array_equal(out["label"], labels)
  np.testing.assert_allclose(out["x"][:, 2:30, 2:30], (ref.astype(np.float32) - 127.5) / 127.5, atol=1e-6)
  assert (out["x"][:, :2] == -1).all()
  assert batch["x"].shape == (8, 32, 32, 1) and batch["label"].shape == (8,)


def test_tfds_celeb_a_label_under_mock_data():
  tfds = pytest.importorskip("tensorflow_datasets")
  cfg = make_config("tfds/celeb_a", image_size=16, channels=3, batch_size=4, label="Blond_Hair")
  with tfds.testing.mock_data(num_examples=12):
    raw = tfds.data_source("celeb_a", split="test")
    want = [int(bool(raw[i]["attributes"]["Blond_Hair"])) for i in range(len(raw))]
    img0 = np.asarray(raw[0]["image"])
    out = data.load_split(cfg, "test")
    p = data.make_pipeline(cfg, "train")
    b1, b2 = p.batch(2), data.make_pipeline(cfg, "train").batch(2)
    cfg_bad = make_config("tfds/celeb_a", image_size=16, channels=3, label="Purple_Hair")
    with pytest.raises(JaxgenError, match="Purple_Hair"):
      data.load_split(cfg_bad, "test")
  assert data.num_classes(cfg) == 2
  np.testing.assert_array_equal(out["label"], want)
  assert out["x"].shape == (12, 16, 16, 3)
  # Whole 218x178 image squashed to 16x16 (no crop).
  np.testing.assert_allclose(out["x"][0], preprocess.resize_bilinear(img0[None] / 255.0, 16)[0], atol=1e-5)
  np.testing.assert_array_equal(b1["x"], b2["x"])
  assert p.steps_per_epoch == 12 // 4


def test_tfds_not_prepared_says_how_to_prepare(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  cfg = make_config("tfds/mnist", image_size=28, data_dir=str(tmp_path))
  with pytest.raises(JaxgenError) as e:
    data.load_split(cfg, "train")
  msg = str(e.value)
  assert "tfds/mnist is not prepared in" in msg and str(tmp_path) in msg
  assert f"python -m jaxgen.prepare mnist --data_dir={tmp_path}" in msg and "\n" not in msg


# ---------------------------------------------------------------------------------------------------- folder


def _write_images(root):
  from PIL import Image
  os.makedirs(root / "a", exist_ok=True)
  os.makedirs(root / "b" / "c", exist_ok=True)
  colours = {}
  for i in range(12):
    sub = ["a", "b", os.path.join("b", "c")][i % 3]
    colour = (20 * i, 255 - 20 * i, 7 * i)
    w, h = 10 + i, 12 + 2 * i                      # non-square, all different sizes
    if i % 4 == 0:
      im = Image.new("L", (w, h), colour[0])
      colour = (colour[0],) * 3
    elif i % 4 == 1:
      im = Image.new("RGBA", (w, h), colour + (128,))
    else:
      im = Image.new("RGB", (w, h), colour)
    ext = ".jpg" if i == 6 else ".png"
    path = root / sub / f"img{i:02d}{ext}"
    im.save(path)
    colours[str(path)] = colour
  (root / "notes.txt").write_text("not an image")
  return colours


def test_folder_source_split_and_values(tmp_path):
  colours = _write_images(tmp_path)
  cfg = make_config(f"folder:{tmp_path}", image_size=8, channels=3, batch_size=4)
  tr, te = data.load_split(cfg, "train"), data.load_split(cfg, "test")
  assert tr["x"].shape == (11, 8, 8, 3) and te["x"].shape == (1, 8, 8, 3) and "label" not in tr
  from jaxgen.data import folder
  files = folder.split_files(str(tmp_path), "train") + folder.split_files(str(tmp_path), "test")
  assert sorted(files) == sorted(colours)
  for f, x in zip(folder.split_files(str(tmp_path), "train"), tr["x"]):
    tol = 3 / 255 if f.endswith(".jpg") else 1e-6          # constant-colour images stay constant
    np.testing.assert_allclose(x, np.broadcast_to(np.array(colours[f]) / 255.0, x.shape), atol=tol)
  p = data.make_pipeline(cfg)
  assert p.steps_per_epoch == 2 and p.batch(0)["x"].shape == (4, 8, 8, 3)


def test_folder_subfolder_labels(tmp_path):
  _write_images(tmp_path / "root")
  cfg = make_config(f"folder:{tmp_path / 'root'}", image_size=4, batch_size=2, label="subfolder")
  from jaxgen.data import folder
  assert data.num_classes(cfg) == 2 and folder.class_names(str(tmp_path / "root")) == ("a", "b")
  tr = data.load_split(cfg, "train")
  want = [0 if "/a/" in f else 1 for f in folder.split_files(str(tmp_path / "root"), "train")]
  np.testing.assert_array_equal(tr["label"], want)
  assert data.example_batch(cfg, 3)["label"].shape == (3,)
  from PIL import Image
  Image.new("L", (5, 5)).save(tmp_path / "root" / "loose.png")
  folder.list_images.cache_clear()
  with pytest.raises(JaxgenError, match="loose.png"):
    data.num_classes(cfg)
  with pytest.raises(JaxgenError, match="not allowed"):
    data.load_split(make_config(f"folder:{tmp_path / 'root'}", label="Blond_Hair"), "train")


def test_lazy_source_with_prefetch_matches_in_memory(tmp_path, monkeypatch):
  _write_images(tmp_path)
  cfg = make_config(f"folder:{tmp_path}", image_size=6, channels=1, range_="symmetric", batch_size=3)
  eager = data.make_pipeline(cfg)
  monkeypatch.setattr(data.sources, "IN_MEMORY_BYTES", 0)
  lazy = data.make_pipeline(cfg)
  assert isinstance(lazy.source, data.sources.LazySource)
  for step in [0, 1, 2, 3, 7, 4, 4, 20]:                 # sequential, skipping, repeating, next epoch
    np.testing.assert_array_equal(lazy.batch(step)["x"], eager.batch(step)["x"])
  lazy.close()


def test_folder_missing_or_empty(tmp_path):
  with pytest.raises(JaxgenError, match="nope"):
    data.load_split(make_config(f"folder:{tmp_path / 'nope'}"), "train")
  (tmp_path / "empty").mkdir()
  with pytest.raises(JaxgenError, match="no PNG/JPEG"):
    data.load_split(make_config(f"folder:{tmp_path / 'empty'}"), "train")


# ---------------------------------------------------------------------------------------------------- pipeline


def test_pipeline_is_a_pure_function_of_seed_and_step():
  cfg = make_config(image_size=8, batch_size=100, seed=4)
  p, q = data.make_pipeline(cfg), data.make_pipeline(cfg)
  assert p.steps_per_epoch == 14
  for step in (0, 5, 13, 14, 40):
    a, b = p.batch(step), q.batch(step)
    np.testing.assert_array_equal(a["x"], b["x"])
    np.testing.assert_array_equal(a["label"], b["label"])
  # Out of order access gives the same batch (no iterator state).
  np.testing.assert_array_equal(q.batch(3)["label"], data.make_pipeline(cfg).batch(3)["label"])
  assert not np.array_equal(p.batch(0)["x"], p.batch(1)["x"])
  other = data.make_pipeline(make_config(image_size=8, batch_size=100, seed=5))
  assert not np.array_equal(p.batch(0)["label"], other.batch(0)["label"])


def test_pipeline_epochs_cover_every_index_once():
  cfg = make_config(image_size=8, batch_size=100, seed=1)
  p = data.make_pipeline(cfg)
  spe = p.steps_per_epoch
  for epoch in (0, 1):
    idx = np.concatenate([p.global_indices(epoch * spe + i) for i in range(spe)])
    assert len(np.unique(idx)) == spe * 100
    np.testing.assert_array_equal(idx, np.random.default_rng([1, epoch]).permutation(1437)[:spe * 100])
  assert not np.array_equal(p.global_indices(0), p.global_indices(spe))
  tr = data.load_split(cfg, "train")
  np.testing.assert_array_equal(p.batch(spe + 2)["x"], tr["x"][p.global_indices(spe + 2)])


def test_pipeline_process_slices_assemble_the_global_batch():
  cfg = make_config(image_size=8, batch_size=64)
  whole = pipeline.Pipeline(cfg, "train", process_index=0, process_count=1).batch(9)
  parts = [pipeline.Pipeline(cfg, "train", process_index=i, process_count=4).batch(9) for i in range(4)]
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in parts]), whole["label"])
  with pytest.raises(JaxgenError, match="batch_size"):
    pipeline.Pipeline(make_config(batch_size=30), "train", process_index=0, process_count=4)
  with pytest.raises(JaxgenError, match="larger than"):
    data.make_pipeline(make_config(batch_size=5000))


def test_toy2d_pipeline_stream_and_global_batch():
  cfg = make_config("toy2d/8gaussians", batch_size=16, seed=3)
  p = data.make_pipeline(cfg)
  assert p.steps_per_epoch is None
  key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(3), pipeline.DATA_KEY_TAG), 7)
  np.testing.assert_allclose(p.batch(7)["x"], toy2d.sample_jit("8gaussians", key, 16), atol=1e-7)
  np.testing.assert_array_equal(p.batch(7)["x"], data.make_pipeline(cfg).batch(7)["x"])
  assert not np.allclose(p.batch(7)["x"], p.batch(8)["x"])
  mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  g = p.global_batch(7, sharding)
  assert isinstance(g["x"], jax.Array) and g["x"].shape == (16, 2)
  np.testing.assert_array_equal(np.asarray(g["x"]), p.batch(7)["x"])
  test = data.make_pipeline(cfg, "test")
  assert test.steps_per_epoch == 10_000 // 16
  np.testing.assert_array_equal(test.batch(0)["x"], data.load_split(cfg, "test")["x"][test.global_indices(0)])
