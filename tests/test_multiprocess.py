"""train.py as 2 processes on 127.0.0.1 (1 CPU device each, gloo collectives) against 1 process with 2 devices:
same metrics and State; a SIGTERM to one process makes both save the same step and exit 0; both killed (-9)
and resumed gives the uninterrupted result; processes that do not share the workdir stop with one line."""
import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

ARGS = ["--config=configs/vae_digits.py", "--config.train.batch_size=16", "--config.train.log_every=2",
        "--config.train.checkpoint_every=4", "--config.train.sample_every=0", "--config.train.eval_every=0",
        "--config.data.image_size=8", "--config.model.encoder_features=(4,)", "--config.model.decoder_features=(4,)"]
TIMEOUT = 240

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
  data_lib.make_pipeline = pipeline_signalling_at(data_lib.make_pipeline, step, sig)
exec(compile(open("train.py").read(), "train.py", "exec"))
"""


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def env(devices, **extra):
  return {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
          "PYTHONPATH": ROOT, **extra}


def launch(workdirs, steps, inject=None, extra_env=None):
  """Runs train.py as len(workdirs) processes (process i on workdirs[i]); returns their CompletedProcess-like
  (returncode, stdout, stderr). inject: {process: "STEP:SIGNUM"}."""
  port, n, procs = free_port(), len(workdirs), []
  for i, workdir in enumerate(workdirs):
    flags = [f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={n}", f"--process_id={i}"] if n > 1 else []
    e = env(1 if n > 1 else 2, **(extra_env or {}))
    if inject and i in inject:
      e["JAXGEN_TEST_SIGNAL_AT"] = inject[i]
    procs.append(subprocess.Popen([sys.executable, "-c", WRAPPER, f"--workdir={workdir}", *ARGS,
                                   f"--config.train.num_steps={steps}", *flags], cwd=ROOT, env=e,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  results = []
  try:
    for p in procs:
      out, err = p.communicate(timeout=TIMEOUT)
      results.append((p.returncode, out, err))
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait()
  return results


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
  """1 process x 2 devices, 10 steps uninterrupted."""
  workdir = str(tmp_path_factory.mktemp("mp") / "ref")
  [(rc, out, err)] = launch([workdir], 10)
  assert rc == 0, err[-3000:]
  return workdir


def test_sigterm_to_one_process_then_kill_both_then_resume(tmp_path, reference):
  workdir = str(tmp_path / "run")
  # SIGTERM reaches process 1 only, while it fetches the batch of step index 2: both save step 3, exit 0.
  results = launch([workdir, workdir], 10, inject={1: f"2:{int(signal.SIGTERM)}"})
  for rc, out, err in results:
    assert rc == 0, err[-3000:]
  assert "saved checkpoint step 3" in results[0][1], results[0][1]
  assert results[1][1] == ""  # only process 0 prints
  steps = sorted(int(s) for s in os.listdir(f"{workdir}/checkpoints") if s.isdigit())
  assert steps == [3]
  # Resumed, both processes are killed (-9) after step 7; the checkpoint of step 4 (or 3) remains.
  results = launch([workdir, workdir], 10, inject={0: f"7:{int(signal.SIGKILL)}", 1: f"7:{int(signal.SIGKILL)}"})
  assert [rc for rc, _, _ in results] == [-signal.SIGKILL] * 2
  # The next start resumes exactly: same metrics and State as 1 process with 2 devices, uninterrupted.
  results = launch([workdir, workdir], 10)
  for rc, out, err in results:
    assert rc == 0, err[-3000:]
  assert_same_run(reference, workdir)


def test_workdirs_that_are_not_shared_stop_with_one_line(tmp_path):
  results = launch([str(tmp_path / "a"), str(tmp_path / "b")], 4, extra_env={"JAXGEN_SHARED_WORKDIR_TIMEOUT": "3"})
  for rc, out, err in results:
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
