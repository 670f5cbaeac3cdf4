"""Faults a user meets: full disks, failed saves, signals, damaged files, two trainers, resumes with another
config, and the one-line errors of the command-line tools. Each test reproduces the fault first."""
import errno
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c

from conftest import ROOT, load_config
from signal_injection import pipeline_signalling_at
import jaxgen
from jaxgen import data as data_lib
from jaxgen import fileio
from jaxgen.errors import JaxgenError, RunFailure
from jaxgen.runtime import lock as lock_lib
from jaxgen.runtime import train
from jaxgen.runtime import writers as tlog
from jaxgen.train import TrainingDiverged
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import setup
from jaxgen.train import workdir as workdir_lib


def tiny(steps=4, **extra):
  """A VAE on digits small enough that a step is milliseconds and a checkpoint a few kB."""
  overrides = {"train.num_steps": steps, "train.batch_size": 16, "train.log_every": 1, "train.checkpoint_every": 2,
               "train.sample_every": 0, "train.eval_every": 0, "data.image_size": 8,
               "model.encoder_features": (4,), "model.decoder_features": (4,)}
  overrides.update(extra)
  return load_config("vae_digits", **overrides)


def leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(state)]


def metrics(workdir, drop=("steps_per_sec",)):
  return [{k: v for k, v in json.loads(l).items() if k not in drop} for l in open(os.path.join(workdir, "metrics.jsonl"))]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """An uninterrupted 8-step run with log_every=4 (the reference for exact resumes)."""
  workdir = str(tmp_path_factory.mktemp("straight") / "run")
  state = train(tiny(8, **{"train.log_every": 4}), workdir, progress=False)
  return workdir, state


# --- 1. logging writers neither hang nor stop the run; a failed save stops it cleanly ----------------------

class FailingWrites:
  """The log writers' writes raising ENOSPC (after writing `partial` bytes) while `on`."""

  def __init__(self, monkeypatch, partial=3):
    self.on, self.partial, real = True, partial, fileio._write_all

    def write(fd, data):
      if self.on:
        os.write(fd, bytes(data)[:self.partial])
        raise OSError(errno.ENOSPC, "No space left on device")
      return real(fd, data)
    monkeypatch.setattr(fileio, "_write_all", write)


def read_events(path):
  """(step, {tag: value}) of each TFRecord of an event file, checking both CRCs of every record."""
  blob, i, out = open(path, "rb").read(), 0, []
  while i < len(blob):
    (n,) = struct.unpack("<Q", blob[i:i + 8])
    assert struct.unpack("<I", blob[i + 8:i + 12])[0] == masked_crc32c(blob[i:i + 8])
    data = blob[i + 12:i + 12 + n]
    assert struct.unpack("<I", blob[i + 12 + n:i + 16 + n])[0] == masked_crc32c(data)
    event = event_pb2.Event()
    event.ParseFromString(data)
    out.append((event.step, {v.tag: v.simple_value for v in event.summary.value}))
    i += 16 + n
  assert i == len(blob)
  return out


def test_writers_survive_a_full_disk_and_catch_up(tmp_path, monkeypatch, capsys):
  pytest.importorskip("tensorboardX")  # only to parse the event protos independently
  writer = tlog.MetricsWriter(str(tmp_path))
  assert writer.write(1, {"loss": 1.5})
  fault = FailingWrites(monkeypatch)
  t0 = time.time()
  assert not writer.write(2, {"loss": 2.5}) and writer.disk_full
  assert not writer.write(3, {"loss": 3.5})
  assert time.time() - t0 < 1.0                               # no waiting, no hang
  assert [json.loads(l)["step"] for l in open(writer.path)] == [1]   # the cut-short appends were rolled back
  assert capsys.readouterr().err.count("warning:") == 1      # one warning per episode
  fault.on = False
  assert writer.write(4, {"loss": 4.5}) and not writer.disk_full
  assert [json.loads(l)["step"] for l in open(writer.path)] == [1, 2, 3, 4]
  events = read_events(writer.files[1])
  assert [s for s, _ in events] == [0, 1, 2, 3, 4] and events[4][1] == {"train/loss": 4.5}


def test_full_disk_during_logging_saves_at_once_or_stops(tmp_path, monkeypatch):
  """The log writer finds the disk full at step 3: the loop saves a checkpoint at step 3 right away (not at
  the next checkpoint_every multiple) and trains on when that save works."""
  calls = {"n": 0}
  real_write = tlog.MetricsWriter.write

  def write(self, step, scalars, prefix=""):
    calls["n"] += 1
    if step == 3:
      self.disk_full = True
      return False
    return real_write(self, step, scalars, prefix)
  monkeypatch.setattr(tlog.MetricsWriter, "write", write)
  workdir = str(tmp_path / "run")
  train(tiny(4, **{"train.checkpoint_every": 4}), workdir, progress=False)
  assert workdir_lib.checkpoint_steps(workdir) == [3, 4]


def test_failed_save_stops_with_clear_error_and_keeps_checkpoints(tmp_path, monkeypatch):
  workdir = str(tmp_path / "run")
  good = train(tiny(2), workdir, progress=False)
  real_save = ckpt.ocp.CheckpointManager.save

  def save(self, step, *a, **k):
    if step == 4:
      raise OSError(errno.ENOSPC, "No space left on device", "/full/disk")
    return real_save(self, step, *a, **k)
  monkeypatch.setattr(ckpt.ocp.CheckpointManager, "save", save)
  with pytest.raises(ckpt.CheckpointSaveError, match=r"could not save checkpoint step 4 .*No space left on device"
                                                     r".*\(step 2\) is intact") as e:
    train(tiny(8), workdir, progress=False)
  assert e.value.exit_code == 1 and isinstance(e.value, RunFailure)
  assert workdir_lib.checkpoint_steps(workdir) == [2]
  monkeypatch.undo()
  restored, _ = ckpt.restore(ckpt.manager(os.path.join(workdir, "checkpoints"), async_save=False), good)
  for a, b in zip(leaves(good), leaves(restored)):
    np.testing.assert_array_equal(a, b)


class SignalAt:
  """The process sends itself `sig` while fetching the batch of `step`."""

  def __init__(self, monkeypatch, step, sig=signal.SIGTERM):
    monkeypatch.setattr(data_lib, "make_pipeline", pipeline_signalling_at(data_lib.make_pipeline, step, sig))


def test_sigterm_saves_while_logs_fail_and_resume_logs_exact_means(tmp_path, monkeypatch, straight):
  """The disk refuses every log write; SIGTERM arrives during step 6 (between logging points 4 and 8). The
  run saves at step 4 (the full disk) and step 6 (the signal) and returns; the resumed run writes the step-4
  record the checkpoint kept, logs a bit-identical mean at step 8 (the interval's partial sums are in the
  checkpoint) and ends in a bit-identical State."""
  workdir = str(tmp_path / "run")
  SignalAt(monkeypatch, 5)
  FailingWrites(monkeypatch, partial=5)
  train(tiny(8, **{"train.log_every": 4, "train.checkpoint_every": 0}), workdir, progress=False)
  monkeypatch.undo()
  assert workdir_lib.checkpoint_steps(workdir) == [4, 6]
  assert os.path.getsize(os.path.join(workdir, "metrics.jsonl")) == 0
  state = train(tiny(8, **{"train.log_every": 4, "train.checkpoint_every": 0}), workdir, progress=False)
  assert metrics(workdir) == metrics(straight[0])
  for a, b in zip(leaves(straight[1]), leaves(state)):
    np.testing.assert_array_equal(a, b)


# --- 2. config compatibility, checked before anything is written ---------------------------------------------

def snapshot(workdir):
  return {p: open(p, "rb").read() for p in glob.glob(os.path.join(workdir, "**"), recursive=True) if os.path.isfile(p)}


def test_incompatible_config_is_refused_before_writing(tmp_path, capsys):
  workdir = str(tmp_path / "run")
  train(tiny(2), workdir, progress=False)
  before = snapshot(workdir)
  with pytest.raises(JaxgenError, match=r"model\.latent_dim: 2 \(recorded\) vs 3.*train\.batch_size: 16 "
                                        r"\(recorded\) vs 32.*new --workdir"):
    train(tiny(4, **{"model.latent_dim": 3, "train.batch_size": 32}), workdir, progress=False)
  other = load_config("ae_digits", **{"train.num_steps": 4})
  with pytest.raises(JaxgenError, match=r"family: \"vae\" \(recorded\) vs \"autoencoder\""):
    train(other, workdir, progress=False)
  assert snapshot(workdir) == before
  # Run-length changes are allowed and recorded; num_steps below the checkpoint says so.
  train(tiny(4, **{"train.log_every": 2}), workdir, progress=True)
  closing = capsys.readouterr().out.strip().splitlines()[-1]   # the checkpoints on disk, not only this run's
  assert closing.startswith("done: step 4/4 (2 steps") and "checkpoints/ (steps 2, 4)" in closing, closing
  history = [json.loads(l) for l in open(os.path.join(workdir, "config_history.jsonl"))]
  assert history[-1]["step"] == 2
  assert history[-1]["changes"] == {"train.log_every": [1, 2], "train.num_steps": [2, 4]}
  assert json.load(open(os.path.join(workdir, "config.json")))["train"]["num_steps"] == 4
  capsys.readouterr()
  train(tiny(3, **{"train.log_every": 2}), workdir, progress=True)
  assert "nothing to train: the checkpoint in" in capsys.readouterr().out
  assert json.load(open(os.path.join(workdir, "config.json")))["train"]["num_steps"] == 4


def test_workdir_that_is_a_file(tmp_path):
  path = tmp_path / "file"
  path.write_text("x")
  with pytest.raises(JaxgenError, match="is a file, not a directory"):
    train(tiny(2), str(path), progress=False)
  with pytest.raises(JaxgenError, match="is a file, not a directory"):
    jaxgen.load(str(path))


# --- 3. one trainer per workdir ----------------------------------------------------------------------------

def test_second_trainer_refuses_and_stale_lock_is_taken_over(tmp_path, capsys):
  workdir = tmp_path / "run"
  workdir.mkdir()
  holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    info = {"host": os.uname().nodename, "pid": holder.pid, "started": "2026-01-01 00:00:00 UTC",
            "proc_start": lock_lib._process_start(holder.pid)}
    (workdir / "lock").write_text(json.dumps(info))
    with pytest.raises(JaxgenError, match=f"in use by another trainer: pid {holder.pid} on host "
                                          f"{os.uname().nodename}, started 2026-01-01"):
      train(tiny(2), str(workdir), progress=False)
  finally:
    holder.kill()
    holder.wait()
  train(tiny(2), str(workdir), progress=False)  # the holder died (kill -9): its lock is stale
  assert "removing the stale lock" in capsys.readouterr().err
  assert not (workdir / "lock").exists() and workdir_lib.checkpoint_steps(str(workdir)) == [2]


def test_lock_of_another_host_is_not_broken(tmp_path):
  lock = lock_lib.WorkdirLock(str(tmp_path))
  (tmp_path / "lock").write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": "then"}))
  with pytest.raises(JaxgenError, match="pid 1 on host elsewhere.*if that trainer is gone, delete"):
    lock.acquire()


# --- 4. a half-written last line of metrics.jsonl ------------------------------------------------------------

def test_half_written_metrics_line_is_dropped_on_resume(tmp_path, capsys, straight):
  workdir = str(tmp_path / "run")
  train(tiny(4, **{"train.log_every": 4}), workdir, progress=False)
  with open(os.path.join(workdir, "metrics.jsonl"), "ab") as f:
    f.write(b'{"step": 3, "loss": 1\xff}\n')                     # a damaged block: not UTF-8
    f.write(b'{"step": 5, "loss": 12')
  train(tiny(8, **{"train.log_every": 4}), workdir, progress=False)
  assert "dropped 2 incomplete or damaged line(s)" in capsys.readouterr().err
  assert metrics(workdir) == metrics(straight[0])


# --- 5. a damaged latest checkpoint ----------------------------------------------------------------------------

def damage(workdir, kind):
  latest = os.path.join(workdir, "checkpoints", str(max(workdir_lib.checkpoint_steps(workdir))))
  if kind == "truncated":
    big = max(glob.glob(os.path.join(latest, "state", "**", "d", "*"), recursive=True), key=os.path.getsize)
    with open(big, "r+b") as f:
      f.truncate(os.path.getsize(big) // 3)
  elif kind == "metadata":
    with open(os.path.join(latest, "state", "_METADATA"), "w") as f:
      f.write("garbage{")
  else:  # an empty directory of a later step
    os.makedirs(os.path.join(workdir, "checkpoints", "99"))


@pytest.mark.parametrize("kind", ["truncated", "metadata", "empty"])
def test_damaged_latest_checkpoint(tmp_path, capsys, kind, straight):
  workdir = str(tmp_path / "run")
  shutil.copytree(straight[0], workdir)
  damage(workdir, kind)
  bad = 99 if kind == "empty" else 8
  with pytest.raises(ckpt.CheckpointReadError, match=f"checkpoint step {bad} .* cannot be read .*other checkpoints: "
                                                     f"{'8, ' if kind == 'empty' else ''}6.*--step=") as e:
    jaxgen.load(workdir)
  assert len(str(e.value)) < 600, str(e.value)  # not TensorStore's whole JSON spec
  assert jaxgen.load(workdir, step=6).step == 6
  if kind == "truncated":  # train.py falls back to the newest readable step and trains on from it
    state = train(tiny(8, **{"train.log_every": 4}), workdir, progress=False)
    assert "checkpoint step 8" in capsys.readouterr().err
    assert os.listdir(os.path.join(workdir, ckpt.UNREADABLE))
    assert workdir_lib.checkpoint_steps(workdir)[-1] == 8
    for a, b in zip(leaves(straight[1]), leaves(state)):
      np.testing.assert_array_equal(a, b)


def test_read_only_workdir(tmp_path, straight):
  """A read-only copy of a run: sample/evaluate can load it (nothing is written) but refuse to write their output
  there before working; train.py says the workdir cannot be written."""
  ro = str(tmp_path / "ro")
  os.makedirs(ro)
  if os.geteuid() != 0 or subprocess.run(["mount", "--bind", "-o", "ro", straight[0], ro],
                                         capture_output=True).returncode != 0:
    pytest.skip("needs root and bind mounts for a real read-only filesystem")
  try:
    subprocess.run(["mount", "-o", "remount,bind,ro", ro], capture_output=True)
    assert jaxgen.load(ro).step == 8
    from jaxgen import cli
    with pytest.raises(JaxgenError, match="evaluate.json.*cannot write there"):
      cli.check_writable(os.path.join(ro, "evaluate.json"), "--json")
    with pytest.raises(JaxgenError, match="cannot write to --workdir"):
      train(tiny(10, **{"train.log_every": 4}), ro, progress=False)
  finally:
    subprocess.run(["umount", ro], capture_output=True)


# --- 7. one line instead of a traceback ---------------------------------------------------------------------------

def test_huge_image_size_is_refused_before_allocating(tmp_path, monkeypatch):
  monkeypatch.setattr(setup, "device_memory_bytes", lambda device: 16 << 30)  # the same answer on every machine
  # The batch alone: 128 x 4096^2 x 1 float32 = 8 GiB, needed twice.
  with pytest.raises(JaxgenError, match=r"data.image_size=4096 with train.batch_size=128 needs at least .* GiB per "
                                        r"device \(State .* GiB, batch 8.0 GiB over \d+ device\(s\)\) but a device has 16.0 GiB"):
    train(load_config("vae_digits", **{"data.image_size": 4096, "train.batch_size": 128}), str(tmp_path / "w"),
          progress=False)
  assert not (tmp_path / "w").exists()


def test_nan_exit_code_and_run_repr(tmp_path, straight):
  assert TrainingDiverged("x").exit_code == 3
  run = jaxgen.load(straight[0])
  text = repr(run)
  assert len(text) < 200 and "step=8" in text and "vae" in text


def test_large_num_is_sampled_in_batches(straight):
  run = jaxgen.load(straight[0])
  key = jax.random.PRNGKey(1)
  whole = run.sample_outputs_batched(key, 4, batch=4)["samples"]
  np.testing.assert_array_equal(whole, run.sample_outputs(key, 4)["samples"])
  parts = run.sample_outputs_batched(key, 4, batch=2)["samples"]
  assert parts.shape == whole.shape
  np.testing.assert_array_equal(parts[2:], run.sample_outputs(jax.random.fold_in(key, 1), 2)["samples"])


def cli(args, timeout=300):
  return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                        env={**os.environ, "JAX_PLATFORMS": "cpu"})


def one_line_error(out, status, *needles):
  assert out.returncode == status, (out.returncode, out.stderr[-2000:])
  lines = [l for l in out.stderr.strip().splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr[-2000:]
  for needle in needles:
    assert needle in lines[0], lines[0]


def test_cli_errors_are_one_line(tmp_path, straight):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  one_line_error(cli(["sample.py", f"--workdir={straight[0]}", f"--out={blocker}/x.png"]), 2, "--out=", "cannot write")
  one_line_error(cli(["-m", "jaxgen.evaluate", f"--workdir={straight[0]}", f"--json={blocker}/e.json"]), 2, "--json")
  damaged = str(tmp_path / "damaged")
  shutil.copytree(straight[0], damaged)
  damage(damaged, "metadata")
  one_line_error(cli(["sample.py", f"--workdir={damaged}", f"--out={tmp_path}/s.png"]), 2, "step 8", "--step=6")
  for tool in (["train.py"], ["sample.py"], ["-m", "jaxgen.evaluate"]):
    out = cli([*tool, "--help"])
    assert out.returncode == 0 and "--workdir" in out.stdout + out.stderr, (tool, out.returncode)


# --- 8. the faults of issue 24: each one line with the right exit code ----------------------------------------------

def test_negative_num_sample_images_is_refused_before_training(tmp_path):
  out = cli(["train.py", "--config=configs/vae_digits.py", f"--workdir={tmp_path / 'run'}",
             "--config.train.num_sample_images=-1", "--config.train.sample_every=1", "--config.train.num_steps=2"])
  one_line_error(out, 2, "train.num_sample_images=-1", "positive integer")
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_learning_rate_is_refused_before_compiling(tmp_path, value):
  with pytest.raises(JaxgenError, match=f"optim.learning_rate={value} must be a finite number"):
    train(tiny(2, **{"optim.learning_rate": float(value)}), str(tmp_path / "run"), progress=False)
  assert not (tmp_path / "run").exists()


def _png_header(width: int, height: int) -> bytes:
  """A PNG whose header claims width x height 1-bit pixels (and holds one empty row): Pillow refuses it at open."""
  import zlib

  def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
  ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
  return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_decompression_bomb_in_a_folder_data_set_names_the_file(tmp_path):
  from PIL import Image
  images = tmp_path / "images"
  images.mkdir()
  for i in range(3):
    Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(images / f"{i}.png")
  (images / "bomb.png").write_bytes(_png_header(100_000, 100_000))   # 10^10 pixels claimed in 60 bytes
  config = tiny(2, **{"data.name": f"folder:{images}", "data.channels": 1})
  with pytest.raises(JaxgenError, match=r"cannot read image .*bomb\.png.*decompression bomb"):
    train(config, str(tmp_path / "run"), progress=False)


def test_sample_latent_grid_must_be_positive(straight):
  one_line_error(cli(["sample.py", f"--workdir={straight[0]}", "--latent_grid=-1", "--out=/tmp/never.png"]), 2,
                 "latent_grid=-1", "[1, 1000]")


def test_config_json_with_a_string_batch_size(tmp_path, straight):
  workdir = str(tmp_path / "run")
  shutil.copytree(straight[0], workdir)
  path = os.path.join(workdir, "config.json")
  recorded = json.load(open(path))
  recorded["train"]["batch_size"] = "16"
  json.dump(recorded, open(path, "w"))
  with pytest.raises(JaxgenError, match=r'train.batch_size="16" is a str where a int belongs'):
    jaxgen.load(workdir)
  one_line_error(cli(["-m", "jaxgen.evaluate", f"--workdir={workdir}"]), 2, "train.batch_size")


def test_damaged_checkpoint_reason_is_never_an_object_repr():
  class Handler:
    def finalize(self):
      pass
  method = Handler().finalize
  assert "bound method" in str(ValueError(method))
  assert ckpt.root_cause(FileNotFoundError(method)) == "FileNotFoundError"
  try:
    try:
      raise KeyError("Item 'state' was not found")
    except KeyError:
      raise ValueError(method)
  except ValueError as e:
    assert ckpt.root_cause(e) == "KeyError: \"Item 'state' was not found\""
  assert ckpt.root_cause(ValueError(method)) == "ValueError (no further reason given)"
