"""Converts another framework's trained generator into a jaxgen work directory.

  python -m jaxgen.convert stylegan2_ada NETWORK.pkl --workdir=DIR

FORMAT  stylegan2_ada: NVIDIA's StyleGAN2-ADA network pickle (e.g. ffhq.pkl from the StyleGAN2-ADA release); its
        G_ema generator (unconditional, "skip" architecture) is converted, the discriminator is not.
FILE    the pickle. It is read with a restricted unpickler, without PyTorch: only the globals a network pickle
        holds are allowed and the Python source it carries is never executed; a pickle naming anything else is
        refused with one error line (README, "NVIDIA's pretrained StyleGAN2-ADA generator").
--workdir  a new directory; it gets config.json and an Orbax checkpoint at step 0, so `jaxgen.load`, sample.py
        (--truncation, --noise_mode, --interpolate, --direction, --mix-crossover) and jaxgen.latent work on it.

Errors are one `error:` line: exit 2 for a bad command line, an unreadable or refused pickle, or a workdir that
already has checkpoints.
"""
from absl import flags

from jaxgen import cli

FLAGS = flags.FLAGS
FORMATS = ("stylegan2_ada",)


def _define_flags() -> None:
  flags.DEFINE_string("workdir", None, "The jaxgen work directory to write (config.json + checkpoints/); new.")


if __name__ == "__main__":  # --help answers here, before the converter's imports load JAX
  cli.start("python -m jaxgen.convert", _define_flags)

from jaxgen.convert import stylegan2_ada  # loads JAX: after the early --help above, on purpose


def main(argv):
  args = argv[1:]
  if len(args) != 2 or args[0] not in FORMATS:
    cli.fail(f"usage: python -m jaxgen.convert {'|'.join(FORMATS)} NETWORK.pkl --workdir=DIR (got {args!r}; "
             "--help explains them).")
  if not FLAGS.workdir:
    cli.fail("--workdir is required: the directory to write.")
  state = stylegan2_ada.convert(args[1], FLAGS.workdir)
  gen = state.generator
  print(f"wrote {FLAGS.workdir}: StyleGAN2-ADA generator {gen.net.resolution}x{gen.net.resolution}x"
        f"{gen.net.channels}, {gen.num_layers} styles of {gen.w_dim}")


if __name__ == "__main__":
  cli.run(main)
