"""Data set names, their shapes and classes, and random-access sources of their splits (see jaxgen.data)."""
from __future__ import annotations

import functools

import numpy as np

from jaxgen.data import digits, folder, sources, tfds_source, toy2d
from jaxgen.data.preprocess import preprocess_for
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
  """Number of label classes of the configured data set; 0 when batches carry no "label" (toy2d; celeb_a and
  folders unless `data.label` names an attribute (2 classes: label 1 where true) or "subfolder")."""
  kind, arg = parse_name(config.data.name)
  if kind == "digits":
    return 10
  if kind == "tfds":
    if arg == "celeb_a":
      return 2 if config.data.get("label", "") else 0
    return _TFDS_CLASSES[arg]
  if kind == "folder" and (config.data.get("label", "") or ""):
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
  _check_split(split)
  kind, arg = parse_name(config.data.name)
  if kind == "toy2d":
    return sources.InMemorySource({"x": _toy2d_split(arg, split)})
  if kind == "digits":
    return sources.cached_in_memory(_data_key(config, split), lambda: _digits_split(config, split))
  if kind == "tfds":
    return tfds_source.open_source(config, arg, split)
  return folder.open_source(config, arg, split)


def _digits_split(config, split):
  images, labels = digits.raw_split(split)
  return {"x": preprocess_for(config, images, what="digits images"), "label": labels}


def load_split(config, split: str) -> dict:
  """The whole split as NumPy arrays: {"x": float32 (N, H, W, C) in data.range, "label": int32 (N,)}.

  "label" is present exactly when num_classes(config) > 0. Results are cached per data settings and returned
  read-only. toy2d: {"x": float32 (N, 2)}, the fixed draws of docs/design.md §5 (training samples the stream).
  Large TFDS sets (celeb_a) are decoded in full here: prefer `make_pipeline`.
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
