"""TFDS data sets through `tfds.data_source` (random access to array_record files; no TensorFlow needed).

  tfds/mnist, tfds/fashion_mnist    28x28x1, labels 0-9; splits train / test.
  tfds/cifar10                      32x32x3, labels 0-9; splits train / test.
  tfds/celeb_a                      218x178x3 aligned faces; "train" = TFDS train+validation (182,637 images; the
                                    reference trains on all 202,599), "test" = TFDS test (19,962). Labelled only
                                    when config.data.label names one of the 40 attributes (label 1 where true).
  tfds/oxford_flowers102            images of various sizes; "train" = train+validation (2,040), "test" = test
                                    (6,149) -- the reference trains on every image it has and ignores labels.

A data set is prepared once, where there is internet, with `python -m jaxgen.prepare <name> [--data_dir=DIR]`
(also offline from the official files: `--from=DIR`, see FROM_FILES); reading it needs neither. Splits whose
preprocessed arrays fit in 2 GiB (all but celeb_a at 32x32 and up) are decoded once into memory; larger ones are
read and preprocessed per batch.
"""
from __future__ import annotations

import contextlib
import functools
import logging

import numpy as np

from jaxgen.data import preprocess as prep
from jaxgen.data import sources
from jaxgen.errors import JaxgenError

SPLITS = {
    "mnist": {"train": "train", "test": "test"},
    "fashion_mnist": {"train": "train", "test": "test"},
    "cifar10": {"train": "train", "test": "test"},
    "celeb_a": {"train": "train+validation", "test": "test"},
    "oxford_flowers102": {"train": "train+validation", "test": "test"},
}


PREPARE_INSTALL = "pip install -e '.[prepare]'"   # the install extra preparing needs (see jaxgen.prepare)
# Sets `python -m jaxgen.prepare NAME --from=DIR` prepares from local files (no internet, no TensorFlow): what.
FROM_FILES = {"mnist": "the official IDX files", "fashion_mnist": "the official IDX files",
              "cifar10": "cifar-10-python.tar.gz or cifar-10-binary.tar.gz",
              "celeb_a": "img_align_celeba.zip, list_eval_partition.txt, list_attr_celeba.txt, "
                         "list_landmarks_align_celeba.txt and identity_CelebA.txt",
              "oxford_flowers102": "102flowers.tgz, imagelabels.mat and setid.mat"}


def convert_hint(name: str, version_dir: str, fmt: str) -> str:
  """One sentence for a set prepared in another file format than array_record."""
  return (f"tfds/{name} in {version_dir} is prepared as {fmt}, jaxgen reads array_record; convert it once with: "
          f"tfds convert_format --dataset_version_dir={version_dir} --out_file_format=array_record (needs "
          f"{PREPARE_INSTALL}).")


def prepare_hint(name: str, data_dir: str | None) -> str:
  """One sentence: where `name` is missing and the command that prepares it."""
  where = data_dir or "the default TFDS data_dir (~/tensorflow_datasets or $TFDS_DATA_DIR)"
  dd = f" --data_dir={data_dir}" if data_dir else ""
  offline = (f"; or without internet from {FROM_FILES[name]}: python -m jaxgen.prepare {name} --from=DIR{dd}"
             if name in FROM_FILES else "")
  return (f"tfds/{name} is not prepared in {where}; prepare it once with: python -m jaxgen.prepare {name}{dd} "
          f"(needs internet and {PREPARE_INSTALL}){offline}.")


@contextlib.contextmanager
def without_missing_folder_warnings():
  """Context: TFDS's 'Variant folder ... has no dataset_info.json' warnings are not shown (jaxgen says itself what
  is missing)."""
  absl_logger = logging.getLogger("absl")
  quiet = lambda record: not str(record.msg).startswith("Variant folder")
  absl_logger.addFilter(quiet)
  try:
    yield
  finally:
    absl_logger.removeFilter(quiet)


def _open_tfds(name: str, tfds_split: str, data_dir: str | None):
  """tfds.data_source with download=False; a JaxgenError saying how to prepare the data set if it fails.

  The data source is tried first and only a failure is diagnosed, so `tfds.testing.mock_data` (which patches
  the data source but leaves builders unprepared) keeps working.
  """
  try:
    import tensorflow_datasets as tfds
  except ImportError as e:  # pragma: no cover - tensorflow-datasets is a dependency
    raise JaxgenError(f"tfds/{name} needs the tensorflow-datasets package: pip install tensorflow-datasets "
                      f"({e}).") from None
  with without_missing_folder_warnings():
    try:
      return tfds.data_source(name, split=tfds_split, data_dir=data_dir, download=False)
    except ImportError as e:  # a module TFDS needs for this set; not a preparation problem
      if e.name:
        raise JaxgenError(f"reading tfds/{name} needs the Python module {e.name}: pip install {e.name}.") from None
      raise JaxgenError(f"reading tfds/{name} failed on an import ({str(e).splitlines()[0] if str(e) else 'ImportError'})."
                        ) from None
    except Exception as e:  # diagnose below; TFDS raises several types here
      error = e
    try:
      builder = tfds.builder(name, data_dir=data_dir)
      prepared = builder.is_prepared()
    except Exception:
      builder, prepared = None, False
  if not prepared:
    raise JaxgenError(prepare_hint(name, data_dir)) from None
  fmt = getattr(builder.info.file_format, "value", builder.info.file_format)
  if fmt != "array_record":
    raise JaxgenError(convert_hint(name, builder.data_dir, fmt)) from None
  raise JaxgenError(f"tfds/{name} in {builder.data_dir} cannot be opened for random access "
                    f"({type(error).__name__}: {str(error).splitlines()[0]}); prepare it again with: python -m "
                    f"jaxgen.prepare {name}" + (f" --data_dir={data_dir}" if data_dir else "") + ".") from None


def open_split(name: str, split: str, data_dir: str | None = None):
  """The random-access TFDS data source (len, [i] -> record dict) of jaxgen split "train"/"test" of `name`."""
  return _open_tfds(name, SPLITS[name][split], data_dir)


def _label_fn(name: str, label_attr: str, first_record: dict):
  """record -> int label, or None when the set is unlabelled under this config."""
  if name == "celeb_a":
    if not label_attr:
      return None
    attrs = first_record.get("attributes", {})
    if label_attr not in attrs:
      raise JaxgenError(f"data.label={label_attr!r} is not a CelebA attribute; choose one of "
                        f"{', '.join(sorted(attrs))}.")
    return lambda r: int(bool(r["attributes"][label_attr]))
  return lambda r: int(r["label"])


def open_source(config, name: str, split: str):
  """A source (see jaxgen.data.sources) over split `split` of TFDS data set `name`, preprocessed per config.

  Held in memory (decoded once, cached) when the preprocessed split fits in sources.IN_MEMORY_BYTES, else read
  and preprocessed per batch (CelebA at 64x64).
  """
  d = config.data
  data_dir = d.get("data_dir", "") or None
  label_attr = d.get("label", "") or ""
  ds = open_split(name, split, data_dir)
  n = len(ds)
  if n == 0:
    raise JaxgenError(f"tfds/{name} split {SPLITS[name][split]!r} in {data_dir or 'the default data_dir'} is empty.")
  label_of = _label_fn(name, label_attr, ds[0])

  def read(indices):
    records = sources.parallel_map(ds.__getitem__, [int(i) for i in indices])
    images = [np.asarray(r["image"]) for r in records]
    labels = None if label_of is None else [label_of(r) for r in records]
    return images, labels

  prep_one = functools.partial(prep.preprocess_for, config, what=f"tfds/{name} images")
  prep_batch = functools.partial(sources.prep_images, preprocess_fn=prep_one)
  lazy = sources.LazySource(n, read, prep_batch, has_labels=label_of is not None)
  if not sources.fits_in_memory(config, n):
    return lazy
  key = ("tfds", name, split, data_dir, n, int(d.image_size), int(d.channels), int(d.pad), d.range, label_attr)
  return sources.cached_in_memory(key, lazy.get_all)
