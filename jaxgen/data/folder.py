"""`folder:<path>`: every PNG/JPEG file under <path> (recursively), unlabelled.

Files are sorted by their path relative to <path>, decoded with Pillow (gray images stay gray, anything else becomes
RGB, alpha is dropped) and preprocessed like every image source (`jaxgen.data.preprocess`: squashed, not cropped,
as the reference's `image_dataset_from_directory(image_size=(s, s))`).
With config.data.label = "subfolder" each image is labelled by the first-level sub-folder it is in (classes = the
sorted sub-folder names, as `image_dataset_from_directory(labels="inferred")`); images directly in <path> are then
an error. The split is fixed: a permutation from a constant seed (not config.seed); its first 10 % (at least 1
file when there are 2 or more) are "test", the rest "train".
"""
from __future__ import annotations

import functools
import os

import numpy as np

from jaxgen.data import preprocess as prep
from jaxgen.data import sources
from jaxgen.errors import JaxgenError

EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLIT_SEED = 90_10
TEST_FRACTION = 0.1


@functools.lru_cache(maxsize=8)
def list_images(path: str) -> tuple[str, ...]:
  """Sorted absolute paths of the PNG/JPEG files under `path`; JaxgenError if missing or empty.

  Cached per process (call `list_images.cache_clear()` after adding files to a folder in a live session).
  """
  if not os.path.isdir(path):
    raise JaxgenError(f"data.name='folder:{path}': {path!r} is not a directory; give a folder of PNG/JPEG images.")
  found = []
  for root, dirs, files in os.walk(path, followlinks=True):
    dirs.sort()
    for f in files:
      if f.lower().endswith(EXTENSIONS) and not f.startswith("."):
        found.append(os.path.relpath(os.path.join(root, f), path))
  if not found:
    raise JaxgenError(f"data.name='folder:{path}': no PNG/JPEG images (*.png, *.jpg, *.jpeg) under {path!r}.")
  return tuple(os.path.join(path, f) for f in sorted(found))


LABEL_SUBFOLDER = "subfolder"


def class_names(path: str) -> tuple[str, ...]:
  """Sorted first-level sub-folder names that hold images (the classes of data.label="subfolder")."""
  path = os.path.abspath(os.path.expanduser(path))
  names = set()
  for f in list_images(path):
    rel = os.path.relpath(f, path).split(os.sep)
    if len(rel) < 2:
      raise JaxgenError(f"data.label='subfolder' needs every image of folder:{path} in a class sub-folder, but "
                        f"{f!r} is directly in it; move it or set data.label=''.")
    names.add(rel[0])
  return tuple(sorted(names))


def label_of(path: str, file: str, classes: tuple[str, ...]) -> int:
  return classes.index(os.path.relpath(file, path).split(os.sep)[0])


def split_files(path: str, split: str) -> tuple[str, ...]:
  """The files of `split` ("train" or "test") by the fixed 90/10 permutation."""
  files = list_images(path)
  n = len(files)
  num_test = max(1, int(round(TEST_FRACTION * n))) if n >= 2 else 0
  perm = np.random.default_rng(SPLIT_SEED).permutation(n)
  idx = np.sort(perm[:num_test] if split == "test" else perm[num_test:])
  if idx.size == 0:
    raise JaxgenError(f"data.name='folder:{path}': the {split} split is empty ({n} image(s) found); "
                      "add more images.")
  return tuple(files[i] for i in idx)


def read_image(file: str) -> np.ndarray:
  """uint8 (H, W, 1) for gray images, (H, W, 3) for everything else (alpha dropped)."""
  from PIL import Image
  try:
    with Image.open(file) as im:
      im.load()
      gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
      if im.mode in ("I", "I;16", "F"):
        a = np.asarray(im, np.float64)
        a = np.clip(a * (255.0 / 65535.0) if im.mode != "F" else a * 255.0, 0, 255).astype(np.uint8)
        return a[..., None]
      im = im.convert("L" if gray else "RGB")
      a = np.asarray(im, np.uint8)
  except Image.DecompressionBombError as e:   # a header claiming more pixels than Pillow's limit: not decoded
    raise JaxgenError(f"cannot read image {file!r}: Pillow refuses it as a possible decompression bomb ({e}); "
                      "remove it from the folder or resize it.") from None
  except (OSError, ValueError, SyntaxError) as e:
    raise JaxgenError(f"cannot read image {file!r}: {e}") from None
  return a[..., None] if a.ndim == 2 else a


def open_source(config, path: str, split: str):
  """A source (see jaxgen.data.sources) over the folder's split, preprocessed per config.data."""
  path = os.path.abspath(os.path.expanduser(path))
  files = split_files(path, split)
  d = config.data
  label = d.get("label", "") or ""
  if label and label != LABEL_SUBFOLDER:
    raise JaxgenError(f"data.label={label!r} is not allowed for folder:{path}; choose '' (unlabelled) or "
                      f"'{LABEL_SUBFOLDER}' (labels from the first-level sub-folders).")
  labels = None
  if label:
    classes = class_names(path)
    labels = np.asarray([label_of(path, f, classes) for f in files], np.int32)

  def read(indices):
    images = sources.parallel_map(read_image, [files[int(i)] for i in indices])
    return images, None if labels is None else labels[np.asarray(indices, np.int64)]

  prep_one = functools.partial(prep.preprocess_for, config, what=f"images of folder:{path}")
  prep_batch = functools.partial(sources.prep_images, preprocess_fn=prep_one)
  lazy = sources.LazySource(len(files), read, prep_batch, has_labels=labels is not None)
  if not sources.fits_in_memory(config, len(files)):
    return lazy
  key = ("folder", path, split, files, int(d.image_size), int(d.channels), int(d.pad), d.range, label)
  return sources.cached_in_memory(key, lazy.get_all)
