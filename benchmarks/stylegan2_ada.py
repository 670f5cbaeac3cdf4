"""The published StyleGAN2-ADA FFHQ generator (1024 x 1024 x 3, 18 styles) in jaxgen: sizes and times on whatever
backend JAX sees, with random weights of the official shapes (no download needed).

  python benchmarks/stylegan2_ada.py                                 # writes benchmarks/results/stylegan2_ada_<backend>.json
  python benchmarks/stylegan2_ada.py --batch=4 --repeats=5 --convert # also write + convert a full-size pickle

Measures: parameter count and bytes; init (random weights) seconds; compile seconds of the jitted image function
(mapping -> truncation psi=0.7 -> synthesis with const noise -> [0, 1]); median seconds per call and images/s over
--repeats calls; peak memory (GPU/TPU: device peak bytes; CPU: process peak RSS). With --convert: the size of a
network pickle in the official layout (written by tests/torch_pickle_writer.py, without torch) and the seconds of
`jaxgen.convert` on it (reading, checking, writing the Orbax checkpoint), and the work directory's size on disk.
Numbers from a shared machine are noisy; the JSON records the load average before and after.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from jaxgen.latent.truncation import truncate  # noqa: E402
from jaxgen.nn import stylegan2  # noqa: E402


def peak_memory_bytes() -> int:
  dev = jax.devices()[0]
  if dev.platform != "cpu":
    stats = dev.memory_stats() or {}
    return int(stats.get("peak_bytes_in_use", 0))
  return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def dir_bytes(path: str) -> int:
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def time_generator(batch: int, repeats: int) -> dict:
  gen = stylegan2.StyleGAN2ADAGenerator(stylegan2.Generator(1024, 3, 512, 512, 8, 0.01, 32768, 512, 256.0))
  t = time.perf_counter()
  params = gen.init(jax.random.PRNGKey(0))                                 # eager: jit of init compiles for minutes
  jax.block_until_ready(params)
  init_s = time.perf_counter() - t
  leaves = jax.tree_util.tree_leaves_with_path(params)
  n_params = sum(int(np.prod(v.shape)) for p, v in leaves if "noise_const" not in jax.tree_util.keystr(p))
  n_bytes = sum(v.size * v.dtype.itemsize for _, v in leaves)
  w_avg = jnp.zeros((512,))

  @jax.jit
  def images(params, z):
    w = truncate(gen.mapping(params, z), w_avg, 0.7)
    ws = jnp.broadcast_to(w[:, None], (z.shape[0], gen.num_layers, 512))
    return jnp.clip((gen.synthesis(params, ws, None, "const") + 1) / 2, 0, 1)

  z = jax.random.normal(jax.random.PRNGKey(1), (batch, 512))
  t = time.perf_counter()
  compiled = images.lower(params, z).compile()
  compile_s = time.perf_counter() - t
  jax.block_until_ready(compiled(params, z))                                # warm-up
  times = []
  for i in range(repeats):
    t = time.perf_counter()
    out = jax.block_until_ready(compiled(params, jax.random.normal(jax.random.PRNGKey(2 + i), (batch, 512))))
    times.append(time.perf_counter() - t)
  assert out.shape == (batch, 1024, 1024, 3)
  med = statistics.median(times)
  return {"params": n_params, "param_bytes_incl_noise_const": int(n_bytes), "init_s": round(init_s, 2),
          "compile_s": round(compile_s, 2), "batch": batch, "s_per_call_median": round(med, 3),
          "s_per_call_min": round(min(times), 3), "images_per_s": round(batch / med, 3),
          "image_bytes_uint8": 1024 * 1024 * 3, "peak_memory_bytes": peak_memory_bytes()}


def time_convert() -> dict:
  sys.path.insert(0, os.path.join(ROOT, "tests"))
  import stylegan2_twin
  import torch_pickle_writer
  from jaxgen.convert import stylegan2_ada
  rng = np.random.default_rng(0)
  sd = {k: (stylegan2_twin.fir() if k.endswith("resample_filter") else rng.standard_normal(s, np.float32))
        for k, s in stylegan2_twin.official_shapes(1024).items()}
  kwargs = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 1024, "img_channels": 3,
            "mapping_kwargs": {"num_layers": 8},
            "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}}
  with tempfile.TemporaryDirectory() as tmp:
    pkl = os.path.join(tmp, "ffhq_layout.pkl")
    torch_pickle_writer.write_network_pickle(pkl, sd, kwargs)
    t = time.perf_counter()
    stylegan2_ada.convert(pkl, os.path.join(tmp, "run"))
    convert_s = time.perf_counter() - t
    return {"pickle_bytes_G_ema_only": os.path.getsize(pkl), "convert_s": round(convert_s, 2),
            "workdir_bytes": dir_bytes(os.path.join(tmp, "run"))}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=1)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--convert", action="store_true")
  parser.add_argument("--json", default=None)
  args = parser.parse_args()
  backend = jax.default_backend()
  result = {"backend": backend, "device": str(jax.devices()[0]), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "load_before": os.getloadavg()}
  result["generator_1024"] = time_generator(args.batch, args.repeats)
  if args.convert:
    result["convert_1024"] = time_convert()
  result["load_after"] = os.getloadavg()
  print(json.dumps(result, indent=2))
  path = args.json or os.path.join(ROOT, "benchmarks", "results", f"stylegan2_ada_{backend}.json")
  with open(path, "w") as f:
    json.dump(result, f, indent=2)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
