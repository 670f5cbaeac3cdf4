"""Trains a jaxgen model.

  python train.py --config=configs/ddm_digits.py --workdir=runs/ddm_digits [--config.train.num_steps=300]

Re-running with the same --workdir resumes from its latest checkpoint. See README.md.
"""
from absl import flags
from ml_collections import config_flags

from jaxgen import cli

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to a config file in configs/ (e.g. configs/ddm_digits.py).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl, TensorBoard files and samples.")
flags.DEFINE_bool("jax_distributed", False, "Call jax.distributed.initialize() first (multi-host TPU/GPU).")


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]!r}; use --flag=value (see --help).")
  if FLAGS.config is None:
    cli.fail("--config is required, e.g. --config=configs/ddm_digits.py")
  if not FLAGS.workdir:
    cli.fail("--workdir is required, e.g. --workdir=runs/ddm_digits")
  import jax
  if FLAGS.jax_distributed:
    jax.distributed.initialize()
  from jaxgen.train import TrainingDiverged, train
  try:
    train(FLAGS.config, FLAGS.workdir)
  except TrainingDiverged as e:
    print(f"error: {e}", flush=True)
    raise SystemExit(1)


if __name__ == "__main__":
  cli.run(main)
