"""The generic loop: exact resume, NaN handling, device-count invariance, artifacts."""
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from conftest import ROOT, load_config
from jaxgen import data as data_lib
from jaxgen.runtime import train
from jaxgen.train import TrainingDiverged
from jaxgen.train import checkpoint as ckpt


def small(name="vae_digits", steps=6, **extra):
  overrides = {"train.num_steps": steps, "train.batch_size": 32, "train.log_every": 1,
               "train.checkpoint_every": 3, "train.sample_every": 0, "train.eval_every": 0}
  overrides.update(extra)
  return load_config(name, **overrides)


def leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(state)]


def test_resume_is_exact(tmp_path):
  straight = train(small(steps=6), str(tmp_path / "straight"), progress=False)
  # N steps, stop, then restart the same workdir asking for 2N: it resumes from the checkpoint at N.
  train(small(steps=3), str(tmp_path / "resumed"), progress=False)
  resumed = train(small(steps=6), str(tmp_path / "resumed"), progress=False)
  for a, b in zip(leaves(straight), leaves(resumed)):
    np.testing.assert_array_equal(a, b)
  log = [json.loads(l) for l in open(tmp_path / "resumed" / "metrics.jsonl")]
  assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]


def test_artifacts(tmp_path):
  workdir = tmp_path / "run"
  train(small(steps=4, **{"train.sample_every": 4, "train.num_sample_images": 8}), str(workdir), progress=False)
  assert (workdir / "config.json").exists()
  assert (workdir / "samples" / "step_000004.png").exists()
  assert (workdir / "samples" / "latent_scatter_000004.png").exists()        # the VAE's latent is 2-d
  assert (workdir / "loss_curve.png").exists()                                 # beside metrics.jsonl
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(workdir))
  records = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  assert {"loss", "reconstruction", "kl", "steps_per_sec"} <= set(records[-1])
  assert sorted(int(s) for s in os.listdir(workdir / "checkpoints") if s.isdigit()) == [3, 4]


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  workdir = str(tmp_path / "run")
  good = train(small(steps=3), workdir, progress=False)
  real = data_lib.make_pipeline

  def nan_from_step_4(config, split="train"):  # the data turn NaN after the checkpoint at step 3
    pipe = real(config, split)
    fetch = pipe.global_batch
    pipe.global_batch = lambda s, sh: {**fetch(s, sh), "x": fetch(s, sh)["x"] * np.nan} if s >= 4 else fetch(s, sh)
    return pipe
  monkeypatch.setattr(data_lib, "make_pipeline", nan_from_step_4)
  with pytest.raises(TrainingDiverged, match="last good checkpoint \\(step 3\\)"):
    train(small(steps=12), workdir, progress=False)
  mngr = ckpt.manager(os.path.join(workdir, "checkpoints"), async_save=False)
  assert mngr.latest_step() == 3
  restored, _ = ckpt.restore(mngr, good)
  for a, b in zip(leaves(good), leaves(restored)):
    np.testing.assert_array_equal(a, b)


DEVICE_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    import jax
    from conftest import load_config
    from jaxgen.runtime import train
    config = load_config("vae_digits", **{{"train.num_steps": 4, "train.batch_size": 32, "train.log_every": 1,
                                           "train.checkpoint_every": 0, "train.sample_every": 0}})
    train(config, sys.argv[1], progress=False)
    print(json.dumps({{"devices": jax.device_count()}}))
""")


@pytest.mark.parametrize("family_config", ["vae_digits"])
def test_same_losses_on_1_and_8_devices(tmp_path, family_config):
  script = tmp_path / "run.py"
  script.write_text(DEVICE_SCRIPT.format(root=ROOT, tests=os.path.join(ROOT, "tests")))
  losses = {}
  for n in (1, 8):
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, str(script), str(tmp_path / f"d{n}")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["devices"] == n
    losses[n] = [json.loads(l)["loss"] for l in open(tmp_path / f"d{n}" / "metrics.jsonl")]
  assert len(losses[1]) == 4
  np.testing.assert_allclose(losses[1], losses[8], rtol=1e-4)
