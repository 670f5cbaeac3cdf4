"""Prepares the TFDS data sets of the reference configs once, in the array_record format jaxgen reads.

  python -m jaxgen.prepare fashion_mnist                    # into the default TFDS data_dir
  python -m jaxgen.prepare mnist cifar10 --data_dir=/data/tfds
  python -m jaxgen.prepare all                              # every set below (about 2 GB of downloads)

then train with `--config.data.data_dir=/data/tfds` when it is not the default (~/tensorflow_datasets or
$TFDS_DATA_DIR). Each set is downloaded and converted by its TFDS builder
(`tfds.builder(NAME).download_and_prepare()` with file_format="array_record"), then every split jaxgen reads is
opened through jaxgen's own reader and its size printed. A set that is already prepared is only checked.

Preparing needs more than training does (install it with `pip install -e '.[prepare]'`):
  tensorflow-cpu       TFDS's builders for these sets read and write through TensorFlow: `tf.io.gfile` in the
                       mnist/fashion_mnist/cifar10/oxford_flowers102 builders, `tf.image.encode_png` for the
                       in-memory MNIST and CIFAR images, TFDS's archive extractor (every set: .gz, .tar.gz, .tgz,
                       .zip) and its shuffler once a split passes 1 GB (celeb_a). Reading the prepared files (training,
                       sampling, evaluating) does not use TensorFlow.
  importlib_resources  tensorflow-datasets 4.9 imports it in `download_and_prepare` but declares it only for
                       Python < 3.9.
and internet access to the hosts in DOWNLOADS (celeb_a comes from Google Drive, which refuses large downloads
when a file's daily quota is used up; retry later). On a machine without internet, prepare on one that has it and
copy the DATA_DIR/NAME folder over. The raw downloads stay in DATA_DIR/downloads (reused by a rerun); delete them
once the set is prepared.
"""
from __future__ import annotations

import importlib
import os

from absl import flags

from jaxgen import cli
from jaxgen.data import tfds_source
from jaxgen.errors import JaxgenError

# name -> (approximate download, host): from TFDS's checksum files for tensorflow-datasets 4.9.
DOWNLOADS = {
    "mnist": ("12 MB", "storage.googleapis.com"),
    "fashion_mnist": ("31 MB", "fashion-mnist.s3-website.eu-central-1.amazonaws.com"),
    "cifar10": ("170 MB", "www.cs.toronto.edu"),
    "celeb_a": ("1.5 GB", "drive.google.com"),
    "oxford_flowers102": ("345 MB", "www.robots.ox.ac.uk"),
}


def check_name(name: str) -> None:
  """JaxgenError unless `name` is one of the TFDS sets the configs use."""
  if name not in DOWNLOADS:
    raise JaxgenError(f"{name!r} is not a data set jaxgen prepares; choose one of {', '.join(DOWNLOADS)} or all.")


def missing_requirements() -> list[str]:
  """The modules preparing needs that cannot be imported (see the module docstring), in install order."""
  missing = []
  for module in ("tensorflow", "importlib_resources"):
    try:
      importlib.import_module(module)
    except ImportError:
      missing.append(module)
  return missing


def require_preparation_tools(name: str) -> None:
  """JaxgenError naming the install command when TensorFlow or importlib_resources is missing."""
  missing = missing_requirements()
  if missing:
    raise JaxgenError(f"preparing tfds/{name} needs the Python module(s) {', '.join(missing)} that TFDS's builders "
                      f"use (training does not); install them with: {tfds_source.PREPARE_INSTALL} (or pip install "
                      f"tensorflow-cpu importlib_resources).")


def _default_builder(name: str, data_dir: str | None):
  import tensorflow_datasets as tfds
  return tfds.builder(name, data_dir=data_dir, file_format="array_record")


def _file_format(builder) -> str:
  fmt = builder.info.file_format
  return getattr(fmt, "value", str(fmt))   # a tfds FileFormat enum


def split_sizes(name: str, data_dir: str | None) -> dict[str, int]:
  """{jaxgen split: number of examples} read through jaxgen's own TFDS reader (so the set is usable as prepared)."""
  return {split: len(tfds_source.open_split(name, split, data_dir)) for split in tfds_source.SPLITS[name]}


def prepare(name: str, data_dir: str | None = None, builder_fn=_default_builder, log=print) -> dict[str, int]:
  """Downloads and prepares TFDS set `name` in array_record format under `data_dir` (None: TFDS's default),
  unless it is prepared already; returns and logs the example count of each split jaxgen reads.

  `builder_fn(name, data_dir)` makes the TFDS builder (tests pass one that needs no download). Raises JaxgenError
  with one line for a missing tool, a set prepared in another format, or a failed download.
  """
  check_name(name)
  with tfds_source.without_missing_folder_warnings():
    builder = builder_fn(name, data_dir)
    prepared = builder.is_prepared()
  where = os.fspath(builder.data_dir)
  if prepared:
    if _file_format(builder) != "array_record":
      raise JaxgenError(tfds_source.convert_hint(name, where, _file_format(builder)))
    log(f"tfds/{name}: already prepared in {where}")
  else:
    if builder_fn is _default_builder:
      require_preparation_tools(name)
    size, host = DOWNLOADS[name]
    log(f"tfds/{name}: downloading about {size} from {host} and writing array_record files to {where} ...")
    try:
      builder.download_and_prepare()
    except Exception as e:  # network, quota, checksum, disk, a missing module: TFDS raises many types
      failure = f"preparing tfds/{name} failed ({type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:300]})"
      if isinstance(e, ImportError) or "No module named" in str(e):   # TFDS wraps some (ExtractError)
        raise JaxgenError(f"{failure}; install what TFDS's builders need with: {tfds_source.PREPARE_INSTALL}.") from None
      raise JaxgenError(f"{failure}; it needs internet access to {host} and about 3x {size} of free disk; a rerun "
                        f"reuses the completed downloads.") from None
  sizes = split_sizes(name, data_dir)
  log(f"tfds/{name}: " + ", ".join(f"{split} {n:,} examples" for split, n in sizes.items())
      + f" in {where}" + (f" (train with --config.data.data_dir={data_dir})" if data_dir else ""))
  return sizes


def main(argv):
  names = argv[1:]
  if not names:
    cli.fail(f"name the data set(s) to prepare: python -m jaxgen.prepare NAME [--data_dir=DIR], NAME one of "
             f"{', '.join(DOWNLOADS)} or all.")
  if "all" in names:
    names = list(DOWNLOADS)
  for name in names:
    check_name(name)
  for name in names:
    prepare(name, flags.FLAGS.data_dir or None)


if __name__ == "__main__":
  flags.DEFINE_string("data_dir", None, "TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
  cli.run(main)
