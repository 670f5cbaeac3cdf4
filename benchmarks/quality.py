"""Sample quality of the default configs in one table and one JSON, with the wall time each takes to train.

  python benchmarks/quality.py --root=runs/quality --train                # train missing runs, then evaluate all
  python benchmarks/quality.py --root=runs/quality --reuse                # evaluate the runs already in --root
  python benchmarks/quality.py --workdirs=ddm_digits=runs/ddm_digits,wgan_gp_toy2d=runs/wgan
  python benchmarks/quality.py --configs=wgan_gp_toy2d,ddm_digits --root=runs/quality --train --merge
  python benchmarks/quality.py --configs=real --root=runs/quality --train --merge    # the real-data defaults
  python benchmarks/quality.py --markdown                                 # the README's short table of the JSON
  python benchmarks/quality.py --markdown=full                            # every metric (docs/results.md)
  python benchmarks/quality.py --markdown=real                            # the README's real-data table

Per config (QUALITY_CONFIGS), `python -m jaxgen.evaluate`'s metrics of its workdir (jaxgen.evaluate.evaluate):
  toy2d       modes covered / high-quality fraction (within 3 std) / reverse KL of 2,500 samples
  digits,     jaxgen's classifier for the set: confidence (max prob > 0.9), label entropy, label accuracy of
  MNIST,      conditional models, the classifier Fréchet distance "fd" and k-NN precision/recall of 1,000 samples,
  Fashion     each beside its real floor ("*_real": as many real training images scored the same way)
  VAE         ELBO and IWAE (K = 100) bound on the test split, nats per image
  toy EBM     test NLL of the grid-normalised density exp(-E)/Z and KL(p_true || p_model) (ebm.density_report)
Training (`--train`) runs `python train.py --config=configs/NAME.py --workdir=ROOT/NAME` in a child process and
records its wall time in ROOT/NAME/quality_train.json, which later `--reuse` runs read back. For workdirs trained
some other way the time is estimated from metrics.jsonl (steps / mean logged steps_per_sec; marked "estimated").
Wall times depend on the machine and its load: the JSON records the load average before and after every run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (ROOT, os.path.dirname(os.path.abspath(__file__))):
  if p not in sys.path:
    sys.path.insert(0, p)

from throughput import load_config_file, machine_info  # noqa: E402  (benchmarks/throughput.py)

EMBEDDED_CONFIGS = ("wgan_gp_toy2d", "dcgan_toy2d", "ddm_toy2d", "ebm_toy2d",
                    "ddm_digits", "cgan_digits", "wgan_gp_digits", "ebm_digits", "stylegan_digits", "vae_digits")
# One real-data default per family (MNIST / Fashion-MNIST, prepared with `python -m jaxgen.prepare NAME --from=DIR`).
REAL_CONFIGS = ("ddm_mnist", "ebm_mnist_short", "wgan_gp_fashion_mnist", "cgan_mnist", "stylegan_mnist")
QUALITY_CONFIGS = EMBEDDED_CONFIGS + REAL_CONFIGS
TRAIN_RECORD = "quality_train.json"


def train(name: str, workdir: str, timeout: int) -> dict:
  """Trains configs/<name>.py from scratch into `workdir` in a child process; returns the timing record."""
  if os.path.exists(os.path.join(workdir, "checkpoints")):
    raise SystemExit(f"error: {workdir} already holds checkpoints; use --reuse, or an empty --root")
  cmd = [sys.executable, os.path.join(ROOT, "train.py"), f"--config={os.path.join(ROOT, 'configs', name + '.py')}",
         f"--workdir={workdir}"]
  os.makedirs(workdir, exist_ok=True)
  load_before = list(os.getloadavg())
  t0 = time.time()
  with open(os.path.join(workdir, "train.log"), "w") as log:
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": ROOT})
  rec = {"train_seconds": round(time.time() - t0, 1), "how": "measured", "returncode": proc.returncode,
         "load_average_before": load_before, "load_average_after": list(os.getloadavg()),
         "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
  with open(os.path.join(workdir, TRAIN_RECORD), "w") as f:
    json.dump(rec, f, indent=2)
  if proc.returncode != 0:
    raise RuntimeError(f"training {name} failed (exit {proc.returncode}); see {workdir}/train.log")
  return rec


def train_record(workdir: str) -> dict:
  """The measured record of `train`, else an estimate from metrics.jsonl, else {}."""
  path = os.path.join(workdir, TRAIN_RECORD)
  if os.path.isfile(path):
    with open(path) as f:
      return json.load(f)
  rates, last = [], 0
  try:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      for line in f:
        row = json.loads(line)
        if row.get("steps_per_sec"):
          rates.append(float(row["steps_per_sec"]))
          last = max(last, int(row.get("step", 0)))
  except (OSError, ValueError):
    return {}
  if not rates:
    return {}
  return {"train_seconds": round(last / (sum(rates) / len(rates)), 1), "how": "estimated (metrics.jsonl)"}


def evaluate_workdir(name: str, workdir: str, seed: int = 0) -> dict:
  """jaxgen.evaluate's metrics of `workdir` (+ the density report of a toy EBM) and its training time."""
  import jaxgen
  from jaxgen import evaluate
  run = jaxgen.load(workdir)
  t0 = time.time()
  rec = evaluate.evaluate(run, seed=seed)
  if run.config.family == "ebm" and run.config.data.name.startswith("toy2d/"):
    rec["metrics"].update({f"density_{k}": v for k, v in run.family.density_report(run.state).items()})
  rec.update({"config": name, "num_steps": int(run.config.train.num_steps), "eval_seconds": round(time.time() - t0, 1),
              "train": train_record(workdir), "load_average_after": list(os.getloadavg())})
  return rec


COLUMNS = (  # (header, metric key, format)
    ("modes", "modes_covered", "{:.0f}"), ("HQ %", "high_quality_fraction", "pct"),
    ("conf %", "confidence", "pct"), ("conf real %", "confidence_real", "pct"), ("entropy", "label_entropy", "{:.3f}"),
    ("entropy / max", "label_entropy_fraction", "{:.3f}"),
    ("FD", "fd", "{:.1f}"), ("FD real", "fd_real", "{:.1f}"), ("precision", "precision", "{:.3f}"),
    ("precision real", "precision_real", "{:.3f}"), ("recall", "recall", "{:.3f}"),
    ("recall real", "recall_real", "{:.3f}"), ("label acc %", "label_accuracy", "pct"),
    ("ELBO", "elbo", "{:.2f}"), ("IWAE", "iwae_k100", "{:.2f}"), ("NLL", "density_nll", "{:.3f}"),
    ("FID", "inception_fid", "{:.2f}"), ("KID", "inception_kid", "{:.4f}"),
)


def _fmt(v, spec):
  if v is None:
    return ""
  return f"{100 * v:.1f}" if spec == "pct" else spec.format(v)


def key_metric(m: dict) -> str:
  """The one-cell summary of a config's metrics for the README's short table."""
  if "modes_covered" in m:
    hq = 100 * m["high_quality_fraction"]
    return f"{m['modes_covered']:.0f}/{m.get('num_modes', 0):.0f} modes, {hq:.1f} % within 3 std"
  if "elbo" in m:
    return f"ELBO {m['elbo']:.1f}, IWAE-100 {m['iwae_k100']:.1f} nats"
  if "confidence" in m:
    out = f"{100 * m['confidence']:.1f} % confident, FD {m['fd']:.1f} (real {m['fd_real']:.1f})"
    if m.get("precision") is not None:
      out += f", precision {m['precision']:.2f}, recall {m['recall']:.2f}"
    if "label_entropy" in m and "max_label_entropy" in m:
      out += f", entropy {m['label_entropy'] / m['max_label_entropy']:.3f} of max"
    return out + (f", label accuracy {100 * m['label_accuracy']:.1f} %" if "label_accuracy" in m else "")
  return ""


def short_table(results: list[dict]) -> str:
  """One row per config: steps, training minutes and the key metric (the README's table)."""
  lines = ["| config | steps | train (min) | key metric |", "|---|---|---|---|"]
  for r in results:
    if "error" in r:
      lines.append(f"| {r['config']} | | | error: {r['error']} |")
      continue
    t = r.get("train", {}).get("train_seconds")
    tmin = "" if t is None else f"{t / 60:.1f}" + ("*" if "estimated" in r["train"].get("how", "") else "")
    lines.append(f"| {r['config']} | {r['num_steps']} | {tmin} | {key_metric(r['metrics'])} |")
  return "\n".join(lines)


def markdown_table(results: list[dict]) -> str:
  """One row per config, only the columns some config has; "load" = 1-min load average when training began / ended
  (2 cores: 2 is a full machine), "*" on a time = estimated from the logged steps/s."""
  for r in results:
    m = r.get("metrics", {})
    if "label_entropy" in m and m.get("max_label_entropy"):
      m["label_entropy_fraction"] = m["label_entropy"] / m["max_label_entropy"]
  cols = [c for c in COLUMNS if any(c[1] in r.get("metrics", {}) for r in results)]
  head = ["config", "steps", "train (min)", "load"] + [c[0] for c in cols]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in results:
    if "error" in r:
      lines.append(f"| {r['config']} | | | | error: {r['error']} |")
      continue
    t = r.get("train", {}).get("train_seconds")
    tmin = "" if t is None else f"{t / 60:.1f}" + ("*" if "estimated" in r["train"].get("how", "") else "")
    before, after = r.get("train", {}).get("load_average_before"), r.get("train", {}).get("load_average_after")
    load = "" if not before else f"{before[0]:.1f}" + (f" / {after[0]:.1f}" if after else "")
    m = r["metrics"]
    row = [r["config"], str(r["num_steps"]), tmin, load]
    lines.append("| " + " | ".join(row + [_fmt(m.get(k), s) for _, k, s in cols]) + " |")
  return "\n".join(lines)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--configs", default=",".join(QUALITY_CONFIGS), help="Comma-separated config names, or real / embedded.")
  p.add_argument("--root", default="runs/quality", help="Workdirs live in ROOT/<config>.")
  p.add_argument("--train", action="store_true", help="Train configs whose workdir has no checkpoint yet.")
  p.add_argument("--reuse", action="store_true", help="Evaluate existing workdirs only, skipping missing ones (the default without --train).")
  p.add_argument("--workdirs", default="", help="name=path,... : evaluate these workdirs (implies --reuse).")
  p.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "results", "quality_cpu.json"))
  p.add_argument("--merge", action="store_true", help="Keep the JSON's other configs; replace only these.")
  p.add_argument("--markdown", nargs="?", const="short", choices=("short", "full", "real"),
                 help="Only print the table of the existing --json: short (the README's), full (every metric) or "
                      "real (every metric of the real-data defaults, the README's second table).")
  p.add_argument("--timeout", type=int, default=7200, help="Seconds allowed per training run.")
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args(argv)

  old = {}
  if (args.merge or args.markdown) and os.path.isfile(args.json):
    with open(args.json) as f:
      old = json.load(f)
  if args.markdown:
    rows = old.get("results", [])
    if args.markdown == "real":
      rows = [r for r in rows if r["config"] in REAL_CONFIGS]
    print((short_table if args.markdown == "short" else markdown_table)(rows))
    return 0
  if args.workdirs:
    dirs = dict(item.split("=", 1) for item in args.workdirs.split(",") if item)
  else:
    names = {"real": ",".join(REAL_CONFIGS), "embedded": ",".join(EMBEDDED_CONFIGS)}.get(args.configs, args.configs)
    dirs = {n: os.path.join(args.root, n) for n in names.split(",") if n}
  for name in dirs:
    load_config_file(name)                          # fail early on a misspelt config name
  results = []
  for name, workdir in dirs.items():
    has_run = os.path.isdir(os.path.join(workdir, "checkpoints")) and os.listdir(os.path.join(workdir, "checkpoints"))
    if not has_run:
      if not args.train or args.workdirs:
        print(f"skip {name}: no checkpoint in {workdir} (use --train)", flush=True)
        continue
      print(f"train {name} -> {workdir}", flush=True)
      train(name, workdir, args.timeout)
    print(f"evaluate {name} ({workdir})", flush=True)
    try:
      results.append(evaluate_workdir(name, workdir, args.seed))
    except Exception as e:  # one broken run must not lose the others' numbers
      results.append({"config": name, "workdir": os.path.abspath(workdir), "error": f"{type(e).__name__}: {e}"})
  if args.merge:
    names = {r["config"] for r in results}
    results = [r for r in old.get("results", []) if r["config"] not in names] + results
  order = {n: i for i, n in enumerate(QUALITY_CONFIGS)}
  results.sort(key=lambda r: order.get(r["config"], len(order)))
  report = {"machine": machine_info(), "results": results, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(report, f, indent=2)
  print(markdown_table(results))
  print(f"wrote {args.json}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
