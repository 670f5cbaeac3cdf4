"""Smoke run of benchmarks/throughput.py on a tiny config (the full run is a manual job)."""
import importlib.util
import json
import os

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def throughput():
  spec = importlib.util.spec_from_file_location("throughput", os.path.join(ROOT, "benchmarks", "throughput.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_discover_lists_family_benchmark_configs(throughput):
  from jaxgen import families
  names, notes = throughput.discover()
  for family, module_name in families.FAMILIES.items():
    try:
      __import__(module_name, fromlist=["_"])
    except ImportError:
      assert any(n.get("family") == family for n in notes)
      continue
    for name in throughput.REFERENCE_CONFIGS[family]:
      assert name in names
  assert "ebm_toy2d" in names
  with pytest.raises(SystemExit):
    throughput.discover(["no_such_config"])


def test_synthetic_batch_is_in_range(throughput):
  from conftest import load_config
  config = load_config("ebm_digits")
  batch = throughput.synthetic_batch(config, 4)
  lo = -1.0 if config.data.range == "symmetric" else 0.0
  assert batch["x"].shape[0] == 4 and batch["x"].min() >= lo and batch["x"].max() <= 1.0
  assert batch["x"].std() > 0.1


def test_quick_run_end_to_end_writes_json(throughput, tmp_path):
  out = tmp_path / "bench.json"
  code = throughput.main(["--configs=ebm_toy2d", "--quick", "--noisolate", f"--json={out}", "--quiet"])
  assert code == 0
  report = json.loads(out.read_text())
  assert {"cpu_model", "cpu_count", "jax", "jaxlib", "backend"} <= set(report["machine"])
  (rec,) = report["results"]
  assert rec["config"] == "ebm_toy2d" and rec["batch_size"] > 0
  assert rec["compile_s"] > 0 and rec["ms_per_step"] > 0 and rec["finite_metrics"]
  assert rec["examples_per_s"] == pytest.approx(rec["batch_size"] * rec["steps_per_s"], rel=1e-2)
  s = rec["sampling"]
  assert s["images_per_s"] > 0 and s["output_shape"] == [s["images"], 2]
  assert s["sampler_steps"] == 5 and s["image_steps_per_s"] > 0
  assert rec["memory"]["peak_rss_mib"] > 0
  # FLOPs, FLOP/s and the fraction of the measured CPU peak.
  peak = report["machine"]["peak_flops"]
  assert peak["float32"] > 1e8 and "measured" in peak["source"]
  assert rec["flops"]["matmul"] > 0 and rec["flops"]["xla"] > 0
  assert rec["flops_per_s"] == pytest.approx(rec["flops"]["matmul"] * rec["steps_per_s"], rel=2e-2)
  assert rec["fraction_of_peak"] == pytest.approx(rec["flops_per_s"] / peak["float32"], rel=1e-3)
  assert 0 < rec["fraction_of_peak"] < 1.5 and rec["dtype"] == "float32"
  table = throughput.format_table(report["results"])
  assert "ebm_toy2d" in table and "ms/step" in table and "GFLOP/s" in table


def test_matmul_flops_count_scan_bodies_and_convolutions(throughput):
  """Closed forms: 2·M·K·N per matmul times the scan length; 2·N·Ho·Wo·Cout·kh·kw·Cin per convolution."""
  import jax
  import jax.numpy as jnp

  def f(x, w, img, kernel):
    h = jax.lax.scan(lambda c, _: (jnp.tanh(c @ w), None), x, None, length=60)[0]
    y = jax.lax.conv_general_dilated(img, kernel, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return h.sum() + y.sum()

  args = (jnp.ones((16, 32)), jnp.ones((32, 8 * 4)), jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 5)))
  flops, unknown = throughput.jaxpr_matmul_flops(jax.make_jaxpr(f)(*args).jaxpr)
  assert not unknown
  assert flops == 60 * 2 * 16 * 32 * 32 + 2 * (2 * 4 * 4 * 5) * (3 * 3 * 3)
  compiled = jax.jit(f).lower(*args).compile()
  out = throughput.step_flops(compiled, f, *args)
  assert out["matmul"] == flops and out["xla"] < flops      # XLA counts the scan body once


def test_sample_steps_and_peak_table(throughput):
  from conftest import load_config
  assert throughput.parse_sample_steps("ebm=60,diffusion=20") == {"ebm": 60, "diffusion": 20}
  assert throughput.parse_sample_steps("20") == {"*": 20}
  config = load_config("ddm_digits")
  _, options = throughput.sample_settings("ddm_digits", config, False, {"ebm": 60, "diffusion": 7})
  assert options["steps"] == 7
  rec = {"dtype": "bfloat16", "flops_per_s": 98.9e12}
  throughput.add_fraction_of_peak(rec, throughput.PEAK_FLOPS["H200"])
  assert rec["fraction_of_peak"] == pytest.approx(0.1)


def _load(name):
  spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "benchmarks", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_vae_keras_helpers_without_keras(tmp_path):
  """benchmarks/vae_keras.py's pure helpers: IDX reading and the notebook's preprocessing, the order-free data
  fingerprint, and the epoch means and wall times read from a jaxgen run's logs."""
  import gzip
  import numpy as np
  km, vk = _load("keras_vae_model"), _load("vae_keras")
  imgs = np.arange(3 * 28 * 28, dtype=np.uint64).reshape(3, 28, 28).astype(np.uint8)
  path = tmp_path / "x-idx3-ubyte.gz"
  path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in imgs.shape) +
                                 imgs.tobytes()))
  np.testing.assert_array_equal(km.read_idx(str(path)), imgs)
  x = km.preprocess(imgs)
  assert x.shape == (3, 32, 32, 1) and x.dtype == np.float32 and x[:, :2].max() == 0
  np.testing.assert_allclose(x[:, 2:30, 2:30, 0], imgs / 255.0, rtol=1e-6)
  assert km.data_fingerprint(x) == km.data_fingerprint(x[::-1], chunk=2)
  assert km.data_fingerprint(x) != km.data_fingerprint(x[:2])
  lines = ['{"step": 2, "loss": 3.0, "reconstruction": 2.0, "kl": 1.0, "steps_per_sec": 5.0}',
           '{"step": 2, "eval_loss": 9.0}',
           '{"step": 4, "loss": 2.0, "reconstruction": 1.5, "kl": 0.5, "steps_per_sec": 6.0}']
  means = vk.epoch_means(lines, 2, 2)
  assert [m["total_loss"] for m in means] == [3.0, 2.0] and means[1]["kl_loss"] == 0.5
  out = [(1.0, "train.py: starting vae\n"), (3.0, "compiling the train step (the first step takes longest) ...\n"),
         (10.0, "step 2/4 (50%): loss=3 | 1 steps/s\n"), (14.5, "step 4/4 (100%): loss=2 | 1 steps/s\n")]
  assert vk.epoch_walls(out, 2, 2) == [7.0, 4.5]
