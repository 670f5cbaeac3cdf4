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
