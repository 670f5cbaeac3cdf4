"""Training and sampling throughput of every registered family, on whatever backend JAX sees.

  python benchmarks/throughput.py                                   # all configs, each in its own process
  python benchmarks/throughput.py --configs=ebm_mnist,dcgan_lego --json=benchmarks/results/mine.json
  python benchmarks/throughput.py --quick                           # smoke run: few steps, small samples
  python benchmarks/throughput.py --dtype=bfloat16                  # model.dtype for every config
  python benchmarks/throughput.py --configs=ddm_flowers --sample_steps=20   # sampler steps per call
  JAX_PLATFORMS=cpu python benchmarks/throughput.py                 # force the CPU

Configs: REFERENCE_CONFIGS below, the notebooks' models at their batch and image size (
families whose module is missing or fails to import are skipped with a note) plus every `configs/*_digits.py`
and `configs/*_toy2d.py` of those families. A new family adds its reference config to REFERENCE_CONFIGS.

Per config, after `init` on a synthetic batch of the right shape and range (uniform in data.range, random labels):
  compile_s      lowering + XLA compilation of the jitted train_step (AOT, `jit(...).lower(...).compile()`)
  first_step_s   the first call of the compiled step (one-time costs that remain)
  flops          per train step: "xla" = XLA's cost analysis of the compiled step (it counts the body of a loop
                 (lax.scan: Langevin steps, n_critic updates) once); "matmul" = 2·MACs of every dot_general and
                 convolution in the step's jaxpr with scan bodies multiplied by their length (what the peak is
                 about); flops_per_s and fraction_of_peak use "matmul"
  peak           CPU: a large float32 (and bfloat16) matmul timed on the same machine in the same run; GPU/TPU:
                 the device's dense peak from PEAK_FLOPS (by device_kind), float32 and bfloat16
  ms_per_step    median (and min/max) over --windows timed windows of --window_steps steps each, after
                 --warmup steps, every window ending in `block_until_ready`; steps/s and examples/s from it
  sampling       `family.sample(state, key, n, **config.sample)` after a warm-up call: median seconds per call,
                 images/s, and for iterative samplers (config.sample.steps) sampler steps/s and image-steps/s
  memory         GPU/TPU: `device.memory_stats()` peak bytes; CPU: peak process RSS (ru_maxrss) of the config's
                 own process (configs run in separate processes unless --noisolate)
The Keras/TF 2.15 CPU medians of docs/reference.md §10 are printed beside the configs they were measured for, with the
speed-up (reference ms / jaxgen ms) when the batch sizes agree. Numbers from a shared machine are noisy: the JSON
records the load average before and after each config.
"""
from __future__ import annotations

import argparse
import glob
import importlib
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

# docs/reference.md §10, TF 2.15 (Keras 2) on the project's 2-vCPU AMD EPYC: (batch, median ms per train step,
# how the notebook runs it) and, where the notebook's "as written" mode is eager, the tf.function variant too.
KERAS_TRAIN_MS = {
    "autoencoder_fashion": {"batch": 100, "ms": 39.5, "mode": "graph (fit)"},
    "vae_fashion": {"batch": 100, "ms": 35.0, "mode": "graph (fit)"},
    "vae_celeba": {"batch": 128, "ms": 193.6, "mode": "graph (fit)"},
    "dcgan_lego": {"batch": 128, "ms": 777.9, "mode": "graph (fit)"},
    "wgan_gp_celeba": {"batch": 512, "ms": 13034.6, "mode": "graph (fit)", "alt_batch": 128, "alt_ms": 3311.9},
    "cgan_celeba": {"batch": 128, "ms": 2991.0, "mode": "eager (as ref.)", "graph_ms": 2019.7},
    "ebm_mnist": {"batch": 128, "ms": 1379.6, "mode": "eager (as ref.)", "graph_ms": 363.1},
    "ddm_flowers": {"batch": 64, "ms": 1395.8, "mode": "graph (fit)"},
}
# Sampling: (images, sampler steps, median ms per call) as the notebook calls it, and the graph variant.
KERAS_SAMPLE_MS = {
    "ebm_mnist": {"images": 128, "steps": 1000, "ms": 19994.9, "mode": "eager (as ref.)", "graph_ms": 5819.7,
                  "per_step_ms": 19.22, "per_step_graph_ms": 5.78},
    "ddm_flowers": {"images": 10, "steps": 20, "ms": 2208.0, "mode": "eager (as ref.)", "graph_ms": 1247.8},
}


# Dense peak FLOP/s per device (vendor data sheets; no sparsity): substring of `device.device_kind` ->
# {dtype: FLOP/s}. "tf32": the tensor-core rate XLA uses for float32 dots/convs on Ampere and later GPUs at the
# default precision, so a float32 step there can exceed the plain "float32" (CUDA core) peak.
PEAK_FLOPS = {
    "H200": {"bfloat16": 989e12, "tf32": 495e12, "float32": 67e12},
    "H100 80GB HBM3": {"bfloat16": 989e12, "tf32": 495e12, "float32": 67e12},   # H100 SXM
    "H100 PCIe": {"bfloat16": 756e12, "tf32": 378e12, "float32": 51e12},
    "A100": {"bfloat16": 312e12, "tf32": 156e12, "float32": 19.5e12},
    "L4": {"bfloat16": 121e12, "tf32": 60e12, "float32": 30.3e12},
    "TPU v4": {"bfloat16": 275e12},
    "TPU v5 lite": {"bfloat16": 197e12},
    "TPU v5p": {"bfloat16": 459e12},
    "TPU v6 lite": {"bfloat16": 918e12},
}


# ------------------------------------------------------------------------------------------- discovery


def load_config_file(name: str, dtype: str | None = None, conv_impl: str | None = None):
  """`configs/<name>.py` imported by path; returns its get_config() (model.dtype / model.conv_impl if given)."""
  path = os.path.join(ROOT, "configs", f"{name}.py")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"configs/{name}.py does not exist")
  spec = importlib.util.spec_from_file_location(f"jaxgen_bench_configs.{name}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  if dtype:
    config.model.dtype = dtype
  if conv_impl:
    config.model.conv_impl = conv_impl
  return config


# The reference configs (the notebooks' models at their batch and image size), by family.
REFERENCE_CONFIGS = {
    "autoencoder": ["ae_fashion_mnist"],
    "vae": ["vae_fashion_mnist", "vae_celeba"],
    "gan": ["dcgan_lego", "wgan_gp_celeba", "cgan_celeba"],
    "stylegan": ["stylegan_celeba"],
    "ebm": ["ebm_mnist"],
    "diffusion": ["ddm_flowers"],
}


def discover(selected: list[str] | None = None, reference_only: bool = False) -> tuple[list[str], list[dict]]:
  """(config names to run, notes on skipped families/configs); `reference_only`: the REFERENCE_CONFIGS only."""
  from jaxgen import families
  names, notes, ok_families = [], [], set()
  for family, module_name in families.FAMILIES.items():
    try:
      importlib.import_module(module_name)
    except Exception as e:  # not written yet, or broken: say so and go on
      notes.append({"family": family, "skipped": f"{type(e).__name__}: {e}".splitlines()[0]})
      continue
    ok_families.add(family)
    for name in REFERENCE_CONFIGS.get(family, []):
      if name not in names:
        names.append(name)
  for path in sorted(glob.glob(os.path.join(ROOT, "configs", "*.py"))) if not reference_only else ():
    name = os.path.splitext(os.path.basename(path))[0]
    if not (name.endswith("_digits") or name.endswith("_toy2d")) or name in names:
      continue
    try:
      family = load_config_file(name).family
    except Exception as e:
      notes.append({"config": name, "skipped": f"config does not load: {type(e).__name__}: {e}".splitlines()[0]})
      continue
    if family in ok_families:
      names.append(name)
  if selected:
    unknown = [s for s in selected if s not in names and not os.path.isfile(os.path.join(ROOT, "configs", f"{s}.py"))]
    if unknown:
      raise SystemExit(f"error: unknown config(s) {', '.join(unknown)}; known: {', '.join(names)}")
    names = list(selected)
  return names, notes


def machine_info() -> dict:
  import flax
  import jax
  import jaxlib
  import numpy as np
  import optax
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  try:
    affinity = len(os.sched_getaffinity(0))
  except AttributeError:
    affinity = os.cpu_count()
  mem = None
  try:
    import psutil
    mem = round(psutil.virtual_memory().total / 2 ** 30, 1)
  except Exception:
    pass
  devices = jax.devices()
  return {
      "cpu_model": cpu, "cpu_count": os.cpu_count(), "cpus_available": affinity, "memory_gib": mem,
      "platform": platform.platform(), "python": platform.python_version(),
      "jax": jax.__version__, "jaxlib": jaxlib.__version__, "flax": flax.__version__, "optax": optax.__version__,
      "numpy": np.__version__, "backend": jax.default_backend(),
      "devices": [f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in devices],
      "load_average": list(os.getloadavg()),
  }


# ---------------------------------------------------------------------------------------------- FLOPs


def _conv_flops(eqn) -> float:
  """2 · output elements · (kernel elements per output feature) of a conv_general_dilated."""
  import numpy as np
  out = eqn.outvars[0].aval
  rhs = eqn.invars[1].aval
  out_features = rhs.shape[eqn.params["dimension_numbers"].rhs_spec[0]]
  return 2.0 * float(np.prod(out.shape)) * float(np.prod(rhs.shape)) / out_features


def _dot_flops(eqn) -> float:
  """2 · output elements · contracted size of a dot_general."""
  import numpy as np
  (lhs_contract, _), _ = eqn.params["dimension_numbers"]
  lhs = eqn.invars[0].aval
  return 2.0 * float(np.prod(eqn.outvars[0].aval.shape)) * float(np.prod([lhs.shape[d] for d in lhs_contract]))


def sub_jaxprs(eqn) -> list:
  """The jaxprs nested in one equation (scan/while bodies, cond branches, pjit and custom-derivative calls)."""
  subs = []
  for param in eqn.params.values():
    for sub in param if isinstance(param, (list, tuple)) else (param,):
      if hasattr(sub, "eqns"):
        subs.append(sub)
      elif hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
        subs.append(sub.jaxpr)
  return subs


def jaxpr_matmul_flops(jaxpr) -> tuple[float, bool]:
  """(FLOPs of every dot_general and convolution in `jaxpr`, scan bodies times their length; cond: the largest
  branch; True if a while loop of unknown trip count was counted once)."""
  total, unknown = 0.0, False
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == "dot_general":
      total += _dot_flops(eqn)
    elif name == "conv_general_dilated":
      total += _conv_flops(eqn)
    counts = [jaxpr_matmul_flops(s) for s in sub_jaxprs(eqn)]
    unknown = unknown or any(u for _, u in counts) or name == "while"
    if name == "scan":
      total += eqn.params["length"] * sum(f for f, _ in counts)
    elif name == "cond":
      total += max((f for f, _ in counts), default=0.0)
    else:
      total += sum(f for f, _ in counts)
  return total, unknown


def live_jaxpr(fn, *args):
  """fn's jaxpr without dead code (e.g. the unused half of a two-cotangent VJP), which XLA would not run either."""
  import jax
  jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
  try:
    from jax._src.interpreters import partial_eval as pe   # no public DCE; fall back to the full jaxpr
    return pe.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))[0]
  except Exception:
    return jaxpr


def step_flops(compiled, fn, *args) -> dict:
  """{"xla": cost-analysis FLOPs of the compiled step, "matmul": `jaxpr_matmul_flops` of fn(*args), ...}."""
  out = {}
  try:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    out["xla"] = float(cost["flops"])
  except Exception as e:  # some backends have no cost analysis
    out["xla_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
  flops, unknown = jaxpr_matmul_flops(live_jaxpr(fn, *args))
  out["matmul"] = flops
  if unknown:
    out["note"] = "a while loop of unknown trip count was counted once"
  return out


def measure_peak(dtype: str = "float32", n: int = 2048, repeats: int = 5) -> float:
  """Best FLOP/s of an n x n x n matmul (2n^3 FLOPs) in `dtype` on the default device: the achievable peak."""
  import jax
  import jax.numpy as jnp
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32).astype(dtype)
  b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32).astype(dtype)
  mm = jax.jit(jnp.matmul)
  mm(a, b).block_until_ready()
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    mm(a, b).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2.0 * n ** 3 / best


def peak_flops(measure: bool = True) -> dict:
  """{"float32": FLOP/s, "bfloat16": FLOP/s, "source": ...}: the table for known accelerators, else measured."""
  import jax
  device = jax.devices()[0]
  kind = getattr(device, "device_kind", "")
  for key, peaks in PEAK_FLOPS.items():
    if device.platform != "cpu" and key in kind:
      out = {**peaks, "source": f"data sheet ({key}, dense)", "device_kind": kind}
      if measure:
        out["measured_matmul"] = {d: measure_peak(d, 8192) for d in ("float32", "bfloat16")}
      return out
  if not measure:
    return {"source": f"unknown device {kind!r}"}
  n = 1024 if device.platform == "cpu" else 8192
  return {"float32": measure_peak("float32", n), "bfloat16": measure_peak("bfloat16", n),
          "source": f"measured: best of 5 jitted {n}x{n} matmuls on {device.platform} ({kind}) in this run"}


def add_fraction_of_peak(rec: dict, peaks: dict) -> None:
  """Sets rec["fraction_of_peak"] (and "_tf32" on GPUs) from rec["flops_per_s"] and the dtype's peak."""
  if "flops_per_s" not in rec:
    return
  peak = peaks.get(rec.get("dtype", "float32"))
  if peak:
    rec["fraction_of_peak"] = round(rec["flops_per_s"] / peak, 4)
  if rec.get("dtype", "float32") == "float32" and peaks.get("tf32"):
    rec["fraction_of_tf32_peak"] = round(rec["flops_per_s"] / peaks["tf32"], 4)


# --------------------------------------------------------------------------------------------- timing


def synthetic_batch(config, batch_size: int, seed: int = 0) -> dict:
  """`example_batch` shapes filled with random data in range: uniform in data.range for images, N(0, 1) for
  toy points, uniform labels."""
  import numpy as np
  from jaxgen import data as jdata
  rng = np.random.default_rng(seed)
  batch = jdata.example_batch(config, batch_size)
  shape = batch["x"].shape
  if jdata.is_toy2d(config):
    batch["x"] = rng.normal(size=shape).astype(np.float32)
  else:
    lo = -1.0 if config.data.range == "symmetric" else 0.0
    batch["x"] = rng.uniform(lo, 1.0, size=shape).astype(np.float32)
  if "label" in batch:
    batch["label"] = rng.integers(0, max(1, jdata.num_classes(config)), size=shape[:1]).astype(np.int32)
  return batch


def _memory() -> dict:
  import jax
  out = {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
  try:
    stats = jax.devices()[0].memory_stats()
  except Exception:
    stats = None
  if stats:
    for k in ("peak_bytes_in_use", "bytes_in_use", "bytes_limit"):
      if k in stats:
        out[f"device_{k}_mib"] = round(stats[k] / 2 ** 20, 1)
  return out


def _median_windows(fn, windows: int, steps: int) -> list[float]:
  """Seconds per call, one number per window of `steps` calls."""
  out = []
  for _ in range(windows):
    t0 = time.perf_counter()
    for _ in range(steps):
      fn()
    fn(block=True)
    out.append((time.perf_counter() - t0) / steps)
  return out


def parse_sample_steps(value: str) -> dict:
  """"--sample_steps" value -> {family or "*": steps}: "20" (every family) or "ebm=60,diffusion=20"."""
  out = {}
  for item in filter(None, str(value or "").split(",")):
    family, _, steps = item.rpartition("=")
    out[family or "*"] = int(steps)
  return out


def sample_settings(name: str, config, quick: bool, sample_steps: dict | None = None) -> tuple[int, dict]:
  """(number of images, options) for the sampling measurement: the reference's call where §10 has one;
  `sample_steps` ({family or "*": steps}) replaces the iterative samplers' step count."""
  options = dict(config.sample.to_dict()) if "sample" in config else {}
  steps = (sample_steps or {}).get(config.family, (sample_steps or {}).get("*"))
  if steps and "steps" in options:
    options["steps"] = int(steps)
  if name in KERAS_SAMPLE_MS:
    n = KERAS_SAMPLE_MS[name]["images"]
  elif config.family == "diffusion":
    n = 10
  else:
    n = 2500 if str(config.data.name).startswith("toy2d/") else 128
  if quick:
    n = min(n, 8)
    if "steps" in options:
      options["steps"] = min(int(options["steps"]), 5)
  return n, options


def benchmark_config(name: str, *, quick: bool = False, warmup: int = 2, windows: int = 5,
                     window_steps: int | None = None, sample_calls: int = 3, seed: int = 0,
                     dtype: str | None = None, sample_steps: dict | None = None, conv_impl: str | None = None,
                     flops_only: bool = False) -> dict:
  """Times one config's train step and sampler; returns a JSON-ready record (`flops_only`: the jaxpr FLOP count
  of the train step only: no compilation, no timing)."""
  import jax
  import numpy as np
  from jaxgen import families
  config = load_config_file(name, dtype, conv_impl)
  family = families.get(config.family)
  batch_size = int(config.train.batch_size)
  rec = {"config": name, "family": config.family, "dataset": config.data.name, "batch_size": batch_size,
         "dtype": config.model.dtype, "conv_impl": config.model.conv_impl, "load_average_before": list(os.getloadavg())}
  batch = synthetic_batch(config, batch_size, seed)
  rec["example_shape"] = list(batch["x"].shape[1:])
  key = jax.random.PRNGKey(seed)
  k_init, k_train, k_sample = jax.random.split(key, 3)

  t0 = time.perf_counter()
  state = family.init(config, k_init, batch)
  state = jax.block_until_ready(state)
  rec["init_s"] = round(time.perf_counter() - t0, 3)
  rec["state_float_count"] = int(sum(np.size(x) for x in jax.tree_util.tree_leaves(state)
                              if hasattr(x, "dtype") and np.issubdtype(x.dtype, np.floating)))

  batch = jax.device_put(batch)
  if flops_only:
    flops, unknown = jaxpr_matmul_flops(live_jaxpr(family.train_step, state, batch, k_train))
    rec["flops"] = {"matmul": flops, **({"note": "a while loop was counted once"} if unknown else {})}
    return rec
  t0 = time.perf_counter()
  compiled = jax.jit(family.train_step).lower(state, batch, k_train).compile()
  rec["compile_s"] = round(time.perf_counter() - t0, 3)
  rec["flops"] = step_flops(compiled, family.train_step, state, batch, k_train)
  step_no = [0]
  holder = {"state": state, "metrics": None}

  def one(block: bool = False):
    if not block:
      holder["state"], holder["metrics"] = compiled(holder["state"], batch, jax.random.fold_in(k_train, step_no[0]))
      step_no[0] += 1
    else:
      jax.block_until_ready((holder["state"], holder["metrics"]))

  t0 = time.perf_counter()
  one()
  one(block=True)
  rec["first_step_s"] = round(time.perf_counter() - t0, 3)
  if quick:
    warmup, windows = 1, 2
  for _ in range(warmup):
    one()
  one(block=True)
  if window_steps is None:
    # Aim for windows of ~1 s: estimated from one more timed step.
    t0 = time.perf_counter()
    one()
    one(block=True)
    per = time.perf_counter() - t0
    window_steps = 1 if quick else int(max(1, min(50, round(1.0 / max(per, 1e-4)))))
  times = _median_windows(one, windows, window_steps)
  med = statistics.median(times)
  rec.update({
      "window_steps": window_steps, "windows": windows,
      "ms_per_step": round(1e3 * med, 3), "ms_per_step_min": round(1e3 * min(times), 3),
      "ms_per_step_max": round(1e3 * max(times), 3), "steps_per_s": round(1.0 / med, 3),
      "examples_per_s": round(batch_size / med, 1),
      "flops_per_s": round(rec["flops"]["matmul"] / med, 1),
  })
  metrics = holder["metrics"]
  rec["finite_metrics"] = bool(all(np.isfinite(np.asarray(v)).all() for v in metrics.values()))
  ref = KERAS_TRAIN_MS.get(name)
  if ref:
    rec["keras_reference"] = ref
    if ref["batch"] == batch_size:
      rec["speedup_vs_keras"] = round(ref["ms"] / rec["ms_per_step"], 2)
      if "graph_ms" in ref:
        rec["speedup_vs_keras_graph"] = round(ref["graph_ms"] / rec["ms_per_step"], 2)
    elif ref.get("alt_batch") == batch_size:
      rec["speedup_vs_keras"] = round(ref["alt_ms"] / rec["ms_per_step"], 2)
  state = holder["state"]

  # Sampling.
  n, options = sample_settings(name, config, quick, sample_steps)
  try:
    def draw(k):
      return np.asarray(family.sample(state, k, n, **options))
    t0 = time.perf_counter()
    out = draw(jax.random.fold_in(k_sample, 0))
    first = time.perf_counter() - t0
    calls = 1 if quick else sample_calls
    sample_times = []
    for i in range(calls):
      t0 = time.perf_counter()
      draw(jax.random.fold_in(k_sample, i + 1))
      sample_times.append(time.perf_counter() - t0)
    s_med = statistics.median(sample_times)
    srec = {"images": n, "options": {k: v for k, v in options.items() if isinstance(v, (int, float, str, bool))},
            "first_call_s": round(first, 3), "s_per_call": round(s_med, 4),
            "images_per_s": round(n / s_med, 2), "output_shape": list(out.shape)}
    steps = options.get("steps")
    if isinstance(steps, int) and steps > 0:
      srec["sampler_steps"] = steps
      srec["sampler_steps_per_s"] = round(steps / s_med, 2)
      srec["image_steps_per_s"] = round(steps * n / s_med, 1)
      srec["ms_per_sampler_step"] = round(1e3 * s_med / steps, 3)
    sref = KERAS_SAMPLE_MS.get(name)
    if sref:
      srec["keras_reference"] = sref
      if sref["images"] == n and sref["steps"] == steps:
        srec["speedup_vs_keras"] = round(sref["ms"] / (1e3 * s_med), 2)
        srec["speedup_vs_keras_graph"] = round(sref["graph_ms"] / (1e3 * s_med), 2)
    rec["sampling"] = srec
  except Exception as e:
    rec["sampling"] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
  rec["memory"] = _memory()
  rec["load_average_after"] = list(os.getloadavg())
  return rec


def _run_isolated(name: str, args) -> dict:
  """Runs one config in a fresh process (clean peak memory, isolation from crashes)."""
  with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "one.json")
    cmd = [sys.executable, os.path.abspath(__file__), f"--configs={name}", f"--json={out}", "--noisolate",
           "--quiet", f"--windows={args.windows}", f"--warmup={args.warmup}", f"--seed={args.seed}", "--nopeak"]
    if args.dtype:
      cmd.append(f"--dtype={args.dtype}")
    if args.sample_steps:
      cmd.append(f"--sample_steps={args.sample_steps}")
    if args.conv_impl:
      cmd.append(f"--conv_impl={args.conv_impl}")
    if args.flops_only:
      cmd.append("--flops_only")
    if args.quick:
      cmd.append("--quick")
    if args.window_steps:
      cmd.append(f"--window_steps={args.window_steps}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0 or not os.path.exists(out):
      tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
      return {"config": name, "error": f"exit {proc.returncode}: {tail[0]}"}
    with open(out) as f:
      return json.load(f)["results"][0]


# ---------------------------------------------------------------------------------------------- report


def format_table(results: list[dict]) -> str:
  head = ("config", "dtype", "batch", "compile s", "ms/step", "steps/s", "ex/s", "GFLOP/s", "% peak", "Keras ms",
          "speed-up", "sample", "mem MiB")
  rows = [head]
  for r in results:
    if "error" in r:
      rows.append((r["config"], "-", "-", "-", "error: " + r["error"][:60]) + ("",) * (len(head) - 5))
      continue
    ref = r.get("keras_reference")
    ref_ms = ""
    if ref:
      ref_ms = f"{ref['ms']:.0f}" if ref["batch"] == r["batch_size"] else (
          f"{ref['alt_ms']:.0f}" if ref.get("alt_batch") == r["batch_size"] else f"{ref['ms']:.0f}@{ref['batch']}")
    s = r.get("sampling", {})
    if "error" in s:
      sample = "error"
    elif "sampler_steps" in s:
      sample = f"{s['images_per_s']:.3g} img/s ({s['images']}x{s['sampler_steps']} st, {s['ms_per_sampler_step']:.3g} ms/st)"
    else:
      sample = f"{s.get('images_per_s', 0):.4g} img/s ({s.get('images')})"
    mem = r.get("memory", {})
    mem_s = f"{mem.get('device_peak_bytes_in_use_mib', mem.get('peak_rss_mib', 0)):.0f}"
    frac = r.get("fraction_of_peak")
    rows.append((r["config"], r.get("dtype", "float32"), str(r["batch_size"]), f"{r['compile_s']:.1f}",
                 f"{r['ms_per_step']:.2f}", f"{r['steps_per_s']:.2f}", f"{r['examples_per_s']:.0f}",
                 f"{r.get('flops_per_s', 0) / 1e9:.1f}", f"{100 * frac:.1f}" if frac is not None else "", ref_ms,
                 f"{r['speedup_vs_keras']:.1f}x" if "speedup_vs_keras" in r else "", sample, mem_s))
  widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
  lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
  lines.insert(1, "-" * len(lines[0]))
  return "\n".join(lines)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--configs", default="", help="Comma-separated config names (default: all discovered).")
  p.add_argument("--json", default="", help="Write the results here.")
  p.add_argument("--quick", action="store_true", help="Smoke run: 1 warm-up, 2 windows of 1 step, tiny samples.")
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--windows", type=int, default=5)
  p.add_argument("--window_steps", type=int, default=0, help="Steps per window (default: ~1 s windows, <= 50).")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--noisolate", action="store_true", help="Run all configs in this process.")
  p.add_argument("--timeout", type=int, default=1800, help="Seconds per config (isolated runs).")
  p.add_argument("--quiet", action="store_true")
  p.add_argument("--dtype", default="", choices=("", "float32", "bfloat16"), help="model.dtype (default: the config's).")
  p.add_argument("--sample_steps", default="", help="Sampler steps per call: N, or per family, e.g. ebm=60,diffusion=20 "
                 "(default: the config's).")
  p.add_argument("--conv_impl", default="", choices=("", "auto", "lax", "matmul", "space_to_depth"),
                 help="model.conv_impl (default: the config's).")
  p.add_argument("--flops_only", action="store_true", help="Only count each train step's matmul FLOPs (no timing).")
  p.add_argument("--reference", action="store_true", help="Only REFERENCE_CONFIGS (reference sizes).")
  p.add_argument("--nopeak", action="store_true", help="Skip the peak FLOP/s measurement (isolated children).")
  args = p.parse_args(argv)
  selected = [s for s in args.configs.split(",") if s]
  names, notes = discover(selected or None, reference_only=args.reference)
  info = machine_info()
  info["peak_flops"] = peak_flops(measure=not args.nopeak)
  if not args.quiet:
    print(f"{info['cpu_model']} ({info['cpus_available']} cpus), backend {info['backend']} {info['devices']}, "
          f"jax {info['jax']}, load {info['load_average']}", flush=True)
    pk = info["peak_flops"]
    print("peak: " + ", ".join(f"{d} {pk[d] / 1e9:.1f} GFLOP/s" for d in ("float32", "bfloat16") if pk.get(d))
          + f" ({pk['source']})", flush=True)
    for n in notes:
      print(f"  skipped {n.get('family') or n.get('config')}: {n['skipped']}", flush=True)
  results = []
  settings = {"quick": args.quick, "warmup": args.warmup, "windows": args.windows,
              "window_steps": args.window_steps or "auto (~1 s)", "isolated": not args.noisolate,
              "dtype": args.dtype or "per config", "sample_steps": args.sample_steps or "per config",
              "conv_impl": args.conv_impl or "per config"}

  def write(final: bool):
    if not args.json:
      return
    report = {"machine": info, "settings": settings, "skipped": notes, "results": results,
              "complete": final, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    tmp = args.json + ".tmp"
    with open(tmp, "w") as f:
      json.dump(report, f, indent=2)
    os.replace(tmp, args.json)

  for name in names:
    if not args.quiet:
      print(f"... {name}", flush=True)
    if args.noisolate:
      try:
        rec = benchmark_config(name, quick=args.quick, warmup=args.warmup, windows=args.windows,
                               window_steps=args.window_steps or None, seed=args.seed, dtype=args.dtype or None,
                               sample_steps=parse_sample_steps(args.sample_steps), conv_impl=args.conv_impl or None,
                               flops_only=args.flops_only)
      except Exception as e:
        if args.quiet:
          traceback.print_exc()
        rec = {"config": name, "error": f"{type(e).__name__}: {e}".splitlines()[0]}
    else:
      try:
        rec = _run_isolated(name, args)
      except subprocess.TimeoutExpired:
        rec = {"config": name, "error": f"timed out after {args.timeout} s"}
    add_fraction_of_peak(rec, info["peak_flops"])
    results.append(rec)
    write(final=False)                    # a partial file survives an interrupted long run
    if not args.quiet and args.flops_only:
      print(f"    {rec.get('error') or '%.4g FLOPs per step' % rec['flops']['matmul']}", flush=True)
    elif not args.quiet:
      print(f"    error: {rec['error']}" if "error" in rec else
            f"    {rec['ms_per_step']:.2f} ms/step, {rec['flops_per_s'] / 1e9:.2f} GFLOP/s"
            f"{' (%.1f %% of peak)' % (100 * rec['fraction_of_peak']) if 'fraction_of_peak' in rec else ''}, "
            f"compile {rec['compile_s']:.1f} s", flush=True)
  if not args.quiet and not args.flops_only:
    print(format_table(results))
  write(final=True)
  if args.json and not args.quiet:
    print(f"wrote {args.json}")
  return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
  sys.exit(main())
