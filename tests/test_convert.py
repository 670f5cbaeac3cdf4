"""jaxgen.convert: NVIDIA StyleGAN2-ADA pickles (written here in the official layout, without torch) -> a jaxgen
workdir whose generator reproduces a NumPy twin (conditional ones too); hostile or broken pickles (a corpus written
by tests/hostile_pickles.py) end in one line within the budget; outputs are atomic on a full disk and after kill -9."""
import contextlib
import errno
import glob
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgen
import hostile_pickles
import stylegan2_twin as twin
import torch_pickle_writer as writer
from jaxgen.convert import stylegan2_ada, torch_pickle
from jaxgen.errors import JaxgenError
from test_stylegan2_ada import random_state_dict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KW = {"z_dim": 6, "c_dim": 0, "w_dim": 5, "img_resolution": 8, "img_channels": 3,
      "mapping_kwargs": {"num_layers": 2},
      "synthesis_kwargs": {"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 1.5}}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
  d = tmp_path_factory.mktemp("convert")
  sd = random_state_dict(8, 3, 6, 5, 2, 64, 8, seed=3)
  path = str(d / "network.pkl")
  writer.write_network_pickle(path, sd, KW)
  workdir = str(d / "run")
  stylegan2_ada.convert(path, workdir)
  return sd, path, workdir


def test_restricted_unpickler_reads_the_official_layout(converted):
  sd, path, _ = converted
  with open(path, "rb") as f:
    data = torch_pickle.load(f)
  g = data["G_ema"]
  assert g.class_name == "Generator" and g.init_kwargs()["img_resolution"] == 8
  got = g.state_dict()
  assert set(got) == set(sd)
  for name, value in sd.items():                        # incl. column-major stored weights
    np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_converted_workdir_reproduces_the_numpy_twin(converted):
  sd, _, workdir = converted
  run = jaxgen.load(workdir)
  assert run.config.model.arch == "stylegan2_ada" and run.config.model.conv_clamp == 1.5
  st = run.state
  np.testing.assert_array_equal(np.asarray(st.w_avg), sd["mapping.w_avg"])
  z = np.random.default_rng(5).normal(size=(2, 6)).astype(np.float32)
  gen = st.generator
  w = np.asarray(gen.mapping(st.g_ema, jnp.asarray(z)))
  ref_w = twin.mapping(sd, z, 2)
  np.testing.assert_allclose(w, ref_w, rtol=1e-4, atol=1e-5)
  psi = 0.7
  ws_ref = np.repeat((sd["mapping.w_avg"] + psi * (ref_w - sd["mapping.w_avg"]))[:, None], gen.num_layers, axis=1)
  ref = twin.synthesis(sd, ws_ref, 8, "const", clamp=1.5).transpose(0, 2, 3, 1)
  # the family's sampling path: truncation towards w_avg, constant noise, [-1, 1] -> [0, 1]
  from jaxgen.families.stylegan import outputs
  from jaxgen.latent.truncation import truncate
  wp = jnp.broadcast_to(truncate(jnp.asarray(w), st.w_avg, psi)[:, None], (2, gen.num_layers, 5))
  img = np.asarray(outputs.render(st, wp, jax.random.PRNGKey(0), "const"))
  np.testing.assert_allclose(img, np.clip((ref + 1) / 2, 0, 1), rtol=1e-4, atol=1e-4)


def _malicious(path, marker):
  class Evil:
    def __reduce__(self):
      return (os.system, (f"touch {marker}",))
  with open(path, "wb") as f:
    pickle.dump({"G_ema": Evil()}, f)


def test_a_pickle_that_runs_code_is_refused_and_never_runs(tmp_path):
  path, marker = str(tmp_path / "evil.pkl"), str(tmp_path / "pwned")
  _malicious(path, marker)
  with pytest.raises(JaxgenError, match=r"refusing .*(posix|os)\.system.*nothing from it was executed"):
    stylegan2_ada.read_pickle(path)
  assert not os.path.exists(marker)
  # a persistent record's embedded source is data, never executed
  src = f"open({marker!r}, 'w').write('x')\n"
  sd = random_state_dict(4, 1, 2, 2, 1, 16, 4)
  kw = dict(KW, z_dim=2, w_dim=2, img_resolution=4, img_channels=1, mapping_kwargs={"num_layers": 1})
  writer.write_network_pickle(str(tmp_path / "src.pkl"), sd, kw, module_src=src)
  assert stylegan2_ada.read_pickle(str(tmp_path / "src.pkl"))["G_ema"].class_name == "Generator"
  assert not os.path.exists(marker)


def test_cli_refuses_with_one_line(tmp_path):
  path, marker = str(tmp_path / "evil.pkl"), str(tmp_path / "pwned")
  _malicious(path, marker)
  proc = subprocess.run([sys.executable, "-m", "jaxgen.convert", "stylegan2_ada", path,
                         f"--workdir={tmp_path / 'run'}"], capture_output=True, text=True, cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}, timeout=300)
  assert proc.returncode == 2, proc.stderr
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: refusing"), proc.stderr
  assert not os.path.exists(marker)


# --- safety by construction: the hostile corpus (tests/hostile_pickles.py), one forked child per file ------------

@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory):
  out = tmp_path_factory.mktemp("hostile")
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile_pickles.py"), str(out)],
                        capture_output=True, text=True, cwd=ROOT, timeout=600,
                        env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"})
  assert proc.returncode == 0, proc.stderr[-3000:]
  return {r["case"]: r for r in map(json.loads, proc.stdout.splitlines())}


def test_every_hostile_file_ends_in_one_line_within_the_budget(corpus_results):
  """Raw-pointer interfaces, dtype offsets, stride 0, object/void dtypes, hash and str bombs of shared structure,
  deep nesting, memo and length bombs, code execution, broken init kwargs and module states: none crashes, each
  ends within 5 s of CPU time (wall time depends on the machine's load: 20 s at most here) and 300 MB of peak RSS
  growth, with one `error:` line and status 2."""
  hostile = {k: r for k, r in corpus_results.items() if not k.startswith("valid_")}
  assert len(hostile) >= 60
  for name, r in hostile.items():
    lines = r["line"].strip().splitlines()
    assert r["status"] == 2 and len(lines) == 1 and lines[0].startswith("error: "), (name, r)
    assert r["cpu_seconds"] < hostile_pickles.CASE_SECONDS and r["seconds"] < 4 * hostile_pickles.CASE_SECONDS, \
        (name, r)
    assert r["rss_mb"] < hostile_pickles.CASE_RSS_MB, (name, r)
  reasons = {name: r["line"] for name, r in hostile.items()}
  assert "BUILD (setting the state) of a dict" in reasons["array_interface_on_easydict"]
  assert "plain scalar type" in reasons["dtype_field_at_offset_64"]
  assert "stride 0" in reasons["stride_zero_tensor"] and "more elements than its storage" in \
      reasons["overlapping_strides"]
  assert "shared structure" in reasons["shared_tuple_dict_key"] and "as a dict key" in \
      reasons["shared_tuple_small_dict_key"]
  assert "nested more than 100 deep" in reasons["module_chain_20000"]
  assert "img_resolution='8'" in reasons["img_resolution_str"] and "c_dim=True" in reasons["c_dim_bool"]


def test_valid_files_of_every_protocol_convert(corpus_results):
  for protocol in range(6):
    r = corpus_results[f"valid_protocol_{protocol}"]
    assert r["status"] == 0 and not r["line"].strip(), r


def test_protocol_2_and_0_files_read_like_protocol_3(tmp_path):
  """Python 2 names (__builtin__.set, copy_reg) and protocol-0..2 bytes (_codecs.encode) read as Python reads them."""
  sd = random_state_dict(8, 3, 6, 5, 2, 64, 8, seed=4)
  for protocol in (0, 2):
    path = str(tmp_path / f"p{protocol}.pkl")
    writer.write_network_pickle(path, sd, KW, protocol=protocol)
    assert b"__builtin__" in open(path, "rb").read()
    got = stylegan2_ada.read_pickle(path)["G_ema"].state_dict()
    for name, value in sd.items():
      np.testing.assert_array_equal(got[name], value, err_msg=name)
  # numpy arrays and scalars: only numeric dtypes, built here
  data = torch_pickle.load_bytes(pickle.dumps({"a": np.arange(6, dtype=">i4").reshape(2, 3), "s": np.float32(1.5)},
                                              protocol=2))
  np.testing.assert_array_equal(data["a"].array, np.arange(6).reshape(2, 3))
  assert data["a"].array.dtype == np.dtype("int32") and data["s"] == np.float32(1.5)


def test_cli_refuses_a_broken_generator_with_one_line(tmp_path):
  """The checks after reading share the reader's error boundary (test_cli_refuses_with_one_line: the reader's)."""
  files = hostile_pickles.corpus()
  for name in ("img_resolution_str",):
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(files[name])
    proc = subprocess.run([sys.executable, "-m", "jaxgen.convert", "stylegan2_ada", str(path),
                           f"--workdir={tmp_path / name}"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert not (tmp_path / name).exists()


# --- conditional generators -------------------------------------------------------------------------------------------

CKW = dict(KW, c_dim=3, mapping_kwargs={"num_layers": 2, "lr_multiplier": 1.0})   # lr 1: labels move w visibly


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
  d = tmp_path_factory.mktemp("conditional")
  sd = {name: (twin.fir() if name.endswith("resample_filter") else
               np.random.default_rng(7 + i).normal(size=shape)).astype(np.float32)
        for i, (name, shape) in enumerate(twin.official_shapes(8, 3, 6, 5, 2, 64, 8, c_dim=3).items())}
  path = str(d / "cond.pkl")
  writer.write_network_pickle(path, sd, CKW, protocol=2)
  workdir = str(d / "run")
  stylegan2_ada.convert(path, workdir)
  return sd, workdir


def test_conditional_generator_matches_the_numpy_twin(conditional):
  sd, workdir = conditional
  run = jaxgen.load(workdir)
  assert run.config.model.c_dim == 3
  st, gen = run.state, run.state.generator
  z = np.random.default_rng(5).normal(size=(4, 6)).astype(np.float32)
  c = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
  w = np.asarray(gen.mapping(st.g_ema, jnp.asarray(z), jnp.asarray(c)))
  ref_w = twin.mapping(sd, z, 2, 1.0, c=c)
  np.testing.assert_allclose(w, ref_w, rtol=1e-4, atol=1e-5)
  assert np.abs(twin.mapping(sd, z[:1], 2, 1.0, c=c[1:2]) - ref_w[:1]).max() > 0.1   # the label changes w
  # sample.py's path: label=K and a class grid, truncation towards w_avg, constant noise
  from jaxgen.families.stylegan import outputs
  out = outputs.sample_outputs(st, run.config, jax.random.PRNGKey(0), 2, {"label": 2, "truncation": 0.5,
                                                                         "noise_mode": "const"})
  np.testing.assert_array_equal(out["labels"], [2, 2])
  zs = np.asarray(jax.random.normal(jax.random.split(jax.random.PRNGKey(0))[0], (2, 6)))
  w2 = twin.mapping(sd, zs, 2, 1.0, c=np.eye(3)[[2, 2]])
  wt = sd["mapping.w_avg"] + 0.5 * (w2 - sd["mapping.w_avg"])
  ref = twin.synthesis(sd, np.repeat(wt[:, None], gen.num_layers, axis=1), 8, "const", clamp=1.5)
  ref = ref.transpose(0, 2, 3, 1)
  np.testing.assert_allclose(out["samples"], np.clip((ref + 1) / 2, 0, 1), rtol=1e-4, atol=1e-4)
  grid = outputs.sample_outputs(st, run.config, jax.random.PRNGKey(1), 6, {"class_grid": True})
  assert grid["samples"].shape == (6, 8, 8, 3) and grid["ncols"] == 2
  np.testing.assert_array_equal(grid["labels"], [0, 0, 1, 1, 2, 2])
  assert grid["row_labels"] == ["class 0", "class 1", "class 2"]
  with pytest.raises(JaxgenError, match=r"label=3 is not allowed; choose an integer in \[0, 2\]"):
    outputs.sample_outputs(st, run.config, jax.random.PRNGKey(1), 2, {"label": 3})


def test_label_needs_a_conditional_generator(converted):
  run = jaxgen.load(converted[2])
  with pytest.raises(JaxgenError, match="label needs a conditional generator"):
    run.sample_outputs(jax.random.PRNGKey(0), 2, label=1)


def test_sample_cli_writes_a_class_grid(conditional, tmp_path):
  out = tmp_path / "grid.npz"
  proc = subprocess.run([sys.executable, "sample.py", f"--workdir={conditional[1]}", "--num=3", "--class_grid",
                         f"--out={out}"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                        env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"})
  assert proc.returncode == 0, proc.stderr[-2000:]
  data = np.load(out)
  assert data["samples"].shape == (3, 8, 8, 3)
  np.testing.assert_array_equal(data["labels"], [0, 1, 2])


# --- atomic outputs: a full disk (a real small tmpfs) and kill -9 -----------------------------------------------------

@contextlib.contextmanager
def small_tmpfs(path, size="2m"):
  """A real tmpfs of `size` mounted at `path` (a full disk that is really full); skips where mounting is not
  permitted (not root, or a container without the capability)."""
  if os.geteuid() != 0:
    pytest.skip("mounting a small tmpfs (a real full disk) needs root")
  os.makedirs(path, exist_ok=True)
  proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                        text=True)
  if proc.returncode != 0:
    pytest.skip(f"mount -t tmpfs is not permitted here: {proc.stderr.strip()[:200]}")
  try:
    yield str(path)
  finally:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory, leave: int = 0) -> str:
  """Fills the filesystem of `directory` with one file until at most `leave` bytes are free; returns its path."""
  path = os.path.join(directory, "filler")
  fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
  try:
    while True:
      os.write(fd, b"\0" * 4096)
  except OSError as e:
    assert e.errno == errno.ENOSPC
  finally:
    os.close(fd)
  if leave:
    os.truncate(path, max(0, os.path.getsize(path) - leave))
  return path


def test_full_disk_keeps_the_file_at_sample_out(converted, tmp_path):
  with small_tmpfs(tmp_path / "disk") as disk:
    keep = os.path.join(disk, "keep.npz")
    np.savez(keep, samples=np.arange(1000.0))
    before = open(keep, "rb").read()
    fill(disk)
    proc = subprocess.run([sys.executable, "sample.py", f"--workdir={converted[2]}", "--num=64", f"--out={keep}"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "No space left on device" in lines[0], proc.stderr[-2000:]
    assert keep in lines[0] and "unchanged" in lines[0]
    assert open(keep, "rb").read() == before
    assert sorted(os.listdir(disk)) == ["filler", "keep.npz"]      # no temporary file left behind


def test_full_disk_during_convert_then_run_it_again(converted, tmp_path):
  _, pickle_path, _ = converted
  with small_tmpfs(tmp_path / "disk", size="1m") as disk:
    earlier = os.path.join(disk, "earlier.json")
    with open(earlier, "w") as f:
      f.write('{"keep": true}')
    filler = fill(disk, leave=8192)
    workdir = os.path.join(disk, "run")
    with pytest.raises(stylegan2_ada.ConversionFailure, match=r"could not write .*run.*No space left on device.*"
                                                              r"nothing was left there.*run the same command again"):
      stylegan2_ada.convert(pickle_path, workdir)
    assert sorted(os.listdir(disk)) == ["earlier.json", "filler"]   # no half-written workdir, no staging dir
    assert open(earlier).read() == '{"keep": true}'
    os.remove(filler)
    stylegan2_ada.convert(pickle_path, workdir)
    assert jaxgen.load(workdir).step == 0


def test_convert_killed_mid_way_can_be_run_again(converted, tmp_path):
  _, pickle_path, _ = converted
  workdir = str(tmp_path / "run")
  proc = subprocess.Popen([sys.executable, "-m", "jaxgen.convert", "stylegan2_ada", pickle_path,
                           f"--workdir={workdir}"], cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"})
  try:
    deadline = time.time() + 120
    while time.time() < deadline and not glob.glob(str(tmp_path / ".run.converting-*")) and proc.poll() is None:
      time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
  finally:
    proc.wait()
  assert proc.returncode == -signal.SIGKILL, "the conversion ended before it could be killed"
  assert not os.path.exists(workdir)                    # nothing half-converted at --workdir
  stylegan2_ada.convert(pickle_path, workdir)           # the same command again
  assert jaxgen.load(workdir).step == 0 and not glob.glob(str(tmp_path / ".run.converting-*"))


def test_a_half_converted_workdir_of_an_earlier_jaxgen(converted, tmp_path):
  """config.json and an empty checkpoints/ (what an interrupted convert left before staging): sample.py says to
  convert again, and converting again replaces it."""
  _, pickle_path, done = converted
  workdir = tmp_path / "run"
  (workdir / "checkpoints").mkdir(parents=True)
  shutil.copy(os.path.join(done, "config.json"), workdir / "config.json")
  with pytest.raises(JaxgenError, match="convert its network pickle again"):
    jaxgen.load(str(workdir))
  stylegan2_ada.convert(pickle_path, str(workdir))
  assert jaxgen.load(str(workdir)).step == 0
  with pytest.raises(JaxgenError, match="already has checkpoints"):
    stylegan2_ada.convert(pickle_path, str(workdir))
  (tmp_path / "other").mkdir()
  (tmp_path / "other" / "notes.txt").write_text("mine")
  with pytest.raises(JaxgenError, match="holds other files"):
    stylegan2_ada.convert(pickle_path, str(tmp_path / "other"))
  assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
