"""Samples from a trained run.

  python sample.py --workdir=runs/ddm_digits --num=64 --out=samples.png [--seed=0]
  python sample.py --workdir=runs/ddm_digits --num=1000 --out=samples.npz   # key "samples" (+ "labels")

More than 1,000 samples are drawn 1,000 at a time (see jaxgen.Run.sample_outputs_batched). Errors are one
`error:` line: exit 2 for bad flags or an unreadable workdir/checkpoint (the message names the step and the
--step values that remain), 1 for an unwritable --out or out of memory.

Several processes (the hosts of a TPU slice or GPU cluster, as train.py): the same command on every host with
--jax_distributed or --coordinator_address/--num_processes/--process_id; every process samples (the State is
replicated over all devices), process 0 alone writes --out and prints.

Family options (a family rejects those it does not support, naming the ones it does, at once: from the run's
config.json, before the checkpoint loads):
  --label=K --class_grid --truncated_z=T --dot_steps=N --dot_step_size=ETA --dot_k=K (GANs)
  --latent_grid=N --latent_scatter=N (AE/VAE)  --steps=K (EBM Langevin / diffusion steps)
  --sampler=ddim|ddpm|dpm_solver_2m|heun --steps_sweep=1,2,3,5,20,100 --guidance=W --invert (diffusion)
  --chain (EBM chain strip)
  --truncation=0.7  --interpolate=N  --direction=pca:K|boundary:LABEL|file:PATH.npy|'1*SPEC+0.5*SPEC'  --alphas=-4:4:7
  --layer_weights=coarse=1,middle=0.5,fine=0.1  --noise_mode=const|random|none  --mix-crossover=L (style-based)
"""
import os

import numpy as np
from absl import flags

from jaxgen import cli
from jaxgen.configs import sample_options

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
flags.DEFINE_string("sampler", None, "Diffusion: ddim (deterministic, the reference), ddpm (ancestral), "
                    "dpm_solver_2m (DPM-Solver++(2M)) or heun (EDM's Heun; 2 steps - 1 network evaluations).")
flags.DEFINE_float("guidance", None, "Diffusion, class-conditional: classifier-free guidance weight w >= 0.")
flags.DEFINE_bool("invert", None, "Diffusion: DDIM-invert test images and decode them again; with --interpolate, "
                  "interpolate between pairs of inverted test images.")
flags.DEFINE_string("steps_sweep", None, "Diffusion: decode the same noise with each step count, e.g. 1,2,3,5,20,100.")
flags.DEFINE_bool("chain", None, "EBM: write the Langevin chain strip at the reference's steps.")
flags.DEFINE_float("truncation", None, "Truncation psi in W (style-based generator).")
flags.DEFINE_float("truncated_z", None, "GANs: sample z from N(0, I) truncated to [-t, t] (the truncation trick).")
flags.DEFINE_integer("dot_steps", None, "GANs: gradient steps of discriminator optimal transport after the generator "
                     "(0: the generator's own samples; default config.sample.dot_steps).")
flags.DEFINE_float("dot_step_size", None, "GANs: the step size of --dot_steps, in data units.")
flags.DEFINE_float("dot_k", None, "GANs: K_eff of --dot_steps: samples move where the critic rises faster than K.")
flags.DEFINE_integer("interpolate", None, "Frames of an interpolation between pairs of latents/noises.")
flags.DEFINE_integer("latent_grid", None, "AE/VAE: decode an n x n grid over the first two latent dimensions.")
flags.DEFINE_integer("latent_scatter", None, "AE/VAE: plot the encoder means (z1, z2) of the first N test images, "
                     "coloured by label (--num is ignored).")
flags.DEFINE_string("direction", None, "Latent direction to move along: pca:K, boundary:LABEL, file:PATH.npy, or a "
                    "combination like '1*file:age.npy+0.5*file:smile.npy'; two joined by ',' give a grid.")
flags.DEFINE_string("alphas", None, "Edit strengths lo:hi:n, e.g. -4:4:7.")
flags.DEFINE_integer("mix-crossover", None, "Style mixing: layers [0, L) from one latent, the rest from another.")
flags.DEFINE_string("layer_weights", None, "Style-based edits: per-layer weights, one number per W+ layer, ranges "
                    "'0:7=1,7:12=0.5' or presets 'coarse=1,middle=0.5,fine=0.1'.")
flags.DEFINE_string("noise_mode", None, "Style-based: per-layer noise 'random', 'const' (fixed maps) or 'none'.")
cli.define_distributed_flags()

OPTION_FLAGS = ("label", "class_grid", "steps", "sampler", "guidance", "invert", "steps_sweep", "chain", "truncation",
                "truncated_z", "dot_steps", "dot_step_size", "dot_k", "interpolate", "latent_grid", "latent_scatter",
                "direction", "alphas", "mix-crossover", "layer_weights", "noise_mode")


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
  if not cli.is_distributed():  # one process: an option the run's family lacks is refused before JAX loads
    sample_options.check_outputs(cli.recorded_family(FLAGS.workdir), user_options())
  cli.init_distributed()
  import jax
  import jaxgen
  from jaxgen import viz
  from jaxgen.train import collectives
  from jaxgen import fileio
  lead = jax.process_index() == 0
  collectives.agree(lambda: cli.check_writable(FLAGS.out, "--out") if lead else None, "write --out")
  run = jaxgen.load(FLAGS.workdir, step=FLAGS.step)
  out = run.sample_outputs_batched(jax.random.PRNGKey(FLAGS.seed), FLAGS.num, **user_options())
  samples = np.asarray(out["samples"], np.float32)
  if not lead:
    return
  if ext == ".npz":
    arrays = {"samples": samples}
    if "labels" in out:
      arrays["labels"] = np.asarray(out["labels"])
    write = lambda tmp: np.savez(tmp, **arrays)
  else:
    write = lambda tmp: viz.save_sample_outputs(out, tmp, data_name=run.config.data.name)
  try:  # all or nothing: a failed write (a full disk) leaves the file that was at --out as it was
    fileio.atomic_write(FLAGS.out, write)
  except OSError as e:
    kept = "the file that was there is unchanged" if os.path.exists(FLAGS.out) else "nothing was written there"
    cli.fail(f"cannot write --out={FLAGS.out!r} ({e.strerror or e}); {kept}.", cli.RUN_FAILURE, hard=True)
  print(f"wrote {FLAGS.out}: {samples.shape[0]} samples of shape {samples.shape[1:]} from step {run.step}")


if __name__ == "__main__":
  cli.run(main)
