"""train.py as 2 processes on 127.0.0.1 (1 CPU device each, gloo collectives) against 1 process with 2 devices:
same metrics (training and the evaluation during training), State and sample grids; a SIGTERM to one process
makes both save the same step and exit 0; a process killed (-9) makes the other stop at once with one error
line, and the restart resumes exactly; a process that hangs (SIGSTOP) is noticed within --peer_timeout;
processes that do not share the workdir stop with one line."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import ROOT

ARGS = ["--config=configs/vae_digits.py", "--config.train.batch_size=16", "--config.train.log_every=2",
        "--config.train.checkpoint_every=4", "--config.train.sample_every=4", "--config.train.eval_every=4",
        "--config.data.image_size=8", "--config.model.encoder_features=(4,)", "--config.model.decoder_features=(4,)"]
TIMEOUT = 600  # generous: a loaded 2-core machine needs minutes per start; an idle one ~20 s
PEER_TIMEOUT = 5  # --peer_timeout of the runs that lose a process (seconds)

# train.py, with an optional fault: the process sends itself signal SIG while fetching the batch of step STEP.
WRAPPER = """
import os, sys
sys.argv[0] = "train.py"
inject = os.environ.get("JAXGEN_TEST_SIGNAL_AT")
if inject:
  sys.path.insert(0, "tests")
  from signal_injection import pipeline_signalling_at
  from jaxgen import data as data_lib
  step, sig = map(int, inject.split(":"))
  data_lib.make_pipeline = pipeline_signalling_at(data_lib.make_pipeline, step, sig,
                                                  os.environ.get("JAXGEN_TEST_SIGNAL_STAMP"))
__file__ = os.path.abspath("train.py")       # as when python runs train.py itself
exec(compile(open("train.py").read(), "train.py", "exec"))
"""


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def env(devices, **extra):
  return {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
          "PYTHONPATH": ROOT, **extra}


def launch(workdirs, steps, inject=None, extra_env=None, stopped=(), stamp=None):
  """Runs train.py as len(workdirs) processes (process i on workdirs[i]); returns their (returncode, stdout,
  stderr, wall-clock time of the exit). inject: {process: "STEP:SIGNUM"}, and the injected processes write the
  time of the signal to `stamp`. Processes in `stopped` (sent SIGSTOP) are killed once the others have exited."""
  port, n, procs = free_port(), len(workdirs), []
  for i, workdir in enumerate(workdirs):
    flags = [f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={n}", f"--process_id={i}"] if n > 1 else []
    e = env(1 if n > 1 else 2, **(extra_env or {}))
    if inject and i in inject:
      e["JAXGEN_TEST_SIGNAL_AT"] = inject[i]
      e["JAXGEN_TEST_SIGNAL_STAMP"] = stamp or ""
    procs.append(subprocess.Popen([sys.executable, "-c", WRAPPER, f"--workdir={workdir}", *ARGS,
                                   f"--config.train.num_steps={steps}", *flags], cwd=ROOT, env=e,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  results = [None] * n

  def wait(i):
    try:
      out, err = procs[i].communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
      procs[i].kill()
      out, err = procs[i].communicate()
    results[i] = (procs[i].returncode, out, err, time.time())
  threads = [threading.Thread(target=wait, args=(i,)) for i in range(n)]
  try:
    for t in threads:
      t.start()
    for i, t in enumerate(threads):
      if i not in stopped:
        t.join()
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
    for t in threads:
      t.join()
  return results


def error_lines(err):
  return [l for l in err.strip().splitlines() if l.strip()]


def sample_grid(workdir, step):
  from PIL import Image
  return np.asarray(Image.open(f"{workdir}/samples/step_{step:06d}.png"), np.int32)


def metrics(workdir):
  return [{k: v for k, v in json.loads(l).items() if k != "steps_per_sec"} for l in open(f"{workdir}/metrics.jsonl")]


def final_state(workdir):
  import jax
  import jaxgen
  run = jaxgen.load(workdir)
  return run.step, [np.asarray(x) for x in jax.tree.leaves(run.state)]


def assert_same_run(a, b):
  """Metrics and State of two runs: identical up to float32 rounding of the cross-device reductions."""
  ma, mb = metrics(a), metrics(b)
  assert [r["step"] for r in ma] == [r["step"] for r in mb]
  for ra, rb in zip(ma, mb):
    for k in ra:
      np.testing.assert_allclose(ra[k], rb[k], rtol=1e-6, err_msg=k)
  (sa, la), (sb, lb) = final_state(a), final_state(b)
  assert sa == sb
  for x, y in zip(la, lb):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """1 process x 2 devices, 10 steps uninterrupted (evaluation and a sample grid every 4 steps and at 10)."""
  workdir = str(tmp_path_factory.mktemp("mp") / "ref")
  [(rc, out, err, _)] = launch([workdir], 10)
  assert rc == 0, err[-3000:]
  return workdir


def test_sigterm_to_one_process_then_kill_one_then_resume(tmp_path, reference):
  workdir = str(tmp_path / "run")
  # SIGTERM reaches process 1 only, while it fetches the batch of step index 2: both save step 3, exit 0.
  results = launch([workdir, workdir], 10, inject={1: f"2:{int(signal.SIGTERM)}"})
  for rc, out, err, _ in results:
    assert rc == 0, err[-3000:]
  assert "saved checkpoint step 3" in results[0][1], results[0][1]
  # only process 0 prints (gloo's own connection line aside)
  assert [l for l in results[1][1].splitlines() if not l.startswith("[Gloo]")] == []
  steps = sorted(int(s) for s in os.listdir(f"{workdir}/checkpoints") if s.isdigit())
  assert steps == [3]
  # Resumed, process 1 is killed (-9) while it fetches the batch of step index 7 (step 4 was evaluated,
  # sampled and saved): process 0 stops at once with one error line, exit 1, and frees the workdir lock.
  stamp = str(tmp_path / "killed_at")
  results = launch([workdir, workdir], 10, inject={1: f"7:{int(signal.SIGKILL)}"}, stamp=stamp,
                   extra_env={"JAXGEN_PEER_TIMEOUT": str(PEER_TIMEOUT)})
  (rc0, _, err0, t0), (rc1, _, _, _) = results
  assert rc1 == -signal.SIGKILL
  assert rc0 == 1 and len(error_lines(err0)) == 1 and err0.startswith("error:"), err0[-3000:]
  assert "another process stopped" in err0 and "resumes from the last checkpoint (step 4 in" in err0, err0
  print(f"kill -9 of process 1 -> error line of process 0 after {t0 - float(open(stamp).read()):.2f} s")
  assert t0 - float(open(stamp).read()) < PEER_TIMEOUT + 5
  assert not os.path.exists(f"{workdir}/lock")
  # The next start resumes exactly: same metrics (evaluation included), State and sample grids as 1 process
  # with 2 devices, uninterrupted; the grids were drawn by both processes and written by process 0 only.
  results = launch([workdir, workdir], 10)
  for rc, out, err, _ in results:
    assert rc == 0, err[-3000:]
  assert_same_run(reference, workdir)
  assert any("eval_loss" in r for r in metrics(workdir))
  assert sorted(os.listdir(f"{workdir}/samples")) == sorted(os.listdir(f"{reference}/samples"))
  for step in (4, 8, 10):
    assert np.abs(sample_grid(workdir, step) - sample_grid(reference, step)).max() <= 1, step


def test_a_process_that_stops_responding_ends_the_others_within_the_timeout(tmp_path):
  # Process 1 stops (SIGSTOP) while it fetches the batch of step index 2: its sockets stay open, so process 0
  # waits in the step's collective until the peer monitor sees no sign of life for --peer_timeout seconds.
  workdir, stamp = str(tmp_path / "run"), str(tmp_path / "stopped_at")
  results = launch([workdir, workdir], 10, inject={1: f"2:{int(signal.SIGSTOP)}"}, stopped=(1,), stamp=stamp,
                   extra_env={"JAXGEN_PEER_TIMEOUT": str(PEER_TIMEOUT)})
  rc0, _, err0, t0 = results[0]
  assert rc0 == 1 and len(error_lines(err0)) == 1 and err0.startswith("error:"), err0[-3000:]
  assert "process 1 of 2 stopped responding" in err0 and f"no sign of life for {PEER_TIMEOUT} s" in err0, err0
  waited = t0 - float(open(stamp).read())
  print(f"SIGSTOP of process 1 -> error line of process 0 after {waited:.2f} s")
  # The monitor counts from the last heartbeat it saw, and process 1's last heartbeat may precede its stop by up
  # to one heartbeat interval (PEER_TIMEOUT / 5 = 1 s here) plus the heartbeat call's own time on a loaded
  # machine (0.5 s allowed): so the error comes between ~3.5 s and 5 s + slack, never at once.
  interval = PEER_TIMEOUT / 5
  assert PEER_TIMEOUT - interval - 0.5 <= waited < PEER_TIMEOUT + 10


def test_workdirs_that_are_not_shared_stop_with_one_line(tmp_path):
  results = launch([str(tmp_path / "a"), str(tmp_path / "b")], 4, extra_env={"JAXGEN_SHARED_WORKDIR_TIMEOUT": "3"})
  for rc, out, err, _ in results:
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error:"), err[-3000:]
  assert "process 1 cannot see" in results[0][2] and "shared by all processes" in results[0][2]


def test_missing_distributed_settings_are_one_line(tmp_path):
  out = subprocess.run([sys.executable, "train.py", f"--workdir={tmp_path}/w", *ARGS, "--num_processes=2"],
                       cwd=ROOT, env={**env(1), "JAX_COORDINATOR_ADDRESS": ""}, capture_output=True, text=True,
                       timeout=TIMEOUT)
  lines = [l for l in out.stderr.strip().splitlines() if l.strip()]
  assert out.returncode == 2 and len(lines) == 1, out.stderr[-3000:]
  assert "--coordinator_address=HOST:PORT" in lines[0] and "cannot start the multi-process run" in lines[0]


def run_tool(argv, n):
  """Runs a tool (argv after the interpreter) as n processes (n x 1 device, or 1 x 2 devices when n == 1)."""
  port, procs = free_port(), []
  for i in range(n):
    flags = [f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={n}", f"--process_id={i}"] if n > 1 else []
    procs.append(subprocess.Popen([sys.executable, *argv, *flags], cwd=ROOT, env=env(1 if n > 1 else 2),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  try:
    outputs = [p.communicate(timeout=TIMEOUT) for p in procs]
    return [(p.returncode, *o) for p, o in zip(procs, outputs)]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait()


def test_sample_py_on_two_processes_writes_what_one_process_writes(tmp_path, reference):
  # Both processes sample from the replicated State; process 0 alone writes --out and prints. One process is
  # this one (what `sample.py --num=8 --seed=0` computes: sample_outputs_batched of PRNGKey(0)).
  import jax
  import jaxgen
  two = str(tmp_path / "two.npz")
  results = run_tool(["sample.py", f"--workdir={reference}", "--num=8", f"--out={two}"], 2)
  for rc, out, err in results:
    assert rc == 0, err[-3000:]
  assert "wrote" in results[0][1] and "wrote" not in results[1][1]
  one = np.asarray(jaxgen.load(reference).sample_outputs_batched(jax.random.PRNGKey(0), 8)["samples"], np.float32)
  print(f"sample.py 2 processes vs 1: max |diff| {np.abs(np.load(two)['samples'] - one).max():.3g}")
  np.testing.assert_allclose(np.load(two)["samples"], one, rtol=1e-5, atol=1e-6)


def test_sample_and_evaluate_distributed_flag_mistakes_are_one_line(tmp_path):
  # The tools share train.py's flags and start-up code (jaxgen.cli): one line, exit 2, before any work.
  out = subprocess.run([sys.executable, "sample.py", f"--workdir={tmp_path}", "--num_processes=2"], cwd=ROOT,
                       env={**env(1), "JAX_COORDINATOR_ADDRESS": ""}, capture_output=True, text=True, timeout=TIMEOUT)
  lines = error_lines(out.stderr)
  assert out.returncode == 2 and len(lines) == 1, out.stderr[-3000:]
  assert "--coordinator_address=HOST:PORT" in lines[0] and "cannot start the multi-process run" in lines[0]
  out = subprocess.run([sys.executable, "-m", "jaxgen.evaluate", f"--workdir={tmp_path}", "--peer_timeout=0",
                        "--num_processes=1"], cwd=ROOT, env=env(1), capture_output=True, text=True, timeout=TIMEOUT)
  lines = error_lines(out.stderr)
  assert out.returncode == 2 and lines == ["error: --peer_timeout=0 must be a positive number of seconds."], out.stderr
