"""The reference VAE on Fashion-MNIST in Keras and in jaxgen, one after the other in one run, same data and settings.

  python benchmarks/vae_keras.py --from=/work/shared/data/fashion_mnist \\
      --keras_python=/work/keras-venv/bin/python --epochs=5
  ... --limit=2000 --epochs=1     # smoke run (Keras: the first 2,000 training images; jaxgen: 20 steps an epoch)

Keras: benchmarks/keras_vae_model.py (the notebook's model, `fit`, batch 100) run by --keras_python on the IDX
.gz files in --from. jaxgen: `train.py --config=configs/vae_fashion_mnist.py` on tfds/fashion_mnist (the TFDS
default data dir), logging once an epoch, without evaluation or sample grids during training and with the
persistent compilation cache off, then `eval_step` over the test images. With --limit jaxgen cannot take a
subset of the TFDS set: it trains limit/100 steps an epoch drawn from all 60,000 images.

Printed and written to --json, per side: per epoch the wall seconds of the training pass (Keras: on_epoch_begin
to on_epoch_end; jaxgen: between the progress lines at epoch ends, epoch 1 from the loop's start; the first
epoch includes tracing/compilation on both sides) and the epoch means of the per-step total loss,
reconstruction loss (500 · pixel-mean BCE, β included, the notebook's reconstruction_loss) and KL, i.e. what
Keras' fit reports at an epoch's end; the same three averaged over the test images (one z sample each); both
sides' loss formulas on the same fixed arrays (the loss probe); fingerprints of the images each side trained on;
parameter counts, versions, nproc and the load average before and after each side.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KERAS_SCRIPT = os.path.join(HERE, "keras_vae_model.py")
CONFIG = os.path.join(ROOT, "configs", "vae_fashion_mnist.py")
DEFAULT_JSON = os.path.join(HERE, "results", "vae_fashion_mnist_keras_vs_jaxgen.json")
BATCH_SIZE = 100
TRAIN_IMAGES = 60_000
LOSS_KEYS = ("total_loss", "reconstruction_loss", "kl_loss")       # the notebook's names
JAXGEN_KEYS = {"total_loss": "loss", "reconstruction_loss": "reconstruction", "kl_loss": "kl"}
START_MARK = "compiling the train step"                               # jaxgen's line just before the loop
STEP_LINE = re.compile(r"^step (\d+)/(\d+) ")


def keras_model_module():
  """benchmarks/keras_vae_model.py as a module (its top level needs only NumPy)."""
  spec = importlib.util.spec_from_file_location("keras_vae_model", KERAS_SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


# --- pure helpers ---------------------------------------------------------------------------------------------


def steps_per_epoch(limit: int) -> int:
  """Steps of batch 100 in an epoch: 600 for all 60,000 images, limit // 100 with --limit."""
  n = limit or TRAIN_IMAGES
  if n % BATCH_SIZE:
    raise SystemExit(f"--limit={limit} must be a multiple of {BATCH_SIZE} (whole batches on both sides).")
  return n // BATCH_SIZE


def epoch_means(metric_lines, spe: int, epochs: int) -> list[dict]:
  """jaxgen's metrics.jsonl records (logged every `spe` steps) -> per epoch the means of the notebook's keys."""
  by_step = {}
  for line in metric_lines:
    rec = json.loads(line) if isinstance(line, str) else line
    if "loss" in rec:
      by_step[int(rec["step"])] = rec
  out = []
  for e in range(1, epochs + 1):
    rec = by_step[e * spe]
    out.append({"epoch": e, **{k: float(rec[j]) for k, j in JAXGEN_KEYS.items()},
                "steps_per_sec_logged": float(rec.get("steps_per_sec", float("nan")))})
  return out


def epoch_walls(timed_lines, spe: int, epochs: int) -> list[float]:
  """[(time, stdout line)] of train.py -> wall seconds of each epoch: between the lines of steps e·spe, epoch 1
  from the line announcing the loop."""
  start, at = None, {}
  for t, line in timed_lines:
    if start is None and START_MARK in line:
      start = t
    m = STEP_LINE.match(line.strip())
    if m:
      at[int(m.group(1))] = t
  if start is None:
    raise ValueError(f"no {START_MARK!r} line in train.py's output")
  marks = [start] + [at[e * spe] for e in range(1, epochs + 1)]
  return [b - a for a, b in zip(marks, marks[1:])]


def rel(a: float, b: float) -> float:
  """(a − b) / |b|."""
  return (a - b) / abs(b) if b else float("nan")


def table(report: dict) -> str:
  """The printed comparison."""
  k, j = report["keras"], report["jaxgen"]
  head = (f"{'':8}| {'Keras ' + k['versions']['keras'] + ' (TF ' + k['versions']['tensorflow'] + ')':^44}"
          f"| {'jaxgen (JAX ' + j['versions']['jax'] + ')':^44}| jaxgen/Keras - 1")
  sub = f"{'epoch':8}" + ("| {:>8} {:>11} {:>11} {:>9} ".format("wall s", "total", "recon", "KL")) * 2 + "| total"
  rows = [head, sub, "-" * len(sub)]
  for ek, ej in zip(k["epochs"], j["epochs"]):
    cells = ""
    for e in (ek, ej):
      cells += "| {:8.1f} {:11.4f} {:11.4f} {:9.4f} ".format(e["wall_s"], *(e[x] for x in LOSS_KEYS))
    rows.append(f"{ek['epoch']:<8}{cells}| {100 * rel(ej['total_loss'], ek['total_loss']):+.2f} %")
  cells = ""
  for side in (k, j):
    t = side["test"]
    cells += "| {:8.1f} {:11.4f} {:11.4f} {:9.4f} ".format(t["wall_s"], *(t[x] for x in LOSS_KEYS))
  rows.append(f"{'test':<8}{cells}| {100 * rel(j['test']['total_loss'], k['test']['total_loss']):+.2f} %")
  if len(k["epochs"]) > 1:
    steady = [sum(e["wall_s"] for e in side["epochs"][1:]) / (len(side["epochs"]) - 1) for side in (k, j)]
    rows.append(f"epochs 2-{len(k['epochs'])} mean wall s: Keras {steady[0]:.1f}, jaxgen {steady[1]:.1f} "
                f"(jaxgen/Keras {steady[1] / steady[0]:.2f})")
  rows.append("")
  rows.append(f"process wall s: Keras {k['total_s']:.1f}, jaxgen {j['total_s']:.1f}; "
              f"parameters: Keras {k['params']}, jaxgen {j['params']}")
  p = report["loss_probe"]
  rows.append(f"loss probe (same arrays): Keras {p['keras']['total_loss']:.6f}, jaxgen {p['jaxgen']['total_loss']:.6f} "
              f"(relative difference {p['rel_diff_total']:.2e})")
  d = report["data_check"]
  rows.append(f"same images: train {d['train_same']}, test {d['test_same']}")
  rows.append("load average before/after: Keras {} / {}, jaxgen {} / {}".format(
      k["loadavg_before"], k["loadavg_after"], j["loadavg_before"], j["loadavg_after"]))
  return "\n".join(rows)


# --- the two sides --------------------------------------------------------------------------------------------


def loadavg() -> list[float]:
  return [round(x, 2) for x in os.getloadavg()]


def run_keras(args) -> dict:
  cmd = [args.keras_python, KERAS_SCRIPT, f"--data={args.data}", f"--epochs={args.epochs}",
         f"--limit={args.limit}", f"--seed={args.seed}"]
  print("keras: " + " ".join(cmd), file=sys.stderr, flush=True)
  before = loadavg()
  t0 = time.perf_counter()
  proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)   # stderr (progress) passes through
  wall = time.perf_counter() - t0
  if proc.returncode:
    raise SystemExit(f"the Keras side failed (exit {proc.returncode}): {' '.join(cmd)}")
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  report.update(command=cmd, process_wall_s=wall, loadavg_before=before, loadavg_after=loadavg())
  return report


def run_jaxgen(args, workdir: str) -> dict:
  spe = steps_per_epoch(args.limit)
  total = spe * args.epochs
  cmd = [sys.executable, os.path.join(ROOT, "train.py"), f"--config={CONFIG}", f"--workdir={workdir}",
         f"--config.seed={args.seed}", f"--config.train.num_steps={total}", f"--config.train.log_every={spe}",
         "--config.train.eval_every=0", "--config.train.sample_every=0", f"--config.train.checkpoint_every={total}"]
  env = dict(os.environ)
  if not args.jaxgen_compile_cache:
    env["JAXGEN_COMPILATION_CACHE"] = "off"
  print("jaxgen: " + " ".join(cmd), file=sys.stderr, flush=True)
  before = loadavg()
  t0 = time.perf_counter()
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1, cwd=ROOT, env=env)
  lines = []
  for line in proc.stdout:
    lines.append((time.perf_counter(), line))
    print("  " + line.rstrip(), file=sys.stderr, flush=True)
  proc.wait()
  wall = time.perf_counter() - t0
  after = loadavg()
  if proc.returncode:
    raise SystemExit(f"the jaxgen side failed (exit {proc.returncode}): {' '.join(cmd)}")
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    epochs = epoch_means(f.read().splitlines(), spe, args.epochs)
  for e, w in zip(epochs, epoch_walls(lines, spe, args.epochs)):
    e["wall_s"] = w
  report = {"command": cmd, "epochs": epochs, "total_s": wall, "steps_per_epoch": spe,
            "train_images": TRAIN_IMAGES, "loadavg_before": before, "loadavg_after": after}
  t0 = time.perf_counter()
  report.update(jaxgen_after_training(workdir, args.seed))
  report["eval_process_s"] = time.perf_counter() - t0
  return report


def jaxgen_after_training(workdir: str, seed: int) -> dict:
  """Test-set means of eval_step, the loss probe, the data fingerprints, parameter counts and the config's
  loss and optimizer settings, from the trained workdir."""
  import jax
  import numpy as np

  import jaxgen
  from jaxgen.data.pipeline import Pipeline
  from jaxgen.families import vae

  run = jaxgen.load(workdir)
  c = run.config
  test = Pipeline(c, "test")
  eval_step = jax.jit(run.family.eval_step)
  key = jax.random.fold_in(jax.random.PRNGKey(seed), 12345)
  t0 = time.perf_counter()
  sums, n = {}, 0
  for i in range(test.steps_per_epoch):
    out = eval_step(run.state, test.batch(i), jax.random.fold_in(key, i))
    for k, v in out.items():
      sums[k] = sums.get(k, 0.0) + float(v)
    n += 1
  test_means = {k: sums[j] / n for k, j in JAXGEN_KEYS.items()}
  test_means.update(neg_elbo_nats=sums["neg_elbo"] / n, batches=n, wall_s=time.perf_counter() - t0)

  km = keras_model_module()
  arrays = km.probe_arrays()
  _, probe = vae.vae_loss(*(jax.numpy.asarray(arrays[k]) for k in ("x", "logits", "mean", "logvar")),
                          c.model.recon_loss, float(c.model.recon_weight), c.model.recon_reduction)
  train_x = Pipeline(c, "train").source.get_all()["x"]
  test_x = test.source.get_all()["x"]
  count = lambda tree: int(sum(np.size(x) for x in jax.tree.leaves(tree)))
  return {
      "versions": {k: importlib.metadata.version(k) for k in ("jax", "jaxlib", "flax", "optax", "numpy")},
      "backend": jax.default_backend(),
      "params": {"encoder": count(run.state.params["encoder"]), "decoder": count(run.state.params["decoder"])},
      "settings": {"data": c.data.name, "image_size": c.data.image_size, "pad": c.data.pad,
                   "batch_size": c.train.batch_size, "latent_dim": c.model.latent_dim,
                   "encoder_features": list(c.model.encoder_features),
                   "decoder_features": list(c.model.decoder_features), "recon_loss": c.model.recon_loss,
                   "recon_weight": float(c.model.recon_weight), "recon_reduction": c.model.recon_reduction,
                   "learning_rate": c.optim.learning_rate, "b1": c.optim.b1, "b2": c.optim.b2,
                   "eps": c.optim.eps, "seed": c.seed},
      "test": test_means,
      "probe": {LOSS: float(probe[j]) for LOSS, j in JAXGEN_KEYS.items()},
      "data": {"train": km.data_fingerprint(train_x), "test": km.data_fingerprint(test_x)},
  }


def machine() -> dict:
  cpu = ""
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
  except OSError:
    pass
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
  except OSError:
    commit = ""
  return {"platform": platform.platform(), "cpu_model": cpu, "nproc": os.cpu_count(),
          "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
          "python": platform.python_version(), "commit": commit,
          "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
          "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "XLA_FLAGS", "TF_NUM_INTRAOP_THREADS",
                                                    "TF_NUM_INTEROP_THREADS") if k in os.environ}}


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--from", dest="data", required=True, help="folder of the Fashion-MNIST IDX .gz files (Keras side)")
  p.add_argument("--keras_python", required=True, help="python of the environment with TensorFlow/Keras 3")
  p.add_argument("--epochs", type=int, default=5)
  p.add_argument("--limit", type=int, default=0, help="smoke run: Keras trains on the first N images, jaxgen "
                 "N/100 steps an epoch (0: the full comparison)")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--json", default=DEFAULT_JSON, help=f"where the report goes (default {DEFAULT_JSON})")
  p.add_argument("--workdir", default="", help="jaxgen's workdir (default: a new temporary folder, removed)")
  p.add_argument("--jaxgen_compile_cache", action="store_true", help="keep jaxgen's persistent compilation "
                 "cache on (default off, so both first epochs include compilation)")
  args = p.parse_args(argv)
  steps_per_epoch(args.limit)

  report = {"machine": machine(), "epochs": args.epochs, "limit": args.limit, "batch_size": BATCH_SIZE,
            "reported": "per epoch: wall seconds of the training pass; total_loss, reconstruction_loss "
                        "(500 * pixel-mean BCE, beta included) and kl_loss (summed over the 2 latent dims) as "
                        "means over the epoch's steps (what Keras' fit reports); test: the same three averaged "
                        "over the test batches of 100, one z sample per image"}
  report["keras"] = run_keras(args)
  workdir = args.workdir or tempfile.mkdtemp(prefix="vae_keras_jaxgen_")
  try:
    report["jaxgen"] = run_jaxgen(args, workdir)
  finally:
    if not args.workdir:
      shutil.rmtree(workdir, ignore_errors=True)
  k, j = report["keras"], report["jaxgen"]
  report["loss_probe"] = {"keras": k.pop("probe"), "jaxgen": j.pop("probe")}
  report["loss_probe"]["rel_diff_total"] = rel(report["loss_probe"]["jaxgen"]["total_loss"],
                                               report["loss_probe"]["keras"]["total_loss"])
  report["data_check"] = {
      "keras": k["data"], "jaxgen": j["data"],
      "train_same": k["data"]["train"]["sha1_sorted_sums"] == j["data"]["train"]["sha1_sorted_sums"],
      "test_same": k["data"]["test"]["sha1_sorted_sums"] == j["data"]["test"]["sha1_sorted_sums"]}
  report["final"] = {"train_total_rel_diff": rel(j["epochs"][-1]["total_loss"], k["epochs"][-1]["total_loss"]),
                     "test_total_rel_diff": rel(j["test"]["total_loss"], k["test"]["total_loss"])}
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(report, f, indent=1)
  print(table(report))
  print(f"wrote {args.json}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
