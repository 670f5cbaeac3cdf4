"""Data sets as batches (docs/design.md §5).

`config.data.name` is one of
  toy2d/<name>    8gaussians, 25gaussians, swissroll, moons, checkerboard, rings: 2-D points sampled in JAX from a
                  key (an infinite stream; see `jaxgen.data.toy2d` for the constants).
  digits          scikit-learn's bundled 8x8 digits (1,797 images, labels 0-9), fixed 1437/360 train/test split.
  tfds/<name>     mnist, fashion_mnist, cifar10, celeb_a, oxford_flowers102 through `tfds.data_source`
                  (array_record files prepared once; see `jaxgen.data.tfds_source`).
  folder:<path>   every PNG/JPEG under <path> (recursively), fixed 90/10 train/test split; labelled by
                  first-level sub-folder when data.label = "subfolder".

Images are preprocessed by `jaxgen.data.preprocess` (to [0,1] -> pad -> bilinear squash to data.image_size ->
channels -> data.range) into float32 NHWC. Batches are dicts {"x": float32, "label": int32 (B,)} with "label"
present exactly when `num_classes(config) > 0`.

Public API:
  check_name(name)                 JaxgenError unless `name` is one of the forms above.
  load_split(config, split)        the whole "train"/"test" split as {"x", "label"?} NumPy arrays (cached).
  example_batch(config, B)         zeros of the batch shapes (no data loading).
  num_classes(config)              10 / 102 / 2 (CelebA with data.label) / 0.
  make_pipeline(config, split)     deterministic batches for the training loop (`jaxgen.data.pipeline`).
"""
from __future__ import annotations

import functools

import numpy as np

from jaxgen.data import toy2d
from jaxgen.errors import JaxgenError

TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10", "celeb_a", "oxford_flowers102")
SPLITS = ("train", "test")
_TFDS_CLASSES = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "oxford_flowers102": 102}


def _allowed_forms() -> str:
  return (", ".join(f"toy2d/{n}" for n in toy2d.NAMES) + ", digits, "
          + ", ".join(f"tfds/{n}" for n in TFDS_NAMES) + ", folder:<path>")


def parse_name(name: str) -> tuple[str, str]:
  """'toy2d/moons' -> ('toy2d', 'moons'); 'digits' -> ('digits', ''); 'tfds/mnist' -> ('tfds', 'mnist');
  'folder:/data/x' -> ('folder', '/data/x'). Raises JaxgenError naming the bad name and the allowed forms."""
  if not isinstance(name, str):
    raise JaxgenError(f"data.name={name!r} is not a data set name; choose one of {_allowed_forms()}.")
  if name == "digits":
    return "digits", ""
  if name.startswith("folder:"):
    path = name[len("folder:"):]
    if path.strip():
      return "folder", path
  elif name.startswith("toy2d/") and name[len("toy2d/"):] in toy2d.NAMES:
    return "toy2d", name[len("toy2d/"):]
  elif name.startswith("tfds/") and name[len("tfds/"):] in TFDS_NAMES:
    return "tfds", name[len("tfds/"):]
  raise JaxgenError(f"data.name={name!r} is not a known data set; choose one of {_allowed_forms()}.")


def check_name(name: str) -> None:
  """Raises JaxgenError naming `name` and listing the allowed forms unless it is a valid data set name."""
  parse_name(name)


def is_toy2d(config) -> bool:
  """True for the 2-D point streams (batches {"x": (B, 2)})."""
  return parse_name(config.data.name)[0] == "toy2d"


def num_classes(config) -> int:
  """Number of label classes of the configured data set; 0 when batches carry no "label".

  digits, mnist, fashion_mnist, cifar10: 10; oxford_flowers102: 102; celeb_a: 2 when `data.label` names a binary
  attribute (label = 1 where the attribute is true), else 0; folder: the number of class sub-folders when
  data.label = "subfolder", else 0; toy2d: 0.
  """
  kind, arg = parse_name(config.data.name)
  if kind == "digits":
    return 10
  if kind == "tfds":
    if arg == "celeb_a":
      return 2 if config.data.get("label", "") else 0
    return _TFDS_CLASSES[arg]
  if kind == "folder" and (config.data.get("label", "") or ""):
    from jaxgen.data import folder
    return len(folder.class_names(arg))
  return 0


def example_shape(config) -> tuple[int, ...]:
  """Shape of one example: (2,) for toy2d, else (image_size, image_size, channels)."""
  if is_toy2d(config):
    return (2,)
  s = int(config.data.image_size)
  return (s, s, int(config.data.channels))


def example_batch(config, batch_size: int) -> dict:
  """{"x": float32 zeros (B, *example_shape), "label": int32 zeros (B,) if labelled}. Loads no data."""
  batch = {"x": np.zeros((int(batch_size),) + example_shape(config), np.float32)}
  if num_classes(config) > 0:
    batch["label"] = np.zeros((int(batch_size),), np.int32)
  return batch


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise JaxgenError(f"split={split!r} is not allowed; choose 'train' or 'test'.")


def _data_key(config, split: str) -> tuple:
  d = config.data
  return (d.name, split, int(d.image_size), int(d.channels), int(d.pad), d.range,
          d.get("data_dir", "") or "", d.get("label", "") or "")


def open_source(config, split: str):
  """A random-access source of the finite split: `.num_examples`, `.has_labels`, `.get(indices) -> batch dict`.

  For toy2d this is the fixed finite draw of `load_split` (the training pipeline samples the stream instead).
  """
  from jaxgen.data import sources
  _check_split(split)
  kind, arg = parse_name(config.data.name)
  if kind == "toy2d":
    return sources.InMemorySource({"x": _toy2d_split(arg, split)})
  if kind == "digits":
    return sources.cached_in_memory(_data_key(config, split), lambda: _digits_split(config, split))
  if kind == "tfds":
    from jaxgen.data import tfds_source
    return tfds_source.open_source(config, arg, split)
  from jaxgen.data import folder
  return folder.open_source(config, arg, split)


def _digits_split(config, split):
  from jaxgen.data import digits
  from jaxgen.data.preprocess import preprocess_for
  images, labels = digits.raw_split(split)
  return {"x": preprocess_for(config, images, what="digits images"), "label": labels}


def load_split(config, split: str) -> dict:
  """The whole split as NumPy arrays: {"x": float32 (N, H, W, C) in data.range, "label": int32 (N,)}.

  "label" is present exactly when num_classes(config) > 0. Results are cached per data settings and returned
  read-only. For toy2d the split is a FIXED finite draw from constant keys (independent of config.seed):
  "test" = 10,000 points, "train" = 100,000 points, {"x": float32 (N, 2)}; training itself uses the infinite
  stream of `make_pipeline`. Large TFDS sets (celeb_a) are decoded in full here: prefer `make_pipeline`.
  """
  _check_split(split)
  kind, arg = parse_name(config.data.name)
  if kind == "toy2d":
    return {"x": _toy2d_split(arg, split)}
  src = open_source(config, split)
  return src.get_all()


@functools.lru_cache(maxsize=16)
def _toy2d_split(name: str, split: str) -> np.ndarray:
  x = toy2d.fixed_split(name, split)
  x.flags.writeable = False
  return x


def make_pipeline(config, split: str = "train"):
  """Deterministic batch source for the training loop; see `jaxgen.data.pipeline.Pipeline`."""
  from jaxgen.data.pipeline import Pipeline
  return Pipeline(config, split)


__all__ = ["check_name", "parse_name", "load_split", "example_batch", "example_shape", "num_classes",
           "make_pipeline", "open_source", "is_toy2d", "toy2d", "TFDS_NAMES"]
