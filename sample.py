"""Samples from a trained run.

  python sample.py --workdir=runs/ddm_digits --num=64 --out=samples.png [--seed=0]
  python sample.py --workdir=runs/ddm_digits --num=1000 --out=samples.npz   # key "samples" (+ "labels")

More than 1,000 samples are drawn 1,000 at a time (see jaxgen.Run.sample_outputs_batched). Errors are one
`error:` line: exit 2 for bad flags or an unreadable workdir/checkpoint (the message names the step and the
--step values that remain), 1 for an unwritable --out or out of memory.

Family options (a family rejects those it does not support, naming the ones it does):
  --label=K (conditional GANs)  --class_grid            --steps=K (EBM Langevin / diffusion steps)
  --sampler=ddim|ddpm --steps_sweep=1,2,3,5,20,100 (diffusion)   --chain (EBM chain strip)
  --truncation=0.7  --interpolate=N  --direction=pca:K|boundary:LABEL  --alphas=-4:4:7  --mix-crossover=L (style-based)
"""
import os

import numpy as np
from absl import flags

from jaxgen import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A work directory written by train.py.")
flags.DEFINE_integer("num", 64, "Number of samples.")
flags.DEFINE_string("out", "samples.png", "Output file: .png (a grid) or .npz (key 'samples', 'labels').")
flags.DEFINE_integer("seed", 0, "Sampling seed.")
flags.DEFINE_integer("step", None, "Checkpoint step to load (default: the latest).")
# Family options: only the ones the user sets are passed on.
flags.DEFINE_integer("label", None, "Class to generate (conditional models).")
flags.DEFINE_bool("class_grid", None, "One row per class (conditional models).")
flags.DEFINE_integer("steps", None, "Sampler steps (Langevin steps for the EBM, reverse-diffusion steps).")
flags.DEFINE_string("sampler", None, "Diffusion: ddim (deterministic, the reference) or ddpm (ancestral).")
flags.DEFINE_string("steps_sweep", None, "Diffusion: decode the same noise with each step count, e.g. 1,2,3,5,20,100.")
flags.DEFINE_bool("chain", None, "EBM: write the Langevin chain strip at the reference's steps.")
flags.DEFINE_float("truncation", None, "Truncation psi in W (style-based generator).")
flags.DEFINE_integer("interpolate", None, "Frames of an interpolation between pairs of latents/noises.")
flags.DEFINE_string("direction", None, "Latent direction to move along: pca:K or boundary:LABEL.")
flags.DEFINE_string("alphas", None, "Edit strengths lo:hi:n, e.g. -4:4:7.")
flags.DEFINE_integer("mix-crossover", None, "Style mixing: layers [0, L) from one latent, the rest from another.")

OPTION_FLAGS = ("label", "class_grid", "steps", "sampler", "steps_sweep", "chain", "truncation", "interpolate", "direction",
                "alphas", "mix-crossover")


def user_options() -> dict:
  """The family options the user set, under the protocol's keys (dashes become underscores)."""
  return {name.replace("-", "_"): FLAGS[name].value for name in OPTION_FLAGS if FLAGS[name].value is not None}


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]!r}; use --flag=value (see --help).")
  if not FLAGS.workdir:
    cli.fail("--workdir is required: a directory written by train.py.")
  ext = os.path.splitext(FLAGS.out)[1].lower()
  if ext not in (".png", ".npz"):
    cli.fail(f"--out={FLAGS.out!r} must end in .png (grid) or .npz (arrays).")
  if FLAGS.num <= 0:
    cli.fail(f"--num={FLAGS.num} must be a positive integer.")
  import jax
  import jaxgen
  from jaxgen import viz
  cli.check_writable(FLAGS.out, "--out")
  run = jaxgen.load(FLAGS.workdir, step=FLAGS.step)
  out = run.sample_outputs_batched(jax.random.PRNGKey(FLAGS.seed), FLAGS.num, **user_options())
  samples = np.asarray(out["samples"], np.float32)
  if ext == ".npz":
    arrays = {"samples": samples}
    if "labels" in out:
      arrays["labels"] = np.asarray(out["labels"])
    np.savez(FLAGS.out, **arrays)
  elif samples.ndim == 2:
    viz.save_points(samples, FLAGS.out)
  else:
    viz.save_image_grid(samples, FLAGS.out, ncols=out.get("ncols"))
  print(f"wrote {FLAGS.out}: {samples.shape[0]} samples of shape {samples.shape[1:]} from step {run.step}")


if __name__ == "__main__":
  cli.run(main)
