"""Trains a jaxgen model.

  python train.py --config=configs/ddm_digits.py --workdir=runs/ddm_digits [--config.train.num_steps=300]
  python train.py --config=configs/ddm_digits.py --show_config     # every key of a config and its value

Re-running with the same --workdir resumes from its newest readable checkpoint; only train.num_steps, the
log/checkpoint/sample/eval intervals and sample.* may change between runs (recorded in config_history.jsonl).
One trainer at a time holds a workdir (<workdir>/lock). A config that does not match the workdir's recorded one,
a workdir another trainer holds and unknown --config.KEYs are refused at once, before anything loads.

Configs (configs/NAME.py; each sets only what differs from its family's default, jaxgen/configs/FAMILY.py, which
explains every key; --show_config prints them all, overrides included):
{configs}

Exit status: 0 done, or stopped by SIGTERM/SIGINT after saving a checkpoint (run the same command to resume);
1 the run cannot go on (disk full, failed checkpoint save, unwritable workdir, out of memory); 2 a user
mistake (flags, config, incompatible or busy workdir); 3 training diverged (NaN/Inf; the last good checkpoint
is kept). Every failure is one `error: ...` line on stderr.

Several processes (a TPU VM slice, a GPU cluster; see README "Running on a TPU VM slice / a GPU cluster"): run
the same command on every host with --jax_distributed (auto-detected on Cloud TPU and Slurm) or with
--coordinator_address=HOST:PORT --num_processes=N --process_id=I; the workdir must be shared (or gs://).
A SIGTERM to any one process makes all of them save the same step and exit 0.
"""
import os

from absl import flags
from ml_collections import config_flags

from jaxgen import cli

CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
__doc__ = __doc__.replace("{configs}", cli.config_catalog(CONFIGS))

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Path to a config file in configs/ (e.g. configs/ddm_digits.py; "
                                "the list is above).", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl, TensorBoard files and samples.")
flags.DEFINE_bool("show_config", False, "Print every key of --config (with the --config.KEY overrides) and its "
                  "value, then exit without training.")
cli.define_distributed_flags()


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]!r}; use --flag=value (see --help).")
  if FLAGS.config is None:
    cli.fail("--config is required, e.g. --config=configs/ddm_digits.py (python train.py --help lists them)")
  if FLAGS.show_config:
    print(cli.describe_config(FLAGS.config, FLAGS["config"].config_filename))
    return
  if not FLAGS.workdir:
    cli.fail("--workdir is required, e.g. --workdir=runs/ddm_digits")
  if not cli.is_distributed():  # one process: a mismatched config or a busy workdir is refused before JAX loads
    cli.check_training_workdir(FLAGS.config, FLAGS.workdir)
  if cli.is_lead_process():  # only process 0 prints
    print(f"train.py: starting {FLAGS.config.family} in {FLAGS.workdir} ...", flush=True)
  cli.init_distributed()
  from jaxgen import runtime  # JAX, Flax and Orbax load only once the flags are known to be good
  runtime.train(FLAGS.config, FLAGS.workdir, on_failure=cli.quiet_library_threads)


if __name__ == "__main__":
  cli.run(main)
