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
  out, jax_loaded = run_probed("sample.py", f"--workdir={tmp_path}/nope", "--out=x.png")
  one_line_error(out, "nope' does not exist")
  assert not jax_loaded                                 # answered from the file system, before JAX loads


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


# ---------------------------------------------------------------------------------------------------------------
# Mistakes answered before the wait: what the flags, config.json and the workdir's files show is refused before JAX
# loads (the timings are in the branch's note; here the proof is that JAX was never imported).

PROBE = """import runpy, sys
tool, sys.argv = sys.argv[1], sys.argv[1:]
try:
  if tool.endswith('.py'):
    runpy.run_path(tool, run_name='__main__')
  else:
    runpy.run_module(tool, run_name='__main__', alter_sys=True)
finally:
  print('jax loaded:', 'jax' in sys.modules, flush=True)
"""


def run_probed(tool, *args):
  """`python TOOL ARGS` (or `python -m TOOL ARGS`) in a fresh process whose last stdout line says whether JAX
  was imported."""
  out = run(["-c", PROBE, tool, *args], timeout=120)
  lines = out.stdout.strip().splitlines()
  assert lines and lines[-1].startswith("jax loaded:"), (out.stdout[-2000:], out.stderr[-2000:])
  return out, lines[-1] == "jax loaded: True"


@pytest.fixture
def recorded(tmp_path):
  """A workdir holding only the config.json of configs/vae_digits.py, as train.py records it (no checkpoint)."""
  from conftest import load_config
  from jaxgen.train import workdir as workdir_lib
  workdir = str(tmp_path / "run")
  workdir_lib.record_config(load_config("vae_digits"), workdir, {}, 0)
  return workdir


def live_lock(workdir, pid, host=None):
  import socket
  from jaxgen.runtime import lock as lock_lib
  info = {"host": host or socket.gethostname(), "pid": pid, "started": "earlier",
          "proc_start": lock_lib._process_start(pid)}
  with open(os.path.join(workdir, "lock"), "w") as f:
    json.dump(info, f)


def test_config_mismatch_is_refused_before_jax_loads(recorded):
  out, jax_loaded = run_probed("train.py", "--config=configs/vae_digits.py", f"--workdir={recorded}",
                               "--config.model.latent_dim=3")
  one_line_error(out, "model.latent_dim: 2 (recorded) vs 3", "new --workdir")
  assert not jax_loaded


def test_held_lock_is_refused_before_jax_loads(recorded):
  live_lock(recorded, os.getpid())      # this test process: alive on this host
  out, jax_loaded = run_probed("train.py", "--config=configs/vae_digits.py", f"--workdir={recorded}")
  one_line_error(out, "in use by another trainer", f"pid {os.getpid()}")
  assert not jax_loaded


def test_unsupported_sample_option_is_refused_before_jax_loads(recorded, tmp_path):
  out, jax_loaded = run_probed("sample.py", f"--workdir={recorded}", f"--out={tmp_path}/x.png", "--truncation=0.5")
  one_line_error(out, "'truncation' is not supported by the vae family", "supported: latent_grid")
  assert not jax_loaded
  out, jax_loaded = run_probed("jaxgen.evaluate", f"--workdir={recorded}", "--dot_steps=0")
  one_line_error(out, "'dot_steps' is not supported by the vae family")
  assert not jax_loaded


def test_existing_evaluate_json_is_refused_before_jax_loads(recorded):
  earlier = os.path.join(recorded, "mine.json")
  with open(earlier, "w") as f:
    json.dump({"step": 7, "sample_options": {"dot_steps": 0}}, f)
  out, jax_loaded = run_probed("jaxgen.evaluate", f"--workdir={recorded}", f"--json={earlier}")
  one_line_error(out, "mine.json' exists (an earlier result: step 7, dot_steps=0)", "--overwrite")
  assert not jax_loaded and json.load(open(earlier)) == {"step": 7, "sample_options": {"dot_steps": 0}}


def test_evaluate_flag_mistakes_are_answered_before_jax_loads(recorded):
  for args, needle in (([f"--workdir={recorded}", "stray"], "unexpected arguments ['stray']"),
                       ([f"--workdir={recorded}", "--num=1"], "--num=1 must be an integer >= 2")):
    out, jax_loaded = run_probed("jaxgen.evaluate", *args)
    one_line_error(out, needle)
    assert not jax_loaded


def test_lock_check_free_refuses_a_live_holder_only(tmp_path):
  from jaxgen.errors import JaxgenError
  from jaxgen.runtime.lock import WorkdirLock
  lock = WorkdirLock(str(tmp_path))
  lock.check_free()                                      # no lock
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  live_lock(str(tmp_path), dead.pid)
  lock.check_free()                                      # a stale lock: acquire takes it over
  live_lock(str(tmp_path), os.getpid())
  with pytest.raises(JaxgenError, match=f"in use by another trainer: pid {os.getpid()}"):
    lock.check_free()
  live_lock(str(tmp_path), 1, host="elsewhere")          # another host's holder is never judged stale
  with pytest.raises(JaxgenError, match="if that trainer is gone, delete"):
    lock.check_free()
  assert os.path.exists(tmp_path / "lock")               # check_free writes nothing


HELP = {  # tool -> what its --help must show besides its flags
    "train.py": ("--workdir", "configs/NAME.py", "--show_config", "ddm_digits", "wgan_gp_toy2d"),
    "sample.py": ("--workdir", "--latent_grid", "--dot_steps"),
    "jaxgen.evaluate": ("--workdir", "lower or", "evaluate_2.json", "--overwrite"),
    "jaxgen.prepare": ("--from", "--data_dir", "--skip_checksums"),
    "jaxgen.convert": ("stylegan2_ada", "NETWORK.pkl", "restricted unpickler", "--workdir"),
}


@pytest.mark.parametrize("tool", sorted(HELP))
def test_help_of_every_tool_is_complete_and_loads_no_jax(tool):
  out, jax_loaded = run_probed(tool, "--help")
  assert out.returncode == 0 and not out.stderr.strip(), out.stderr[-2000:]
  command = tool if tool.endswith(".py") else f"python -m {tool}"
  assert f"\n{command}:\n" in out.stdout, out.stdout[-3000:]       # the flags' heading: the command, not a path
  assert ROOT not in out.stdout
  for needle in HELP[tool]:
    assert needle in out.stdout, (tool, needle)
  if tool in ("train.py", "sample.py", "jaxgen.evaluate"):
    assert "--coordinator_address" in out.stdout                 # the multi-host flags are listed too
  if tool == "train.py":                                          # every config file is named
    names = [f[:-3] for f in os.listdir(os.path.join(ROOT, "configs")) if f.endswith(".py")]
    assert all(f" {n}" in out.stdout for n in names)
  assert not jax_loaded


def test_show_config_lists_every_key_with_the_overrides(tmp_path):
  out = run(["train.py", "--config=configs/ddm_toy2d.py", "--config.train.num_steps=7", "--show_config"])
  assert out.returncode == 0, out.stderr[-2000:]
  from conftest import load_config
  from jaxgen import config as config_lib
  keys = config_lib.flat_keys(load_config("ddm_toy2d"))
  lines = out.stdout.splitlines()
  assert "jaxgen/configs/diffusion.py" in lines[0] and len(lines) == 1 + len(keys)
  shown = {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip() for line in lines[1:]}
  assert set(shown) == set(keys) and shown["train.num_steps"] == "7" and shown["data.name"] == "'toy2d/25gaussians'"
  typo = run(["train.py", "--config=configs/ddm_toy2d.py", f"--workdir={tmp_path}", "--config.train.num_step=3"])
  one_line_error(typo, "did you mean 'train.num_steps'", "--show_config")


def test_sample_options_are_one_table_the_families_use():
  from jaxgen import families
  from jaxgen.configs import sample_options as so
  from jaxgen.errors import JaxgenError
  for name in families.FAMILIES:
    assert families.get(name).SAMPLE_OPTIONS is so.SAMPLE_OPTIONS[name], name
  assert families.get("diffusion").OUTPUT_OPTIONS is so.OUTPUT_OPTIONS["diffusion"]
  assert families.get("gan").RENAMED_OPTIONS is so.RENAMED_OPTIONS["gan"]
  assert so.outputs("diffusion") == ("steps", "sampler", "steps_sweep", "interpolate", "label", "guidance",
                                     "class_grid", "invert")
  assert so.outputs("stylegan")[:5] == ("truncation", "interpolate", "direction", "alphas", "mix_crossover")
  assert len(set(so.outputs("stylegan"))) == len(so.outputs("stylegan"))
  assert so.check_outputs("ebm", {"steps": 3, "chain": None}) == {"steps": 3}
  assert so.check_outputs("no_such_family", {"x": 1}) == {"x": 1}       # loading the run names the family
  with pytest.raises(JaxgenError, match=r"'truncation' is not supported by the gan family \(did you mean "
                                        r"'truncated_z'\?\); supported: label, class_grid"):
    so.check_outputs("gan", {"truncation": 0.7})
  with pytest.raises(JaxgenError, match="'steps_sweep' is not supported by the diffusion family"):
    so.check_sample("diffusion", {"steps_sweep": "1,2"})   # a sample.py grid, not an option of Run.sample


def test_compile_cache_before_jax_sets_the_environment_jax_reads(tmp_path, monkeypatch):
  from jaxgen import compile_cache
  for name in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
               "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"):
    monkeypatch.delenv(name, raising=False)
  assert compile_cache._enable_by_environment(str(tmp_path / "xla")) == str(tmp_path / "xla")
  assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "xla") and (tmp_path / "xla").is_dir()
  assert float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]) == compile_cache.MIN_COMPILE_TIME_S
  assert os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] == "0"
  assert compile_cache._enable_by_environment(str(tmp_path / "other")) == str(tmp_path / "xla")  # set: kept
  monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
  assert compile_cache._enable_by_environment("off") is None and "JAX_COMPILATION_CACHE_DIR" not in os.environ
