"""Start-up time of train.py and sample.py with JAX's persistent compilation cache off, cold and warm.

  python benchmarks/compile_cache.py [--config=ddm_digits] [--json=benchmarks/results/compile_cache_cpu.json]

Wall-clock seconds from process start to exit, each command in a fresh process:
  off    JAXGEN_COMPILATION_CACHE=off (every start compiles everything)
  cold   an empty cache directory (compiles and writes the cache)
  warm   the same directory again (reads the compiled programs), twice
train.py runs 2 steps of --config into a new workdir each time (checkpoint at step 2, no sample grid);
sample.py draws 16 samples from the first of those workdirs. The JSON records the 1-minute load average before
each run: numbers from a loaded machine are inflated.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd: list[str], cache: str) -> dict:
  """Runs `cmd` in ROOT with JAXGEN_COMPILATION_CACHE=cache; returns wall seconds and the load before."""
  load = os.getloadavg()[0]
  t0 = time.perf_counter()
  out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "JAXGEN_COMPILATION_CACHE": cache, "PYTHONPATH": ROOT})
  seconds = time.perf_counter() - t0
  if out.returncode != 0:
    raise SystemExit(f"error: {' '.join(cmd)} exited {out.returncode}: {out.stderr[-2000:]}")
  return {"seconds": round(seconds, 2), "load_average_1min": round(load, 2)}


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--config", default="ddm_digits")
  p.add_argument("--json", default="")
  args = p.parse_args(argv)
  tmp = tempfile.mkdtemp(prefix="jaxgen_cache_bench_")
  cache = os.path.join(tmp, "cache")

  def train_cmd(workdir):
    return [sys.executable, "train.py", f"--config=configs/{args.config}.py", f"--workdir={workdir}",
            "--config.train.num_steps=2", "--config.train.log_every=1", "--config.train.checkpoint_every=2",
            "--config.train.sample_every=0", "--config.train.eval_every=0"]

  def sample_cmd(i):
    return [sys.executable, "sample.py", f"--workdir={os.path.join(tmp, 'train_off')}", "--num=16",
            f"--out={os.path.join(tmp, f'samples_{i}.png')}"]

  result = {"config": args.config, "train_s": {}, "sample_s": {}}
  for name, setting in (("off", "off"), ("cold", cache), ("warm", cache), ("warm_again", cache)):
    result["train_s"][name] = timed(train_cmd(os.path.join(tmp, f"train_{name}")), setting)
    print(f"train.py  {name:10s} {result['train_s'][name]['seconds']:7.2f} s", flush=True)
  sample_cache = os.path.join(tmp, "sample_cache")
  for name, setting in (("off", "off"), ("cold", sample_cache), ("warm", sample_cache), ("warm_again", sample_cache)):
    result["sample_s"][name] = timed(sample_cmd(name), setting)
    print(f"sample.py {name:10s} {result['sample_s'][name]['seconds']:7.2f} s", flush=True)
  sizes = {d: sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(tmp, d)) for f in fs)
           for d in ("cache", "sample_cache")}
  result["cache_bytes"] = {"train": sizes["cache"], "sample": sizes["sample_cache"]}
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from throughput import machine_info
  result["machine"] = machine_info()
  result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=2)
  return 0


if __name__ == "__main__":
  sys.exit(main())
