"""Issue 12's fault defects 1-7, each reproduced through the command line only (train.py, sample.py, files in the
workdir, signals, a real small filesystem), so that this one file runs against any checkout:

  JAXGEN_TREE=/path/to/other/checkout python -m pytest -q -n 0 tests/test_defects.py

The tree under test is $JAXGEN_TREE (default: this checkout); its programs run with cwd and PYTHONPATH set to it.
Nothing here imports jaxgen, and every config override is a key that configs/vae_digits.py and configs/ae_digits.py
have defined since before the issue was filed. Runs that hang on a faulty tree are bounded by short timeouts; a
timeout counts as the failure.
"""
import glob
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT

TREE = os.path.abspath(os.environ.get("JAXGEN_TREE", ROOT))

# A VAE on 8x8 digits with one 4-channel conv stage: a step takes about a millisecond, a checkpoint ~130 kB.
TINY = ("--config.train.batch_size=16", "--config.data.image_size=8", "--config.model.encoder_features=(4,)",
        "--config.model.decoder_features=(4,)", "--config.train.sample_every=0", "--config.train.eval_every=0")
# The shared run: logged and checkpointed at steps L and 2L. L is long enough (~1 s of steps on a fast CPU) for a
# signal to land between the logging points.
L = 1000
RUN = (f"--config.train.num_steps={2 * L}", f"--config.train.log_every={L}", f"--config.train.checkpoint_every={L}")
TIMEOUT = 60  # seconds for any one program; a run that hangs on a faulty tree fails here
FULL_DISK_LIMIT = 30  # seconds from a full disk to the end of the run


@pytest.fixture(scope="module")
def env(tmp_path_factory):
  """The environment of every program: the tree under test first on the path, CPU, and a compilation cache of
  this module's own (so the timings do not depend on what an earlier run left in ~/.cache)."""
  return {**os.environ, "PYTHONPATH": TREE, "JAX_PLATFORMS": "cpu",
          "JAXGEN_COMPILATION_CACHE": str(tmp_path_factory.mktemp("xla_cache"))}


def tool(env, *args, timeout=TIMEOUT):
  """Runs `python ARGS` in the tree under test; a run past `timeout` seconds fails the test (it hung)."""
  try:
    return subprocess.run([sys.executable, *args], cwd=TREE, env=env, capture_output=True, text=True,
                          timeout=timeout)
  except subprocess.TimeoutExpired as e:
    pytest.fail(f"{' '.join(args[:2])} ... still running after {timeout} s (hung); stderr tail: "
                f"{(e.stderr or b'')[-1500:]!r}")


def train_args(workdir, *overrides, config="vae_digits"):
  return ["train.py", f"--config=configs/{config}.py", f"--workdir={workdir}", *TINY, *RUN, *overrides]


class Background:
  """A program running in the background whose output lines can be waited for."""

  def __init__(self, env, args):
    self.proc = subprocess.Popen([sys.executable, *args], cwd=TREE, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    self.lines, self.stdout, self.stderr = queue.Queue(), [], []
    for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
      threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

  def _pump(self, stream, sink):
    for line in stream:
      sink.append(line)
      self.lines.put(line)

  def wait_for_line(self, pattern, timeout=TIMEOUT):
    """Blocks until a line of stdout/stderr matches `pattern`; fails the test if the program ends first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
      try:
        line = self.lines.get(timeout=0.05)
      except queue.Empty:
        if self.proc.poll() is not None and self.lines.empty():
          time.sleep(0.2)  # let the pumps finish
          pytest.fail(f"the program ended (exit {self.proc.returncode}) before printing {pattern!r}: "
                      f"{''.join(self.stderr)[-2000:]}")
        continue
      if re.search(pattern, line):
        return line
    pytest.fail(f"no line matching {pattern!r} within {timeout} s")

  def wait(self, timeout):
    """The exit status, or None if the program is still running after `timeout` seconds."""
    try:
      rc = self.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
      return None
    time.sleep(0.1)
    return rc

  def kill(self):
    if self.proc.poll() is None:
      self.proc.kill()
    self.proc.wait()

  @property
  def err(self):
    return "".join(self.stderr)


def last_exception(stderr):
  """The last 'SomeError: ...' line of stderr other than asyncio's 'Event loop is closed' noise (else the last
  line), cut to 300 characters."""
  lines = [l.strip() for l in stderr.splitlines() if l.strip()]
  found = [l for l in lines if re.match(r"[\w.]+(Error|Exception|Exit)\b", l) and "Event loop is closed" not in l]
  return (found or lines or [""])[-1][:300]


def assert_one_error_line(out_or_rc, stderr=None, stdout=""):
  """Exit status != 0, exactly one `error:` line on stderr and no traceback anywhere."""
  if stderr is None:
    rc, stderr, stdout = out_or_rc.returncode, out_or_rc.stderr, out_or_rc.stdout
  else:
    rc = out_or_rc
  errors = [l for l in stderr.splitlines() if l.strip().startswith("error:")]
  assert rc != 0, f"exit status 0; stderr: {stderr[-2000:]}"
  if "Traceback" in stderr + stdout:
    pytest.fail(f"a traceback instead of one error line (exit {rc}, {len(stderr.splitlines())} lines on stderr, "
                f"{stderr.count('Traceback')} tracebacks, {last_exception(stderr)!r}); "
                f"error lines: {[e[:300] for e in errors]}")
  assert len(errors) == 1, f"{len(errors)} error lines (exit {rc}): {stderr[-2000:]}"
  return errors[0]


def records(workdir):
  """metrics.jsonl's records by step, without the timing-dependent steps_per_sec."""
  out = {}
  for line in open(os.path.join(workdir, "metrics.jsonl")):
    record = json.loads(line)
    out[record["step"]] = {k: v for k, v in record.items() if k != "steps_per_sec"}
  return out


def step_dirs(workdir):
  d = os.path.join(workdir, "checkpoints")
  return sorted(int(n) for n in os.listdir(d) if n.isdigit()) if os.path.isdir(d) else []


def snapshot(workdir):
  return {os.path.relpath(p, workdir): open(p, "rb").read()
          for p in glob.glob(os.path.join(workdir, "**"), recursive=True) if os.path.isfile(p)}


@pytest.fixture(scope="module")
def straight(env, tmp_path_factory):
  """An uninterrupted run: checkpoints and logged means at steps L and 2L (a read-only reference; tests copy it
  before changing anything)."""
  workdir = str(tmp_path_factory.mktemp("straight") / "run")
  out = tool(env, *train_args(workdir))
  assert out.returncode == 0, out.stderr[-3000:]
  assert step_dirs(workdir) == [L, 2 * L] and sorted(records(workdir)) == [L, 2 * L]
  return workdir


def copy_of(straight, tmp_path, name="run"):
  workdir = str(tmp_path / name)
  shutil.copytree(straight, workdir)
  return workdir


# --- 1. a disk that fills during training ---------------------------------------------------------------------

def fill(disk):
  """Fills the filesystem at `disk` to the last byte with one file; returns its path."""
  filler = os.path.join(disk, "filler")
  fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
  try:
    for size in (1 << 16, 1 << 12, 1):
      try:
        while True:
          os.write(fd, bytes(size))
      except OSError:
        pass
  finally:
    os.close(fd)
  return filler


def test_defect1_full_disk_ends_the_run_with_one_error_and_keeps_the_checkpoint(env, tmp_path):
  """train.py on a real 3 MB tmpfs, logging every step; once a checkpoint is on disk the filesystem is filled.
  The run must end by itself within seconds (exit != 0, one `error:` line), and the checkpoint written before
  the disk filled must still be restorable."""
  disk = str(tmp_path / "disk")
  os.makedirs(disk)
  if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", disk],
                                         capture_output=True).returncode != 0:
    pytest.skip("needs root to mount a real small (tmpfs) filesystem")
  run = None
  try:
    workdir = os.path.join(disk, "run")
    run = Background(env, train_args(workdir, "--config.train.num_steps=1000000", "--config.train.log_every=1",
                                     "--config.train.checkpoint_every=100"))
    deadline = time.time() + TIMEOUT
    while not step_dirs(workdir) and time.time() < deadline and run.proc.poll() is None:
      time.sleep(0.02)
    before = step_dirs(workdir)
    assert before, f"no checkpoint within {TIMEOUT} s: {run.err[-2000:]}"
    filler = fill(disk)
    t_full = time.time()
    rc = run.wait(FULL_DISK_LIMIT)
    assert rc is not None, (f"train.py still running {FULL_DISK_LIMIT} s after the disk filled (hung); "
                            f"stderr tail: {run.err[-1500:]}")
    print(f"disk filled after checkpoint step {before[-1]}; train.py exited {rc} {time.time() - t_full:.1f} s later")
    line = assert_one_error_line(rc, run.err, "".join(run.stdout))
    print(line)
    os.remove(filler)
    kept = before[-1]
    assert kept in step_dirs(workdir), f"checkpoint step {kept} is gone; left: {step_dirs(workdir)}"
    out = tool(env, "sample.py", f"--workdir={workdir}", f"--step={kept}", "--num=4",
               f"--out={tmp_path / 'kept.npz'}")
    assert out.returncode == 0 and f"from step {kept}" in out.stdout, out.stderr[-2000:]
  finally:
    if run is not None:
      run.kill()
    subprocess.run(["umount", "-l", disk], capture_output=True)


# --- 2. a resume with an incompatible config ----------------------------------------------------------------------

def test_defect2_resume_with_another_family_is_refused_before_writing(env, straight, tmp_path):
  """Resuming the VAE workdir with configs/ae_digits.py: one error line, and config.json (indeed every file in the
  workdir) is byte-identical afterwards, so sample.py/evaluate still match the checkpoints."""
  workdir = copy_of(straight, tmp_path)
  before = snapshot(workdir)
  out = tool(env, *train_args(workdir, config="ae_digits"))
  after = snapshot(workdir)
  assert after.get("config.json") == before["config.json"], (
      f"config.json was rewritten by the refused resume (exit {out.returncode}); now: "
      f"{(after.get('config.json') or b'')[:120]!r}...")
  assert after == before, f"files changed: {sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))}"
  line = assert_one_error_line(out)
  assert "family" in line, line


# --- 3. two trainers on one workdir ---------------------------------------------------------------------------------

def test_defect3_second_trainer_on_a_busy_workdir_is_refused(env, tmp_path):
  """While one train.py runs in a workdir, a second train.py on the same workdir (only num_steps differs, which a
  resume may change) must refuse with one error line and leave the first one running undisturbed; the first,
  stopped by SIGTERM, has logged one trajectory."""
  workdir = str(tmp_path / "run")
  first = Background(env, train_args(workdir, "--config.train.num_steps=1000000", "--config.train.log_every=100",
                                     "--config.train.checkpoint_every=0"))
  try:
    first.wait_for_line(r"^step 100\b")
    second = tool(env, *train_args(workdir, "--config.train.num_steps=50"))
    assert second.returncode != 0, (f"the second trainer was not refused: it trained alongside the first and exited "
                                    f"0; its output: {second.stdout[-600:]}")
    assert_one_error_line(second)
    assert first.proc.poll() is None, f"the first trainer stopped (exit {first.proc.returncode}): {first.err[-2000:]}"
    first.proc.send_signal(signal.SIGTERM)
    rc = first.wait(TIMEOUT)
    assert rc == 0, f"the first trainer, stopped by SIGTERM, exited {rc}: {first.err[-2000:]}"
    steps = [json.loads(l)["step"] for l in open(os.path.join(workdir, "metrics.jsonl"))]
    assert steps == sorted(set(steps)) and all(s % 100 == 0 for s in steps), steps  # one trajectory only
  finally:
    first.kill()


# --- 4. a half-written last line of metrics.jsonl -------------------------------------------------------------------

def test_defect4_half_written_metrics_line_does_not_block_the_resume(env, straight, tmp_path):
  """The disk filled while step 2L's line was written: metrics.jsonl ends in half a line. Resuming to step 3L
  must work and leave a metrics.jsonl whose every line is JSON."""
  workdir = copy_of(straight, tmp_path)
  path = os.path.join(workdir, "metrics.jsonl")
  text = open(path).read()
  last = text.rstrip("\n").rfind("\n") + 1
  with open(path, "w") as f:
    f.write(text[:last + (len(text) - last) // 2])  # the last line cut in half, no newline
  out = tool(env, *train_args(workdir, f"--config.train.num_steps={3 * L}"))
  assert out.returncode == 0, f"the resume failed (exit {out.returncode}): {last_exception(out.stderr)}"
  logged = records(workdir)  # every line parses
  assert 3 * L in logged and logged[L] == records(straight)[L], sorted(logged)


# --- 5. a damaged latest checkpoint -------------------------------------------------------------------------------

def truncate_data_files(step_dir):
  """Cuts every data file of a checkpoint (the */d/* chunk files of its arrays) to a third of its size."""
  files = [p for p in glob.glob(os.path.join(step_dir, "**", "d", "*"), recursive=True) if os.path.isfile(p)]
  assert files, f"no data files under {step_dir}"
  for p in files:
    with open(p, "r+b") as f:
      f.truncate(os.path.getsize(p) // 3)


def check_sample_names_the_damaged_step(env, workdir, step, out_dir):
  """sample.py either samples (from a readable step) or says in one line which step is damaged and how to pick
  another (--step)."""
  out = tool(env, "sample.py", f"--workdir={workdir}", "--num=4", f"--out={out_dir / 's.npz'}")
  if out.returncode == 0:
    return
  errors = [l for l in out.stderr.splitlines() if l.startswith("error:")]
  assert errors and re.search(rf"\b{step}\b", errors[0]) and "--step" in errors[0], (
      f"sample.py (exit {out.returncode}) does not name step {step} and --step: {errors[:1] or out.stderr[-1000:]}")
  assert_one_error_line(out)


def test_defect5_truncated_latest_checkpoint(env, straight, tmp_path):
  """Checkpoint 2L has truncated data files. train.py must resume from step L, the newest good one, and reach
  the same step-2L means as the uninterrupted run; sample.py must sample or name step 2L and --step."""
  workdir = copy_of(straight, tmp_path)
  truncate_data_files(os.path.join(workdir, "checkpoints", str(2 * L)))
  damaged = copy_of(workdir, tmp_path, "damaged")
  out = tool(env, *train_args(workdir))
  assert out.returncode == 0, (f"train.py did not fall back to step {L} (exit {out.returncode}): "
                               f"{last_exception(out.stderr)}")
  assert f"resumed from checkpoint step {L}" in out.stdout, out.stdout[-2000:]
  assert "Traceback" not in out.stderr, f"{out.stderr.count('Traceback')} tracebacks: {out.stderr[-1500:]}"
  assert records(workdir)[2 * L] == records(straight)[2 * L]
  check_sample_names_the_damaged_step(env, damaged, 2 * L, tmp_path)


def test_defect5_empty_latest_step_directory(env, straight, tmp_path):
  """An empty checkpoints/3L/ (a save cut off before it wrote anything): sample.py samples from a readable step
  or names step 3L and --step in one line."""
  workdir = copy_of(straight, tmp_path)
  os.makedirs(os.path.join(workdir, "checkpoints", str(3 * L)))
  check_sample_names_the_damaged_step(env, workdir, 3 * L, tmp_path)


# --- 6. SIGTERM between logging points ------------------------------------------------------------------------------

def test_defect6_sigterm_between_logging_points_keeps_the_logged_mean(env, straight, tmp_path):
  """SIGTERM just after step L was logged and checkpointed (so the run stops between the logging points L and
  2L); the resumed run's logged means at step 2L must equal the uninterrupted run's."""
  workdir = str(tmp_path / "run")
  run = Background(env, train_args(workdir))
  try:
    run.wait_for_line(rf"^step {L}\b")
    # Checkpoint L is committed only after its loop iteration has passed the point where a signal would stop the
    # run at step L itself (~0.2 s of the ~1 s the next L steps take): from then on, the run stops strictly
    # between L and 2L.
    deadline = time.time() + TIMEOUT
    while L not in step_dirs(workdir) and time.time() < deadline and run.proc.poll() is None:
      time.sleep(0.005)
    run.proc.send_signal(signal.SIGTERM)
    rc = run.wait(TIMEOUT)
    assert rc is not None, f"train.py still running {TIMEOUT} s after SIGTERM: {run.err[-2000:]}"
  finally:
    run.kill()
  stopped = step_dirs(workdir)[-1]
  print(f"SIGTERM stopped the run at step {stopped}")
  assert L < stopped < 2 * L, f"SIGTERM did not land between the logging points (saved {step_dirs(workdir)})"
  out = tool(env, *train_args(workdir))
  assert out.returncode == 0, out.stderr[-2000:]
  resumed, reference = records(workdir)[2 * L], records(straight)[2 * L]
  assert resumed == reference, (f"SIGTERM at step {stopped}: step {2 * L} logged {resumed} after the resume, "
                                f"{reference} without the interruption")


# --- 7. one error line instead of a traceback --------------------------------------------------------------------

def test_defect7_workdir_that_is_a_file(env, tmp_path):
  path = tmp_path / "file"
  path.write_text("x")
  line = assert_one_error_line(tool(env, *train_args(str(path))))
  assert str(path) in line, line


def test_defect7_read_only_workdir(env, straight, tmp_path):
  """train.py resuming in a read-only workdir (a real read-only bind mount)."""
  ro = str(tmp_path / "ro")
  os.makedirs(ro)
  if os.geteuid() != 0 or subprocess.run(["mount", "--bind", "-o", "ro", straight, ro],
                                         capture_output=True).returncode != 0:
    pytest.skip("needs root and bind mounts for a real read-only filesystem")
  try:
    subprocess.run(["mount", "-o", "remount,bind,ro", ro], capture_output=True)
    line = assert_one_error_line(tool(env, *train_args(ro, f"--config.train.num_steps={3 * L}")))
    assert ro in line, line
  finally:
    subprocess.run(["umount", "-l", ro], capture_output=True)


def test_defect7_unwritable_sample_out(env, straight, tmp_path):
  """sample.py --out under a path whose parent is a file."""
  blocker = tmp_path / "file"
  blocker.write_text("x")
  out = tool(env, "sample.py", f"--workdir={straight}", "--num=4", f"--out={blocker}/x.png")
  line = assert_one_error_line(out)
  assert "--out" in line, line
