"""Quality versus steps: every diffusion sampler scored at every budget of network evaluations (NFE).

  python -m jaxgen.evaluate --workdir=runs/ddm_mnist --nfe=5,10,20,50,100 [--num=1000] [--seed=0]

For each sampler of `jaxgen.samplers.solvers.SAMPLERS` and each budget B, the sampler runs with the most steps
whose NFE is within B (`steps_for_nfe`: B steps, Heun (B + 1) // 2 steps = B or B - 1 evaluations) and the
run's offline metrics are computed by the `score` function the caller passes (jaxgen.evaluate's `evaluate`) with
the same seed every time, so every sampler and budget starts from the same initial noises (only DDPM adds its own
per-step noise). The result is a JSON-ready dict and a PNG: the main metric against the actual NFE, one line per
sampler. With classifier-free guidance (sample.guidance > 0) every evaluation is one network pass over twice the
batch; the JSON records the guidance.
"""
from __future__ import annotations

import json
import os
import time
from typing import Callable, Sequence

from jaxgen.errors import check, positive_ints
from jaxgen.samplers import solvers

# The metric drawn: the first of these the scores contain (classifier-feature FD, Inception FID, toy 2-D energy).
CURVE_METRICS = ("fd", "inception_fid", "energy_distance", "mmd_rbf")
METRIC_LABELS = {"fd": "FD in the classifier's features", "inception_fid": "Inception FID",
                 "energy_distance": "energy distance to the data", "mmd_rbf": "MMD (RBF) to the data"}


def parse_budgets(value) -> tuple[int, ...]:
  """'5,10,20,50,100' (or a sequence of ints) -> (5, 10, 20, 50, 100), sorted without repeats."""
  return tuple(sorted(set(positive_ints("--nfe", value, "5,10,20,50,100"))))


def curve(score: Callable[[dict], dict], budgets: Sequence[int], samplers: Sequence[str] = solvers.SAMPLERS,
          guidance: float = 0.0) -> dict:
  """score({"sampler": name, "steps": k}) for every sampler and budget: a metrics dict, or a dict holding one under
  "metrics" (and the sample count under "num", as jaxgen.evaluate's result). Returns {"budgets", "samplers",
  "metric" (the one to plot), "guidance", "points": [{"sampler", "budget", "steps", "nfe", "seconds", "num",
  "metrics"}, ...]}."""
  points = []
  for sampler in samplers:
    for budget in budgets:
      steps = solvers.steps_for_nfe(sampler, budget)
      start = time.time()
      scored = score({"sampler": sampler, "steps": steps})
      points.append({"sampler": sampler, "budget": int(budget), "steps": steps, "nfe": solvers.nfe(sampler, steps),
                     "seconds": time.time() - start, "num": scored.get("num"),
                     "metrics": scored.get("metrics", scored)})
  names = points[0]["metrics"] if points else {}
  metric = next((m for m in CURVE_METRICS if m in names), next(iter(names), None))
  return {"budgets": [int(b) for b in budgets], "samplers": list(samplers), "metric": metric,
          "guidance": float(guidance), "points": points}


def curve_figure(result: dict, title: str = ""):
  """The metric against NFE (log axis), one line with markers per sampler, labelled axes and a legend."""
  from matplotlib.figure import Figure       # local import: matplotlib only when a figure is drawn
  fig = Figure(figsize=(6.0, 4.5), dpi=100, layout="constrained")
  ax = fig.add_subplot()
  metric = result["metric"]
  for sampler in result["samplers"]:
    pts = [p for p in result["points"] if p["sampler"] == sampler and p["metrics"].get(metric) is not None]
    ax.plot([p["nfe"] for p in pts], [p["metrics"][metric] for p in pts], marker="o", label=sampler)
  ax.set_xscale("log")
  ax.set_xticks(result["budgets"], [str(b) for b in result["budgets"]])
  ax.minorticks_off()
  ax.set_xlabel("network evaluations per sample (NFE)")
  ax.set_ylabel(METRIC_LABELS.get(metric, metric or "metric"))
  ax.set_title(title, fontsize=9)
  ax.grid(alpha=0.3)
  ax.legend(title="sampler")
  return fig


def write(result: dict, json_path: str, png_path: str, title: str = "") -> None:
  """The JSON and the PNG of a `curve` result."""
  for path in (json_path, png_path):
    if os.path.dirname(path):
      os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(json_path, "w") as f:
    json.dump(result, f, indent=2)
  curve_figure(result, title).savefig(png_path)


def format_table(result: dict) -> str:
  """One row per sampler, one column per budget: the metric (and the actual NFE where it is below the budget)."""
  metric = result["metric"]
  rows = [[f"{metric} at NFE"] + [str(b) for b in result["budgets"]]]
  for sampler in result["samplers"]:
    row = [sampler]
    for p in (p for p in result["points"] if p["sampler"] == sampler):
      value = p["metrics"].get(metric)
      cell = "n/a" if value is None else f"{value:.4g}"
      row.append(cell + (f" ({p['nfe']})" if p["nfe"] != p["budget"] else ""))
    rows.append(row)
  widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
  return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def run_curve(run, budgets, score: Callable[[dict], dict], json_path: str | None = None, lead: bool = True) -> dict:
  """`curve` of a diffusion run (a `jaxgen.load` Run): prints the table and, on the lead process, writes the
  JSON (json_path, default <workdir>/quality_vs_nfe.json) and the PNG beside it."""
  check(run.config.family == "diffusion", f"--nfe scores diffusion samplers; workdir {run.workdir!r} holds a "
        f"{run.config.family!r} run.")
  budgets = parse_budgets(budgets)
  result = curve(score, budgets, guidance=float(run.config.sample.get("guidance", 0.0) or 0.0))
  result.update(workdir=os.path.abspath(run.workdir), step=int(run.step), dataset=run.config.data.name)
  if not lead:
    return result
  json_path = json_path or os.path.join(run.workdir, "quality_vs_nfe.json")
  png_path = os.path.splitext(json_path)[0] + ".png"
  num = result["points"][0]["num"] if result["points"] else None
  title = (f"{os.path.basename(os.path.normpath(run.workdir))} (step {run.step}) on {run.config.data.name}"
           + (f", {num:,} samples per point" if num else "") + (f", guidance {result['guidance']:g}"
                                                                 if result["guidance"] else ""))
  print(format_table(result))
  write(result, json_path, png_path, title)
  print(f"wrote {json_path} and {png_path}")
  return result
