"""Which exact convolution formulation trains the reference autoencoder fastest on this CPU?

Times one jitted train step (forward + backward + Adam) of the docs/reference.md §1 autoencoder (Fashion-MNIST
32x32x1, batch 100, 2-d latent, BCE) for each combination of
  strided conv (encoder):     lax (nn.Conv) | space_to_depth (+ stride-1 conv) | im2col (one matmul)
  transposed conv (decoder):  lax (nn.ConvTranspose) | subpixel (stride-1 conv + depth-to-space) | col2im
  stride-1 conv (output):     lax | im2col
and the UpSampling + Conv decoder variant, then (each in a fresh process, since XLA reads its flags once)
the best combination under a few XLA:CPU flag sets. All formulations compute the same function
(tests/test_layers.py); the ones no family uses live in benchmarks/conv_variants.py. Prints ms/step; `--out=PATH`
also writes the results as JSON (the measurements quoted in the README are benchmarks/results/conv_formulations.json:
pass that path to replace them on purpose).

  python benchmarks/conv_formulations.py                                  # everything (several minutes on 2 cores)
  python benchmarks/conv_formulations.py --quick --out=runs/conv.json     # fewer steps, keep the JSON
Timings on a shared machine are noisy: compare rows of one run. Keras reference: 39.5 ms/step (TF 2.15).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

KERAS_AE_MS = 39.5     # docs/reference.md §10, TF 2.15, same 2-core CPU
KERAS_VAE_MS = 35.0

FLAG_SETS = {
    "default": "",
    "onednn": "--xla_cpu_use_onednn=true",
    "xnnpack": "--xla_cpu_use_xnnpack=true",
    "no_multi_thread_eigen": "--xla_cpu_multi_thread_eigen=false",
    "fast_math": "--xla_cpu_enable_fast_math=true",
}


def build(conv_impl: str, convt_impl: str, out_impl: str, decoder: str = "transpose"):
  import flax.linen as nn
  import jax
  import jax.numpy as jnp
  import optax

  from jaxgen.nn import layers
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import conv_variants
  conv_impl, out_impl = conv_variants.CONV[conv_impl], conv_variants.CONV[out_impl]
  convt_impl = conv_variants.CONV_TRANSPOSE[convt_impl]

  class AE(nn.Module):
    @nn.compact
    def __call__(self, x):
      h = x
      for f in (32, 64, 128):
        h = nn.relu(layers.Conv(f, (3, 3), 2, impl=conv_impl)(h))
      z = layers.Dense(2)(h.reshape(h.shape[0], -1))
      h = layers.Dense(2048)(z).reshape(-1, 4, 4, 128)
      for f in (128, 64, 32):
        if decoder == "transpose":
          h = nn.relu(layers.ConvTranspose(f, (3, 3), 2, impl=convt_impl)(h))
        else:  # UpSampling2D(2) nearest + Conv 3x3 + BatchNorm + LeakyReLU
          n, hh, ww, c = h.shape
          h = jnp.broadcast_to(h[:, :, None, :, None, :], (n, hh, 2, ww, 2, c)).reshape(n, 2 * hh, 2 * ww, c)
          h = layers.Conv(f, (3, 3), 1, impl=out_impl)(h)
          h = layers.leaky_relu(layers.BatchNorm(use_running_average=False)(h))
      return layers.Conv(1, (3, 3), 1, impl=out_impl)(h)

  model = AE()
  x = jax.random.uniform(jax.random.PRNGKey(0), (100, 32, 32, 1))
  variables = model.init(jax.random.PRNGKey(1), x)
  tx = optax.adam(1e-3, eps=1e-7)
  opt_state = tx.init(variables["params"])

  def loss_fn(params, rest, x):
    logits, updates = model.apply({"params": params, **rest}, x, mutable=list(rest))
    return optax.sigmoid_binary_cross_entropy(logits, x).mean(), updates

  @jax.jit
  def step(params, rest, opt_state, x):
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest, x)
    upd, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, upd), {**rest, **updates}, opt_state, loss

  params = variables["params"]
  rest = {k: v for k, v in variables.items() if k != "params"}
  return step, (params, rest, opt_state, x)


def time_step(step, args, steps: int) -> dict:
  """Wall-clock ms per step (median/min/max) and process CPU ms per step (all threads; less noisy when the
  machine is shared: on an idle 2-core machine wall ≈ CPU / 2 at best)."""
  import jax
  import numpy as np
  params, rest, opt_state, x = args
  t0 = time.perf_counter()
  params, rest, opt_state, loss = jax.block_until_ready(step(params, rest, opt_state, x))
  compile_s = time.perf_counter() - t0
  for _ in range(3):
    params, rest, opt_state, loss = jax.block_until_ready(step(params, rest, opt_state, x))
  times, cpu = [], []
  for _ in range(steps):
    t0, c0 = time.perf_counter(), time.process_time()
    params, rest, opt_state, loss = jax.block_until_ready(step(params, rest, opt_state, x))
    times.append(1e3 * (time.perf_counter() - t0))
    cpu.append(1e3 * (time.process_time() - c0))
  return {"median_ms": float(np.median(times)), "min_ms": float(np.min(times)), "max_ms": float(np.max(times)),
          "cpu_ms": float(np.median(cpu)), "compile_s": compile_s, "steps": steps}


COMBOS = [  # (name, conv, conv_transpose, stride-1 conv, decoder)
    ("flax_port(lax,lax)", "lax", "lax", "lax", "transpose"),
    ("lax+subpixel", "lax", "subpixel", "lax", "transpose"),
    ("s2d+subpixel", "space_to_depth", "subpixel", "lax", "transpose"),
    ("lax+col2im", "lax", "col2im", "lax", "transpose"),
    ("im2col+col2im", "im2col", "col2im", "lax", "transpose"),
    ("matmul(custom adjoints)", "matmul", "matmul", "matmul", "transpose"),
    ("upsample_decoder(lax)", "lax", "lax", "lax", "upsample"),
    ("upsample_decoder(matmul)", "matmul", "lax", "matmul", "upsample"),
]


def run_combos(names, steps):
  out = {}
  for name, conv, convt, out_impl, decoder in COMBOS:
    if names and name not in names:
      continue
    step, args = build(conv, convt, out_impl, decoder)
    out[name] = {"conv": conv, "conv_transpose": convt, "stride1_conv": out_impl, "decoder": decoder,
                 **time_step(step, args, steps)}
    r = out[name]
    print(f"  {name:28s} {r['median_ms']:8.1f} ms/step (min {r['min_ms']:.1f})  "
          f"x{r['median_ms'] / KERAS_AE_MS:.2f} of Keras  cpu {r['cpu_ms']:.1f} ms  compile {r['compile_s']:.1f}s", flush=True)
  return out


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true")
  ap.add_argument("--child", default="", help="internal: run these combos (comma list) and print JSON")
  ap.add_argument("--steps", type=int, default=0)
  ap.add_argument("--no-flags", action="store_true")
  ap.add_argument("--out", default="", help="write the results as JSON here (default: print only)")
  a = ap.parse_args()
  steps = a.steps or (8 if a.quick else 20)
  if a.child:
    res = run_combos(a.child.split("|"), steps)
    print("JSON:" + json.dumps(res))
    return

  import jax
  print(f"jax {jax.__version__}, {os.cpu_count()} CPUs; Keras reference AE step {KERAS_AE_MS} ms (batch 100)")
  print("formulations (default XLA flags):")
  results = {"keras_reference_ms": {"autoencoder": KERAS_AE_MS, "vae": KERAS_VAE_MS},
             "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "jax": jax.__version__},
             "formulations": run_combos(None, steps), "flags": {}}
  ranked = sorted(results["formulations"].items(), key=lambda kv: kv[1]["median_ms"])
  best = [n for n, r in ranked if r["decoder"] == "transpose"][:2]
  if not a.no_flags:
    print(f"XLA flags (fresh process each; combos {best} and the Flax port):")
    for fname, flags in FLAG_SETS.items():
      env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + flags).strip())
      combos = "|".join(best + ["flax_port(lax,lax)"])
      p = subprocess.run([sys.executable, __file__, "--child", combos, "--steps", str(steps)], env=env,
                         capture_output=True, text=True)
      line = [l for l in p.stdout.splitlines() if l.startswith("JSON:")]
      if p.returncode or not line:
        print(f"  [{fname}] failed: {p.stderr.strip().splitlines()[-1:] }")
        results["flags"][fname] = {"flags": flags, "error": p.stderr[-500:]}
        continue
      res = json.loads(line[0][5:])
      results["flags"][fname] = {"flags": flags, **{k: {"median_ms": v["median_ms"], "cpu_ms": v["cpu_ms"]}
                                                    for k, v in res.items()}}
      print(f"  [{fname:22s}] " + "  ".join(f"{k}: {v['median_ms']:.1f} (cpu {v['cpu_ms']:.1f})"
                                             for k, v in res.items()), flush=True)
  if a.out:
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
      json.dump(results, f, indent=1)
  print("best:", ranked[0][0], f"{ranked[0][1]['median_ms']:.1f} ms/step = "
        f"{ranked[0][1]['median_ms'] / KERAS_AE_MS:.2f} x Keras;", f"wrote {a.out}" if a.out else "(no --out: not saved)")


if __name__ == "__main__":
  main()
