"""`python -m jaxgen.evaluate` on tiny trained work directories."""
import json
import os
import subprocess
import sys
import tempfile


from conftest import ROOT, load_config

# One classifier cache for this file's runs (training is deterministic, so reuse across runs is safe).
CACHE = os.path.join(tempfile.gettempdir(), "jaxgen-test-cache")


def _env():
  env = dict(os.environ, JAXGEN_CACHE=CACHE, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
  env.setdefault("JAX_PLATFORMS", "cpu")
  return env


def _train(name, workdir, **overrides):
  from jaxgen.runtime import train
  config = load_config(name, **{"train.log_every": 1, "train.eval_every": 0, "train.sample_every": 0,
                                "train.checkpoint_every": overrides.get("train.num_steps", 2), **overrides})
  train(config, str(workdir), progress=False)


def _evaluate(*args):
  return subprocess.run([sys.executable, "-m", "jaxgen.evaluate", *args], capture_output=True, text=True,
                        cwd=ROOT, env=_env(), timeout=600)


def test_missing_workdir_is_one_line_and_exit_2(tmp_path):
  proc = _evaluate(f"--workdir={tmp_path / 'nope'}")
  assert proc.returncode == 2
  assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
  assert "does not exist" in proc.stderr


def test_plan_picks_metrics_by_family_and_dataset():
  from jaxgen import evaluate
  assert evaluate.plan(load_config("ebm_toy2d")) == ["toy2d"]
  assert evaluate.plan(load_config("ebm_digits")) == ["classifier"]
  assert evaluate.plan(load_config("wgan_gp_celeba")) == []
  assert evaluate.plan(load_config("vae_digits")) == ["classifier", "likelihood"]


def test_evaluate_toy2d_run(tmp_path):
  _train("ebm_toy2d", tmp_path / "run", **{"train.num_steps": 2})
  out = tmp_path / "m.json"
  proc = _evaluate(f"--workdir={tmp_path / 'run'}", "--num=400", f"--json={out}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads(out.read_text())
  m = result["metrics"]
  assert result["num"] == 400 and result["step"] == 2
  assert {"modes_covered", "high_quality_fraction", "reverse_kl", "energy_distance", "mmd_rbf"} <= set(m)
  assert 0 <= m["modes_covered"] <= 8 and m["energy_distance"] > 0
  assert "modes_covered" in proc.stdout and "energy_distance" in proc.stdout
  rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines() if line.startswith("  ")}
  assert rows["energy_distance"][2] == rows["mmd_rbf"][2] == "lower*" and rows["modes_covered"][2] == "higher"
  assert "values near 0 can be negative" in proc.stdout
  assert proc.stdout.strip().splitlines()[-1] == f"wrote {out}"


def test_evaluate_vae_digits_run(tmp_path):
  _train("vae_digits", tmp_path / "run", **{"train.num_steps": 3})
  earlier = tmp_path / "run" / "evaluate.json"
  earlier.write_text('{"step": 1, "sample_options": {}}')      # an earlier result: kept, never replaced silently
  proc = _evaluate(f"--workdir={tmp_path / 'run'}", "--num=200", "--iwae_k=8")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert earlier.read_text() == '{"step": 1, "sample_options": {}}'
  new = tmp_path / "run" / "evaluate_2.json"
  assert proc.stdout.strip().splitlines()[-1] == (f"wrote {new} (a new file: {earlier} (step 1) is kept; "
                                                  "--overwrite would replace it)")
  result = json.loads(new.read_text())
  m = result["metrics"]
  for k in ("fd", "fd_real", "confidence", "label_entropy", "elbo", "iwae_k8", "nll_bound", "precision",
            "recall", "precision_real", "recall_real"):
    assert k in m and m[k] is not None, k
  assert result["classifier"]["test_accuracy"] >= 0.95
  assert m["fd_real"] < m["fd"]                      # 3 training steps are far from the data
  assert m["iwae_k8"] >= m["elbo"] - 1.0             # the K=8 bound is (up to MC noise) tighter
  assert "fd" in proc.stdout and "iwae_k8" in proc.stdout
  # Every number says what it rests on: the classifier line and a "measured on" cell per metric.
  on = result["measured_on"]
  assert on["fd"].startswith("200 samples vs all ") and on["fd_real"].startswith("200 training images vs all ")
  assert on["elbo"].endswith("test images, K=1") and on["iwae_k8"].endswith("test images, K=8")
  assert "floor (*_real) = 200 real training images" in proc.stdout
  for k in set(m) - {"num_test_images"}:                  # a count says it itself
    line = next(line for line in proc.stdout.splitlines() if line.split()[:1] == [k])
    assert on[k] and on[k] in line, (k, line)
    assert not result["better"][k] or line.split()[2] == result["better"][k], (k, line)
  assert result["better"]["fd"] == "lower" and result["better"]["elbo"] == result["better"]["iwae_k8"] == "higher"
  assert result["better"]["fd_real"] == "floor" and "floor: the same metric of as many real" in proc.stdout
  assert result["sampling"] == {"settings": {}, "from_flags": [], "dot": None}


def test_evaluate_conditional_gan_digits_in_process(tmp_path, monkeypatch):
  # An untrained conditional GAN wrapped as a Run (no training loop needed): exercises label=k sampling.
  import jax
  from jaxgen import data as jdata, evaluate, families
  from jaxgen.run import Run
  monkeypatch.setenv("JAXGEN_CACHE", CACHE)
  config = load_config("cgan_digits")
  family = families.get(config.family)
  state = family.init(config, jax.random.PRNGKey(0), jdata.example_batch(config, config.train.batch_size))
  run = Run(workdir=str(tmp_path), config=config, state=state, family=family, step=0)
  result = evaluate.evaluate(run, num=100)
  m = result["metrics"]
  assert result["classifier"]["test_accuracy"] >= 0.95
  assert {"fd", "fd_real", "confidence", "label_entropy", "label_accuracy", "confidence_real", "precision",
          "recall", "precision_real", "recall_real"} <= set(m)
  assert 0.0 <= m["label_accuracy"] <= 1.0 and 0.0 <= m["confidence"] <= 1.0
  assert m["fd_real"] < m["fd"]                      # an untrained generator is far from the data
  # ... and off the real manifold, while 100 real training digits mostly lie on the 100 test digits' one.
  assert m["precision"] < 0.2 < 0.6 < m["precision_real"] and m["recall"] < m["recall_real"]
  info = result["classifier"]
  assert info["num_samples"] == info["num_real_floor"] == info["num_test_for_precision_recall"] == 100
  assert info["num_test"] > 100 and info["precision_recall_k"] == 3
  assert result["measured_on"]["precision"] == "100 samples vs 100 test images, k=3"
  assert result["measured_on"]["recall_real"] == "100 training images vs 100 test images, k=3"
  table = evaluate.format_table(result)
  assert "label_accuracy" in table and "100 samples vs 100 test images, k=3" in table


def test_precision_recall_reference_and_floor_sets_follow_the_sample_count():
  import numpy as np
  from jaxgen import evaluate
  x = np.arange(50)[:, None]
  a, b = evaluate._seeded_subset(x, 20), evaluate._seeded_subset(x, 20)
  np.testing.assert_array_equal(a, b)                                  # fixed seed: the same images every run
  assert a.shape == (20, 1) and len(np.unique(a)) == 20 and np.all(np.diff(a[:, 0]) > 0)
  np.testing.assert_array_equal(evaluate._seeded_subset(x, 50), x)     # N >= the split: all of it
  np.testing.assert_array_equal(evaluate._seeded_subset(x, 80), x)
  # The floor's subset is the one the earlier floor drew (same generator call), so fd_real stays comparable.
  idx = np.random.default_rng(0).choice(50, 20, replace=False)
  np.testing.assert_array_equal(np.sort(x[idx, 0]), a[:, 0])


def test_format_table_states_the_samples_behind_every_number():
  from jaxgen import evaluate
  info = {"name": "jaxgen-cnn[x]", "test_accuracy": 0.991, "num_test": 10000, "num_real_for_fd_real": 1000,
          "num_samples": 1000, "num_real_floor": 1000, "num_test_for_precision_recall": 1000,
          "precision_recall_k": 3}
  metrics = {"fd": 3.0, "confidence": 0.9, "label_entropy": 2.2, "max_label_entropy": 2.302585092994046,
             "precision": 0.7, "recall": None, "fd_real": 0.5, "confidence_real": 0.97, "precision_real": 0.8,
             "recall_real": 0.8, "sample_seconds": 1.5}
  result = {"family": "vae", "dataset": "tfds/mnist", "step": 10, "num": 1000, "metrics": metrics,
            "classifier": info, "measured_on": evaluate.measured_on("classifier", metrics, {**info, "num": 1000})}
  table = evaluate.format_table(result)
  assert ("classifier jaxgen-cnn[x] (test accuracy 0.9910): 1,000 samples vs 10,000 test images (precision/"
          "recall: vs 1,000 test images); floor (*_real) = 1,000 real training images") in table
  rows = {line.split()[0]: line for line in table.splitlines()[3:]}
  assert rows["fd"].endswith("1,000 samples vs all 10,000 test images")
  assert rows["fd_real"].endswith("1,000 training images vs all 10,000 test images")
  assert rows["confidence"].endswith("1,000 samples") and rows["confidence_real"].endswith("1,000 training images")
  assert rows["recall"].split()[1] == "n/a" and rows["recall"].endswith("1,000 samples vs 1,000 test images, k=3")
  assert rows["max_label_entropy"].endswith("the maximum, log(10 classes)")
  assert rows["classifier_test_accuracy"].endswith("10,000 test images")


def test_evaluate_wgan_gp_toy2d_applies_the_configs_dot_and_dot_steps_0_turns_it_off(tmp_path):
  """An untrained wgan_gp_toy2d Run: the evaluation samples with config.sample's DOT unless --dot_steps=0."""
  import jax
  import numpy as np
  from jaxgen import data as jdata, evaluate, families
  from jaxgen.run import Run
  config = load_config("wgan_gp_toy2d", **{"model.mlp_hidden": (16, 16, 16)})
  assert config.sample.dot_steps > 0
  family = families.get(config.family)
  state = family.init(config, jax.random.PRNGKey(0), jdata.example_batch(config, 10))
  run = Run(workdir=str(tmp_path), config=config, state=state, family=family, step=0)
  with_dot = evaluate.evaluate(run, num=200)["metrics"]
  off = evaluate.evaluate(run, num=200, sample_options={"dot_steps": 0})
  assert off["sample_options"] == {"dot_steps": 0}
  explicit = evaluate.evaluate(run, num=200, sample_options=config.sample.to_dict())["metrics"]
  np.testing.assert_allclose(explicit["energy_distance"], with_dot["energy_distance"], rtol=1e-6)
  assert abs(off["metrics"]["energy_distance"] - with_dot["energy_distance"]) > 1e-6
  # ... and the output says which: moved by DOT (with its steps) or the generator alone.
  assert off["sampling"]["dot"] is None and off["sampling"]["from_flags"] == ["dot_steps"]
  assert "the generator's own samples (no DOT" in evaluate.format_table(off)
  dot = evaluate.sampling(config)
  assert dot["dot"] == {"steps": config.sample.dot_steps, "step_size": config.sample.dot_step_size,
                        "k": config.sample.dot_k}
  table = evaluate.format_table({**off, "sampling": dot})
  assert (f"the samples were moved by DOT (discriminator optimal transport): {config.sample.dot_steps} gradient "
          "steps") in table and "--dot_steps=0 scores the generator alone" in table


def test_every_metric_says_which_way_is_better():
  from jaxgen import evaluate
  assert [evaluate.better(k) for k in ("fd", "reverse_kl", "mmd_rbf", "nll_bound", "bits_per_dim", "inception_fid")] \
      == ["lower"] * 6
  assert [evaluate.better(k) for k in ("modes_covered", "precision", "recall", "label_accuracy", "elbo", "iwae_k100")] \
      == ["higher"] * 6
  assert evaluate.better("recall_real") == "floor" and evaluate.better("num_modes") == ""
  assert evaluate.better("sample_seconds") == evaluate.better("max_label_entropy") == ""
  metrics = {"modes_covered": 25, "num_modes": 25, "high_quality_fraction": 0.99, "reverse_kl": 0.01,
             "energy_distance": -0.0002, "mmd_rbf": 0.0001}
  result = {"family": "ebm", "dataset": "toy2d/25gaussians", "step": 3, "num": 2500, "metrics": metrics,
            "measured_on": evaluate.measured_on("toy2d", metrics, {"num": 2500}),
            "sampling": {"settings": {"steps": 100}, "from_flags": ["steps"], "dot": None}}
  lines = evaluate.format_table(result).splitlines()
  assert lines[:2] == ["ebm on toy2d/25gaussians, step 3, 2,500 samples",
                       "sampled with steps=100 (--steps from the command line, the rest from config.sample)"]
  rows = {line.split()[0]: line.split() for line in lines if line.startswith("  ")}
  assert rows["metric"][:4] == ["metric", "value", "better", "measured"]
  assert rows["energy_distance"][1:4] == ["-0.0002", "lower*", "2,500"] and rows["reverse_kl"][2] == "lower"
  assert rows["num_modes"][2] == "2,500"                  # a count: no direction
  assert lines[-1].startswith("* unbiased estimate") and "can be negative" in lines[-1]
  assert not any(line.startswith("floor:") for line in lines)   # no *_real metric, no floor note


def test_an_earlier_result_is_never_replaced_without_overwrite(tmp_path):
  import pytest
  from jaxgen import evaluate
  from jaxgen.errors import JaxgenError
  first = str(tmp_path / "evaluate.json")
  assert evaluate.output_path(None, str(tmp_path), False) == (first, "")
  evaluate.write_result({"step": 5, "sample_options": {"dot_steps": 0}}, first, overwrite=False)
  path, note = evaluate.output_path(None, str(tmp_path), False)
  assert path == str(tmp_path / "evaluate_2.json") and f"{first} (step 5, dot_steps=0) is kept" in note
  evaluate.write_result({"step": 6, "sampling": {"dot": {"steps": 100}}}, path, overwrite=False)
  assert evaluate.output_path(None, str(tmp_path), False)[0] == str(tmp_path / "evaluate_3.json")
  assert evaluate.output_path(None, str(tmp_path), True) == (first, "replaced the earlier result (step 5, "
                                                                    "dot_steps=0): --overwrite")
  with pytest.raises(JaxgenError, match=r"--json='.*evaluate_2.json' exists \(an earlier result: step 6, moved by "
                                        r"DOT \(100 steps\)\); pass --overwrite"):
    evaluate.output_path(path, str(tmp_path), False)
  with pytest.raises(FileExistsError):                  # a file that appeared meanwhile is not replaced either
    evaluate.write_result({"step": 7}, path, overwrite=False)
  evaluate.write_result({"step": 7}, path, overwrite=True)
  assert json.loads(open(path).read()) == {"step": 7} and json.loads(open(first).read())["step"] == 5
