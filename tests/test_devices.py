"""Data parallelism does not change training: the same run on 1 and on 8 (forced host) devices.

One subprocess per device count (the device count is fixed when JAX starts) trains three tiny configs through
`jaxgen.train`, each exercising a different kind of cross-example state:

  dcgan_digits    BatchNorm in generator and discriminator: batch statistics over the global, sharded batch;
  ebm_digits      the replay buffer (a State leaf written with the Langevin chains of the sharded batch);
  wgan_gp_digits  n_critic = 3 critic updates (lax.scan) + the per-example gradient penalty in one step.

The logged metrics and every leaf of the final State must agree. Not bitwise: with 8 devices XLA sums a
reduction (batch means, BN statistics, gradients) as 8 partial sums and an all-reduce, so float32 rounding
differs. Measured (jax 0.10 CPU, 3 steps): at most 3.6e-7 absolute on any State leaf (Adam moments, buffer
pixels, BN statistics, parameters; 13/47, 6/41 and 13/34 leaves bitwise equal) and 1.2e-6 relative on any
logged metric. The tolerances below are ~10x those: rtol 2e-5 on metrics, atol 3e-6 + rtol 1e-5 on the State.
A sharding bug that leaves 1-device runs unchanged (every device reading the first shard of the batch) fails
the metric check.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from conftest import ROOT

STEPS = 3
# Tiny variants (batch 16 = 2 examples per device on 8 devices); names as in configs/.
RUNS = {
    "dcgan_digits": {"data.image_size": 16, "model.g_features": (8, 8), "model.d_features": (8, 8),
                     "model.latent_dim": 4},                    # 16x16: D's second conv has a BatchNorm
    "ebm_digits": {"data.image_size": 16, "model.conv_features": (4, 8, 8, 8), "model.kernel_sizes": (5, 3, 3, 3),
                   "model.dense_features": 8,
                   "model.buffer_size": 64, "model.buffer_init": 16, "model.langevin.steps": 4},
    "wgan_gp_digits": {"data.image_size": 8, "model.g_features": (8,), "model.d_features": (8,),
                       "model.latent_dim": 4, "model.n_critic": 3},
}

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    import jax, numpy as np
    from conftest import load_config
    from jaxgen.runtime import train
    out = sys.argv[1]
    for name, overrides in json.loads(sys.argv[2]).items():
      overrides = {{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}}
      config = load_config(name, **{{"train.num_steps": {steps}, "train.batch_size": 16, "train.log_every": 1,
                                    "train.checkpoint_every": 0, "train.sample_every": 0, "train.eval_every": 0,
                                    **overrides}})
      state = train(config, f"{{out}}/{{name}}", progress=False)
      leaves = jax.tree_util.tree_leaves_with_path(state)
      np.savez(f"{{out}}/{{name}}/state.npz", **{{jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves}})
    print(json.dumps({{"devices": jax.device_count()}}))
""")


def _run(tmp_path, n):
  script = tmp_path / "run.py"
  script.write_text(SCRIPT.format(root=ROOT, tests=os.path.join(ROOT, "tests"), steps=STEPS))
  env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}", "JAX_PLATFORMS": "cpu"}
  out = tmp_path / f"d{n}"
  proc = subprocess.run([sys.executable, str(script), str(out), json.dumps(RUNS)], env=env, capture_output=True,
                        text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert json.loads(proc.stdout.strip().splitlines()[-1])["devices"] == n
  return out


def test_same_training_on_1_and_8_devices(tmp_path):
  one, eight = _run(tmp_path, 1), _run(tmp_path, 8)
  for name in RUNS:
    logs = [[json.loads(l) for l in open(d / name / "metrics.jsonl")] for d in (one, eight)]
    assert [r["step"] for r in logs[0]] == [r["step"] for r in logs[1]] == list(range(1, STEPS + 1)), name
    for a, b in zip(*logs):
      keys = sorted(k for k in a if k not in ("step", "steps_per_sec", "time"))
      assert keys and keys == sorted(k for k in b if k not in ("step", "steps_per_sec", "time")), name
      np.testing.assert_allclose([a[k] for k in keys], [b[k] for k in keys], rtol=2e-5, atol=1e-6,
                                 err_msg=f"{name} step {a['step']} {keys}")
    s1, s8 = np.load(one / name / "state.npz"), np.load(eight / name / "state.npz")
    assert sorted(s1.files) == sorted(s8.files), name
    for k in s1.files:
      np.testing.assert_allclose(s1[k], s8[k], rtol=1e-5, atol=3e-6, err_msg=f"{name} {k}")
    steps = [k for k in s1.files if k.endswith("step")]
    assert steps and all(int(s1[k]) == STEPS for k in steps), (name, steps)
