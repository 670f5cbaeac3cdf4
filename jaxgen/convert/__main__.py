"""python -m jaxgen.convert stylegan2_ada NETWORK.pkl --workdir=DIR"""
import sys

from absl import flags

from jaxgen import cli
from jaxgen.convert import stylegan2_ada

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "The jaxgen work directory to write (config.json + checkpoints/).")
FORMATS = ("stylegan2_ada",)


def main(argv):
  args = argv[1:]
  if len(args) != 2 or args[0] not in FORMATS:
    cli.fail(f"usage: python -m jaxgen.convert {'|'.join(FORMATS)} NETWORK.pkl --workdir=DIR (got {args!r}).")
  if not FLAGS.workdir:
    cli.fail("--workdir is required: the directory to write.")
  state = stylegan2_ada.convert(args[1], FLAGS.workdir)
  gen = state.generator
  print(f"wrote {FLAGS.workdir}: StyleGAN2-ADA generator {gen.net.resolution}x{gen.net.resolution}x"
        f"{gen.net.channels}, {gen.num_layers} styles of {gen.w_dim}")


if __name__ == "__main__":
  sys.argv[0] = "python -m jaxgen.convert"
  cli.run(main)
