"""IDX files, the format of the MNIST and Fashion-MNIST distributions, read with NumPy alone (no TensorFlow).

An IDX file is a 4-byte magic number -- two zero bytes, a type byte (0x08: unsigned byte) and the number of
dimensions -- then each dimension as a big-endian uint32, then the values in C order. MNIST's images are magic
0x00000803 (N x rows x cols uint8, 0 = background) and its labels 0x00000801 (N uint8). Files may be given as
published (gzip, `.gz`) or decompressed; gzip is recognised by its content, not by the name.

Every problem is a JaxgenError naming the file, because these files come from the user: a file that is not IDX,
the wrong kind of IDX file (labels where images belong), a truncated or padded file, images and labels that do
not pair up, labels outside the classes.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from jaxgen.errors import JaxgenError

IMAGES_MAGIC = 0x00000803   # uint8, 3 dimensions
LABELS_MAGIC = 0x00000801   # uint8, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"
_KIND = {IMAGES_MAGIC: "images (uint8, 3-D)", LABELS_MAGIC: "labels (uint8, 1-D)"}


def read_bytes(path: str) -> tuple[bytes, bytes]:
  """(bytes of the file as given, its content): the content is the decompressed bytes of a gzip file and the
  file's own bytes otherwise. Both are returned because a checksum may be published for either."""
  with open(path, "rb") as f:
    raw = f.read()
  if not raw.startswith(_GZIP_MAGIC):
    return raw, raw
  try:
    return raw, gzip.decompress(raw)
  except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; a cut-off stream is an EOFError
    raise JaxgenError(f"{path}: the gzip data is damaged or incomplete ({type(e).__name__}: {e}); copy the file "
                      f"again.") from None


def parse(data: bytes, path: str, magic: int) -> np.ndarray:
  """The array (read-only view of `data`) of IDX content `data` read from `path`, which must have IDX magic
  `magic` (IMAGES_MAGIC or LABELS_MAGIC) and hold exactly the bytes its header announces."""
  name = os.path.basename(path)
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
    raise JaxgenError(f"{path} is not an IDX file of unsigned bytes (it starts with {data[:4].hex() or 'nothing'}, "
                      f"expected {magic:08x}); {name} must be the {_KIND[magic]} file of the data set.")
  found = int.from_bytes(data[:4], "big")
  if found != magic:
    raise JaxgenError(f"{path} holds IDX {_KIND.get(found, f'with {data[3]} dimensions')} (magic {found:08x}) where "
                      f"{_KIND[magic]} (magic {magic:08x}) belong; check which file is which.")
  ndim = data[3]
  header = 4 + 4 * ndim
  if len(data) < header:
    raise JaxgenError(f"{path} is truncated: {len(data)} bytes, shorter than its {header}-byte IDX header.")
  shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
  expected = header + int(np.prod(shape, dtype=np.int64))
  if len(data) != expected:
    what = "truncated" if len(data) < expected else "longer than its header says"
    raise JaxgenError(f"{path} is {what}: its header announces {' x '.join(map(str, shape))} values "
                      f"({expected:,} bytes with the header) but it has {len(data):,} bytes; copy the file again.")
  return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def check_pair(images: np.ndarray, labels: np.ndarray, images_path: str, labels_path: str,
               num_classes: int, image_shape: tuple[int, int]) -> None:
  """JaxgenError unless `images` (N, rows, cols) and `labels` (N,) form one split: the same N, images of
  `image_shape`, labels in 0..num_classes-1 (the classes of the TFDS features they are written into)."""
  if images.shape[1:] != tuple(image_shape):
    raise JaxgenError(f"{images_path} holds {'x'.join(map(str, images.shape[1:]))} images; this data set's are "
                      f"{'x'.join(map(str, image_shape))}.")
  if len(images) != len(labels):
    raise JaxgenError(f"{images_path} has {len(images):,} images but {labels_path} has {len(labels):,} labels; "
                      f"they must be the files of one split.")
  if len(labels) and int(labels.max()) >= num_classes:
    bad = int(np.argmax(labels >= num_classes))
    raise JaxgenError(f"{labels_path}: label {int(labels[bad])} at index {bad:,} is outside 0-{num_classes - 1}.")
