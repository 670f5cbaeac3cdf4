"""The command-line tools end to end, and their one-line errors with exit status 2."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

FAST = ["--config.train.num_steps=4", "--config.train.batch_size=32", "--config.train.log_every=2",
        "--config.train.checkpoint_every=4", "--config.train.sample_every=4", "--config.train.num_sample_images=16"]


def run(args, timeout=300):
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("cli") / "vae")
  out = run(["train.py", "--config=configs/vae_digits.py", f"--workdir={workdir}", *FAST])
  assert out.returncode == 0, out.stderr[-3000:]
  return workdir


def test_train_writes_checkpoint_metrics_and_samples(trained):
  assert os.path.isdir(os.path.join(trained, "checkpoints", "4"))
  assert os.path.exists(os.path.join(trained, "metrics.jsonl"))
  assert os.path.exists(os.path.join(trained, "samples", "step_000004.png"))


def test_sample_png_and_npz(trained, tmp_path):
  png, npz = str(tmp_path / "s.png"), str(tmp_path / "s.npz")
  assert run(["sample.py", f"--workdir={trained}", "--num=9", f"--out={png}"]).returncode == 0
  assert os.path.getsize(png) > 0
  out = run(["sample.py", f"--workdir={trained}", "--num=5", f"--out={npz}", "--seed=3"])
  assert out.returncode == 0, out.stderr[-2000:]
  samples = np.load(npz)["samples"]
  config = json.load(open(os.path.join(trained, "config.json")))
  size = config["data"]["image_size"]
  assert samples.shape == (5, size, size, config["data"]["channels"]) and samples.dtype == np.float32
  assert 0.0 <= samples.min() and samples.max() <= 1.0
  # The 2-d VAE's latent scatter: the posterior means of the first 40 test images, with their labels.
  out = run(["sample.py", f"--workdir={trained}", "--latent_scatter=40", f"--out={npz}"])
  assert out.returncode == 0, out.stderr[-2000:]
  scatter = np.load(npz)
  assert scatter["samples"].shape == (40, 2) and np.isfinite(scatter["samples"]).all()
  from jaxgen import data as jdata
  from jaxgen.train import workdir as workdir_lib
  test = jdata.load_split(workdir_lib.read_config(trained), "test")
  np.testing.assert_array_equal(scatter["labels"], test["label"][:40])


def one_line_error(out, *needles):
  assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
  lines = [l for l in out.stderr.strip().splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr[-2000:]
  for needle in needles:
    assert needle in lines[0], lines[0]


def test_unknown_dataset_name(tmp_path):
  out = run(["train.py", "--config=configs/vae_digits.py", f"--workdir={tmp_path}/w", "--config.data.name=mnits"])
  one_line_error(out, "mnits")


def test_unknown_config_key(tmp_path):
  out = run(["train.py", "--config=configs/vae_digits.py", f"--workdir={tmp_path}/w", "--config.train.num_stepz=3"])
  one_line_error(out, "num_stepz")


def test_wrong_image_shape(tmp_path):
  out = run(["train.py", "--config=configs/vae_digits.py", f"--workdir={tmp_path}/w", "--config.data.image_size=30"])
  one_line_error(out, "30")


def test_sample_missing_workdir(tmp_path):
  out = run(["sample.py", f"--workdir={tmp_path}/nope", "--out=x.png"])
  one_line_error(out, "nope")


def test_sample_unsupported_option(trained, tmp_path):
  out = run(["sample.py", f"--workdir={trained}", f"--out={tmp_path}/x.png", "--truncation=0.5"])
  one_line_error(out, "truncation")


def test_supported_options_drops_unset_and_names_the_first_unknown():
  from jaxgen.errors import JaxgenError, supported_options
  assert supported_options("x", {"steps": 3, "chain": None}, ("steps", "chain")) == {"steps": 3}
  assert supported_options("x", {"foo": None}, ("steps",)) == {}          # None = not set, never an error
  with pytest.raises(JaxgenError, match=r"sample option 'bar' is not supported by the ebm family; supported: "
                                        r"steps, chain \(note\)\."):
    supported_options("the ebm family", {"zed": 1, "bar": 2, "steps": 1}, ("steps", "chain"), " (note)")
