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
      module = __import__(module_name, fromlist=["_"])
    except ImportError:
      assert any(n.get("family") == family for n in notes)
      continue
    for name in getattr(module, "BENCHMARK_CONFIGS", []):
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
  table = throughput.format_table(report["results"])
  assert "ebm_toy2d" in table and "ms/step" in table
