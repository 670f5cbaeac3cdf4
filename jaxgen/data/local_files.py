"""The official files of CIFAR-10, Oxford Flowers 102 and CelebA read without TensorFlow, for
`python -m jaxgen.prepare NAME --from=DIR` (MNIST's IDX files: jaxgen.data.idx and jaxgen.prepare).

  cifar10            cifar-10-python.tar.gz (or its folder cifar-10-batches-py/), else cifar-10-binary.tar.gz (or
                     cifar-10-batches-bin/): train = data_batch_1..5, test = test_batch.
  oxford_flowers102  102flowers.tgz (or its folder jpg/), imagelabels.mat, setid.mat: train / validation / test =
                     setid's trnid / valid / tstid, label = imagelabels - 1.
  celeb_a            img_align_celeba.zip (or its folder img_align_celeba/), list_eval_partition.txt,
                     list_attr_celeba.txt, list_landmarks_align_celeba.txt, identity_CelebA.txt (in DIR or in the
                     Img/, Eval/, Anno/ folders of the official Google Drive layout).

A reader returns a LocalFiles: {TFDS split: function -> iterator of (key, example)} with the keys and features of
TFDS's own builder (CIFAR images as PNG bytes; JPEG files passed through as they are), once every file is there,
parses and (unless skip_checksums) matches PUBLISHED. Image archives are read in full at that point; per-image
checks that need the pixels (CelebA's size, RGB JPEG) run while TFDS writes, whose failures leave nothing behind.
CIFAR's python batches are pickles: they are read by RestrictedUnpickler, which builds NumPy arrays and nothing else.
Every problem is a JaxgenError of one line naming the file.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import tarfile
import zipfile
import zlib
from typing import Callable, NamedTuple

import numpy as np

from jaxgen.errors import JaxgenError

try:
  from numpy._core.multiarray import _reconstruct as _numpy_reconstruct   # NumPy 2
except ImportError:  # pragma: no cover - NumPy 1
  from numpy.core.multiarray import _reconstruct as _numpy_reconstruct

UNVERIFIED = "unverified"


class LocalFiles(NamedTuple):
  """What a reader checked: {TFDS split: function -> iterator of (key, example dict)}, the release the files matched
  (or UNVERIFIED) and the class names the builder's "label" feature gets (None: the builder's own)."""
  splits: dict
  source: str
  label_names: tuple | None = None


class Published(NamedTuple):
  """A published checksum of one file: hashlib algorithm, hex digest, who published it."""
  algorithm: str
  digest: str
  by: str


_TFDS = "TFDS 4.9's checksums"
_TORCHVISION = "torchvision's CIFAR10"


def _tfds(sha256: str) -> Published:
  return Published("sha256", sha256, _TFDS)


def _torchvision(md5: str) -> Published:
  return Published("md5", md5, _TORCHVISION)


# data set -> file (the extracted ones under their folder) -> Published. Checked before anything is written, so a
# damaged or altered copy is never prepared under the official name unnoticed.
PUBLISHED = {
    "cifar10": {
        "cifar-10-python.tar.gz": Published("md5", "c58f30108f718f92721af3b95e74349a", "the CIFAR page"),
        "cifar-10-batches-py/data_batch_1": _torchvision("c99cafc152244af753f735de768cd75f"),
        "cifar-10-batches-py/data_batch_2": _torchvision("d4bba439e000b95fd0a9bffe97cbabec"),
        "cifar-10-batches-py/data_batch_3": _torchvision("54ebc095f3ab1f0389bbae665268c751"),
        "cifar-10-batches-py/data_batch_4": _torchvision("634d18415352ddfa80567beed471001a"),
        "cifar-10-batches-py/data_batch_5": _torchvision("482c414d41f54cd18b22e5b47cb7c3cb"),
        "cifar-10-batches-py/test_batch": _torchvision("40351d587109b95175f43aff81a1287e"),
        "cifar-10-binary.tar.gz": _tfds("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
    },
    "oxford_flowers102": {
        "102flowers.tgz": _tfds("2d01ecc807db462958cfe3d92f57a8c252b4abd240eb955770201e45f783b246"),
        "imagelabels.mat": _tfds("4903e94206bac23bf772aadf06451916df56b58fc483a62db32a97b82656651d"),
        "setid.mat": _tfds("46b8678f91fd95d3c8f4feab80d271a6c834a1dd896fe29fd3e6ad9ce5c8dccd"),
    },
    "celeb_a": {
        "img_align_celeba.zip": _tfds("46fb89443c578308acf364d7d379fe1b9efb793042c0af734b6112e4fd3a8c74"),
        "list_eval_partition.txt": _tfds("fc955bcb3ef8fbdf7d5640d9a8693a8431b5f2ee291a5c1449a1549e7e073fe7"),
        "list_attr_celeba.txt": _tfds("f0e5da289d5ccf75ffe8811132694922b60f2af59256ed362afa03fefba324d0"),
        "list_landmarks_align_celeba.txt": _tfds("6c02a87569907f6db2ba99019085697596730e8129f67a3d61659f198c48d43b"),
        "identity_CelebA.txt": _tfds("c6143857c3e2630ac2da9f782e9c1232e5e59be993a9d44e8a7916c78a6158c0"),
    },
}
RELEASES = {"cifar10": "official (Toronto)", "oxford_flowers102": "official (Oxford VGG)",
            "celeb_a": "official (CUHK MMLab)"}


# ------------------------------------------------------------------------------------------------- shared pieces
def png_bytes(image: np.ndarray) -> bytes:
  """A uint8 (H, W) or (H, W, 3) image as greyscale or RGB PNG bytes: TFDS's Image feature stores encoded images,
  and given bytes it writes them as they are, so no TensorFlow (tf.image.encode_png) is needed."""
  from PIL import Image   # local import: Pillow only where images are encoded
  buffer = io.BytesIO()
  Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
  return buffer.getvalue()


def _digest(path: str, algorithm: str) -> str:
  h = hashlib.new(algorithm)
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def verify(name: str, key: str, path: str, skip_checksums: bool, instead: str = "") -> bool:
  """True when file `path` is the published `key` of data set `name`; False when it is not (or nothing is
  published for it) and skip_checksums; else JaxgenError. `instead`: what to give when nothing is published."""
  known = PUBLISHED[name].get(key)
  if known is None:
    if skip_checksums:
      return False
    raise JaxgenError(f"{path}: no checksum is published for {key}; give {instead} as published, or prepare it "
                      f"anyway with --skip_checksums.")
  found = _digest(path, known.algorithm)
  if found == known.digest or skip_checksums:
    return found == known.digest
  raise JaxgenError(f"{path}: {known.algorithm} {found} is not that of the published {key} ({known.digest}, per "
                    f"{known.by}); copy it again, or if you trust it, prepare it anyway with --skip_checksums.")


def _source(name: str, verified: bool) -> str:
  return RELEASES[name] if verified else UNVERIFIED


def _need_dir(source_dir: str, name: str, needs: str) -> None:
  if not os.path.isdir(source_dir):
    raise JaxgenError(f"--from={source_dir}: no such directory; for {name} it must hold {needs}.")


def _first(source_dir: str, entries, sub: str = "") -> str | None:
  """The path of the first of `entries` that is in `source_dir` (or in its folder `sub`), else None."""
  for entry in entries:
    for path in (os.path.join(source_dir, entry), os.path.join(source_dir, sub, entry)):
      if os.path.exists(path):
        return path
  return None


def _read(path: str) -> bytes:
  with open(path, "rb") as f:
    return f.read()


def _require(needed, present, where: str, of: str) -> None:
  """JaxgenError naming the first of `needed` that is not in `present` (and how many more): "`where` has no X `of`"."""
  missing = sorted(set(needed) - set(present))
  if missing:
    more = f" (nor {len(missing) - 1:,} more)" if len(missing) > 1 else ""
    raise JaxgenError(f"{where} has no {missing[0]}{more} {of}")


def _tar_members(path: str, folder: str, wanted=None) -> dict[str, bytes]:
  """{file name: bytes} of the files in folder `folder` of tar archive `path` (gzip or not), all or `wanted`."""
  out = {}
  try:
    with tarfile.open(path, "r:*") as tar:
      for member in tar:
        where, _, base = member.name.rpartition("/")
        if member.isfile() and where.endswith(folder) and (wanted is None or base in wanted):
          out[base] = tar.extractfile(member).read()
  except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
    raise JaxgenError(f"{path}: the archive is damaged or incomplete ({type(e).__name__}: {e}); copy it "
                      f"again.") from None
  _require(wanted or (), out, path, f"in its folder {folder}/; is it the official archive?")
  return out


class Images(NamedTuple):
  """Encoded images by file name, from an archive or a folder: `names`, `read(name) -> bytes`, `where` (a path)."""
  names: frozenset
  read: Callable[[str], bytes]
  where: str


def images_in(path: str, folder: str) -> Images:
  """The images of folder `folder` in tar or zip archive `path` (tar: read into memory now), or of folder `path`."""
  if os.path.isdir(path):
    return Images(frozenset(os.listdir(path)), lambda n: _read(os.path.join(path, n)), path)
  if not zipfile.is_zipfile(path):
    members = _tar_members(path, folder)
    return Images(frozenset(members), members.__getitem__, path)
  try:
    archive = zipfile.ZipFile(path)
    names = {n.rpartition("/")[2]: n for n in archive.namelist() if n.rpartition("/")[0].endswith(folder)}
  except (zipfile.BadZipFile, OSError) as e:
    raise JaxgenError(f"{path}: the archive is damaged or incomplete ({e}); copy it again.") from None
  return Images(frozenset(n for n in names if n), lambda n: archive.read(names[n]), path)


def checked_jpeg(images: Images, name: str, size: tuple[int, int] | None = None) -> bytes:
  """The bytes of image `name`, a JaxgenError unless they are an RGB JPEG (of `size` (width, height) if given)."""
  from PIL import Image, UnidentifiedImageError   # local import: Pillow only where images are read
  data = images.read(name)
  try:
    with Image.open(io.BytesIO(data)) as image:
      found = (image.format, image.mode, image.size)
  except (UnidentifiedImageError, OSError) as e:
    raise JaxgenError(f"{images.where}: {name} is not an image ({e}).") from None
  if found[:2] != ("JPEG", "RGB") or (size and found[2] != size):
    raise JaxgenError(f"{images.where}: {name} is a {found[2][0]}x{found[2][1]} {found[1]} {found[0]}; expected an "
                      f"RGB JPEG" + (f" of {size[0]}x{size[1]}" if size else "") + ".")
  return data


# ------------------------------------------------------------------------------------------------------ CIFAR-10
class RestrictedUnpickler(pickle.Unpickler):
  """Unpickles what CIFAR-10's python batches hold -- dicts, lists, strings, numbers and NumPy arrays -- and refuses
  every other global (a pickle can name any callable, os.system included) before calling it."""

  def find_class(self, module, name):
    allowed = {("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
               ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
               ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    if (module, name) not in allowed:
      raise JaxgenError(f"it names the global {module}.{name}, and only NumPy arrays are unpickled")
    return allowed[(module, name)]


def load_pickle(data: bytes, path: str):
  """The object pickled in `data` (from `path`), built by RestrictedUnpickler; JaxgenError for anything else."""
  try:
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
  except JaxgenError as e:
    raise JaxgenError(f"{path} was not unpickled: {e}; it is not an official CIFAR-10 python batch.") from None
  except Exception as e:  # a damaged pickle raises many types (UnpicklingError, EOFError, ValueError, ...)
    raise JaxgenError(f"{path} is not a readable pickle ({type(e).__name__}: {e}); copy it again.") from None


CIFAR_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# What --from reads for cifar10, in the order it is looked for: file or folder in DIR -> the batches' folder.
CIFAR_FORMS = {"cifar-10-python.tar.gz": "cifar-10-batches-py", "cifar-10-batches-py": "cifar-10-batches-py",
               "cifar-10-binary.tar.gz": "cifar-10-batches-bin", "cifar-10-batches-bin": "cifar-10-batches-bin"}


def _cifar_python_batch(data: bytes, path: str) -> tuple[np.ndarray, np.ndarray]:
  batch = load_pickle(data, path)
  images = batch.get("data") if isinstance(batch, dict) else None
  labels = np.asarray(batch.get("labels", ())) if isinstance(batch, dict) else None
  if (not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072
      or labels.dtype.kind not in "iu" or labels.shape != images.shape[:1]):
    raise JaxgenError(f"{path} is not a CIFAR-10 python batch (a dict of 'data', uint8 N x 3072, and N 'labels').")
  return images, labels


def _cifar_binary_batch(data: bytes, path: str) -> tuple[np.ndarray, np.ndarray]:
  if len(data) % 3073:
    raise JaxgenError(f"{path} is not whole CIFAR-10 records (1 label byte + 3,072 pixel bytes each): it has "
                      f"{len(data):,} bytes; copy it again.")
  records = np.frombuffer(data, np.uint8).reshape(-1, 3073)
  return records[:, 1:], records[:, 0]


def _cifar_files(source_dir: str, skip_checksums: bool) -> tuple[dict[str, bytes], str, bool]:
  """({batch file name: bytes}, the form read (a key of CIFAR_FORMS), verified) of the first form in `source_dir`."""
  needs = ", ".join(f + ("" if f.endswith(".gz") else "/") for f in CIFAR_FORMS)
  _need_dir(source_dir, "cifar10", f"one of {needs}")
  for entry, folder in CIFAR_FORMS.items():
    path = os.path.join(source_dir, entry)
    wanted = [b + (".bin" if folder.endswith("-bin") else "") for batches in CIFAR_BATCHES.values() for b in batches]
    if os.path.isfile(path):
      verified = verify("cifar10", entry, path, skip_checksums)
      return _tar_members(path, folder, wanted), entry, verified
    if os.path.isdir(path):
      _require(wanted, os.listdir(path), path, "(--from for cifar10 needs all 6 batches).")
      verified = all([verify("cifar10", f"{entry}/{b}", os.path.join(path, b), skip_checksums,
                             "cifar-10-binary.tar.gz") for b in wanted])
      return {b: _read(os.path.join(path, b)) for b in wanted}, entry, verified
  raise JaxgenError(f"{source_dir} holds none of {needs}; --from for cifar10 needs one of them (as published on "
                    f"https://www.cs.toronto.edu/~kriz/cifar.html).")


def _cifar_examples(prefix: str, images: np.ndarray, labels: np.ndarray):
  """TFDS Cifar10's examples: key = index, id "train_00000", the image as PNG bytes."""
  for i in range(len(images)):
    yield i, {"id": f"{prefix}{i:05d}", "image": png_bytes(images[i]), "label": int(labels[i])}


def _cifar_split(files: dict, batches, binary: bool, where: str) -> tuple[np.ndarray, np.ndarray]:
  """(images uint8 (N, 32, 32, 3), labels (N,)) of `batches` (taken out of `files`), labels checked 0-9."""
  parts = []
  for batch in batches:
    name = batch + (".bin" if binary else "")
    path = os.path.join(where, name)
    flat, labels = (_cifar_binary_batch if binary else _cifar_python_batch)(files.pop(name), path)
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
      bad = int(np.argmax((labels < 0) | (labels > 9)))
      raise JaxgenError(f"{path}: label {int(labels[bad])} at index {bad:,} is outside 0-9.")
    parts.append((flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels))
  return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def read_cifar10(source_dir: str, skip_checksums: bool = False) -> LocalFiles:
  """The CIFAR-10 batches of the first form of CIFAR_FORMS in `source_dir`, checked (images N x 3072 uint8,
  labels 0-9, published checksum unless skip_checksums) before anything is written."""
  files, entry, verified = _cifar_files(source_dir, skip_checksums)
  binary = CIFAR_FORMS[entry].endswith("-bin")
  where = os.path.join(source_dir, entry) + (f":{CIFAR_FORMS[entry]}" if entry.endswith(".gz") else "")
  splits = {}
  for split, batches in CIFAR_BATCHES.items():
    images, labels = _cifar_split(files, batches, binary, where)
    splits[split] = functools.partial(_cifar_examples, f"{split}_", images, labels)
  return LocalFiles(splits, _source("cifar10", verified), CIFAR_LABELS)


# --------------------------------------------------------------------------------------------- Oxford Flowers 102
FLOWERS_SPLITS = {"train": "trnid", "validation": "valid", "test": "tstid"}   # TFDS split -> setid.mat key
FLOWERS_FILES = ("102flowers.tgz", "imagelabels.mat", "setid.mat")


def _mat_vector(path: str, key: str) -> np.ndarray:
  """The integer vector `key` of MATLAB file `path` (scipy.io.loadmat)."""
  from scipy import io as sio   # local import: scipy only for the flowers' .mat files
  try:
    values = np.asarray(sio.loadmat(path)[key])
  except KeyError:
    raise JaxgenError(f"{path} holds no variable {key!r}; is it the official file?") from None
  except Exception as e:  # scipy raises ValueError, TypeError, MatReadError, ... for what is not a .mat file
    raise JaxgenError(f"{path} is not a readable MATLAB .mat file ({type(e).__name__}: {e}).") from None
  if values.dtype.kind not in "iuf" or values.ndim != 2 or 1 not in values.shape:
    raise JaxgenError(f"{path}: {key!r} is not a vector of integers (shape {values.shape}, {values.dtype}).")
  return values.reshape(-1).astype(np.int64)


def _flowers_examples(ids: np.ndarray, labels: np.ndarray, images: Images):
  """TFDS OxfordFlowers102's examples: key = file_name = image_%05d.jpg, label = imagelabels - 1."""
  for image_id in ids:
    file_name = "image_%05d.jpg" % image_id
    yield file_name, {"image": checked_jpeg(images, file_name), "label": int(labels[image_id - 1] - 1),
                      "file_name": file_name}


def _flowers_paths(source_dir: str) -> dict[str, str]:
  """{official file name: its path} (102flowers.tgz: the archive, else its extracted folder jpg/)."""
  needs = f"{', '.join(FLOWERS_FILES)} (or the tgz's folder jpg/)"
  _need_dir(source_dir, "oxford_flowers102", needs)
  paths = {f: os.path.join(source_dir, f) for f in FLOWERS_FILES}
  if not os.path.isfile(paths["102flowers.tgz"]) and os.path.isdir(os.path.join(source_dir, "jpg")):
    paths["102flowers.tgz"] = os.path.join(source_dir, "jpg")
  for path in paths.values():
    if not os.path.exists(path):
      raise JaxgenError(f"{path} is missing; --from for oxford_flowers102 needs {needs} as published on "
                        f"https://www.robots.ox.ac.uk/~vgg/data/flowers/102/.")
  return paths


def _flowers_labels(paths: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
  """(labels 1-102 of every image, {TFDS split: image ids}) from the .mat files, checked."""
  labels = _mat_vector(paths["imagelabels.mat"], "labels")
  ids = {split: _mat_vector(paths["setid.mat"], key) for split, key in FLOWERS_SPLITS.items()}
  if len(labels) and (labels.min() < 1 or labels.max() > 102):
    raise JaxgenError(f"{paths['imagelabels.mat']}: labels run from {labels.min()} to {labels.max()}, not 1-102.")
  every = np.concatenate(list(ids.values()))
  if len(every) and (every.min() < 1 or every.max() > len(labels) or len(set(every.tolist())) != len(every)):
    raise JaxgenError(f"{paths['setid.mat']}: its image ids are not distinct ids 1-{len(labels)} of the "
                      f"{len(labels)} labels in imagelabels.mat; are both official?")
  return labels, ids


def read_oxford_flowers102(source_dir: str, skip_checksums: bool = False) -> LocalFiles:
  """102flowers.tgz (or its jpg/ folder), imagelabels.mat and setid.mat in `source_dir`, checked (labels 1-102,
  every image of setid there, splits disjoint, published checksums unless skip_checksums) before writing; each
  image (an RGB JPEG) is checked while it is written."""
  paths = _flowers_paths(source_dir)
  verified = all([verify("oxford_flowers102", "jpg/" if os.path.isdir(p) else f, p, skip_checksums,
                         "102flowers.tgz") for f, p in paths.items()])
  labels, ids = _flowers_labels(paths)
  images = images_in(paths["102flowers.tgz"], "jpg")
  _require({"image_%05d.jpg" % i for split_ids in ids.values() for i in split_ids}, images.names, images.where,
           "of the images setid.mat names.")
  splits = {split: functools.partial(_flowers_examples, ids[split], labels, images) for split in FLOWERS_SPLITS}
  return LocalFiles(splits, _source("oxford_flowers102", verified))


# ------------------------------------------------------------------------------------------------------- CelebA
# The columns of the list files (TFDS celeb_a's LANDMARK_HEADINGS, ATTR_HEADINGS, IDENTITY_HEADINGS).
CELEBA_LANDMARKS = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
                    "rightmouth_y").split()
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair "
    "Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones "
    "Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline "
    "Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick "
    "Wearing_Necklace Wearing_Necktie Young").split()
# list file -> (its folder in the Google Drive layout, whether a count line and a line of column names come first,
# its columns after the file name)
CELEBA_LISTS = {"list_eval_partition.txt": ("Eval", False, ["partition"]),
                "list_attr_celeba.txt": ("Anno", True, CELEBA_ATTRIBUTES),
                "list_landmarks_align_celeba.txt": ("Anno", True, CELEBA_LANDMARKS),
                "identity_CelebA.txt": ("Anno", False, ["Identity_No"])}
CELEBA_VALUES = {"list_eval_partition.txt": (0, 1, 2), "list_attr_celeba.txt": (-1, 1)}   # the values allowed
CELEBA_SPLITS = ("train", "validation", "test")   # partition 0, 1, 2
CELEBA_SIZE = (178, 218)   # width, height of the aligned images


class Table(NamedTuple):
  """A CelebA list file: column names (in the file's order), {file name: row}, int64 values (rows, columns)."""
  columns: list
  rows: dict
  values: np.ndarray


def _celeba_table(path: str, header: bool, expected: list) -> Table:
  with open(path, encoding="latin1") as f:
    lines = f.read().splitlines()
  columns, count = expected, None
  if header:
    if len(lines) < 2 or not lines[0].strip().isdigit():
      raise JaxgenError(f"{path} does not start with its number of rows and a line of column names; is it the "
                        f"official file?")
    count, columns, lines = int(lines[0]), lines[1].split(), lines[2:]
  lines = [line for line in lines if line.strip()]
  if sorted(columns) != sorted(expected):
    raise JaxgenError(f"{path} has the columns {' '.join(columns[:3])} ..., not the {len(expected)} of the official "
                      f"file ({' '.join(expected[:3])} ...).")
  if count is not None and count != len(lines):
    raise JaxgenError(f"{path} announces {count:,} rows but has {len(lines):,}; copy it again.")
  try:
    values = np.loadtxt(lines, dtype=np.int64, usecols=range(1, len(columns) + 1), ndmin=2)
  except ValueError as e:
    raise JaxgenError(f"{path}: {(str(e).splitlines() or [''])[0]}; is it the official file?") from None
  return Table(columns, {line.split(None, 1)[0]: i for i, line in enumerate(lines)}, values)


def _celeba_examples(names: list, tables: dict, images: Images):
  """TFDS CelebA's examples of one split: key = file name (sorted), attributes True where 1."""
  attrs, marks, ids = (tables[f] for f in ("list_attr_celeba.txt", "list_landmarks_align_celeba.txt",
                                          "identity_CelebA.txt"))
  for name in names:
    a, m, i = (t.values[t.rows[name]] for t in (attrs, marks, ids))
    yield name, {"image": checked_jpeg(images, name, CELEBA_SIZE),
                 "landmarks": {k: int(v) for k, v in zip(marks.columns, m)},
                 "attributes": {k: bool(v > 0) for k, v in zip(attrs.columns, a)},
                 "identity": {"Identity_No": int(i[0])}}


def _celeba_paths(source_dir: str) -> dict[str, str]:
  """{official file name: its path} (img_align_celeba.zip: the zip or the folder img_align_celeba)."""
  needs = "img_align_celeba.zip (or its folder img_align_celeba/) and " + ", ".join(CELEBA_LISTS)
  _need_dir(source_dir, "celeb_a", needs)
  paths = {"img_align_celeba.zip": _first(source_dir, ("img_align_celeba.zip", "img_align_celeba"), "Img")}
  paths.update({f: _first(source_dir, (f,), sub) for f, (sub, _, _) in CELEBA_LISTS.items()})
  for f, path in paths.items():
    if path is None:
      raise JaxgenError(f"{os.path.join(source_dir, f)} is missing; --from for celeb_a needs {needs}, in DIR or in "
                        f"the Img/, Eval/, Anno/ folders of the official download.")
  return paths


def read_celeb_a(source_dir: str, skip_checksums: bool = False) -> LocalFiles:
  """The aligned CelebA images and list files in `source_dir`, checked (columns, rows, attributes -1/1, partition
  0-2, every image of the partition there with its rows, published checksums unless skip_checksums) before
  writing; each image's size (178x218 RGB JPEG) is checked while it is written."""
  paths = _celeba_paths(source_dir)
  verified = all([verify("celeb_a", f if os.path.isfile(p) else "img_align_celeba/", p, skip_checksums,
                         "img_align_celeba.zip") for f, p in paths.items()])
  tables = {f: _celeba_table(paths[f], header, columns) for f, (_, header, columns) in CELEBA_LISTS.items()}
  for f, allowed in CELEBA_VALUES.items():
    if not np.isin(tables[f].values, allowed).all():
      raise JaxgenError(f"{paths[f]} holds values other than {', '.join(map(str, allowed))}; is it the official file?")
  partition = tables["list_eval_partition.txt"]
  images = images_in(paths["img_align_celeba.zip"], "img_align_celeba")
  for where, present in [(paths[f], t.rows) for f, t in tables.items()] + [(images.where, images.names)]:
    _require(partition.rows, present, where, "of the images in list_eval_partition.txt.")
  split_of = partition.values[:, 0]
  splits = {split: functools.partial(_celeba_examples, sorted(n for n, i in partition.rows.items() if split_of[i] == k),
                                     tables, images) for k, split in enumerate(CELEBA_SPLITS)}
  return LocalFiles(splits, _source("celeb_a", verified))


READERS = {"cifar10": read_cifar10, "oxford_flowers102": read_oxford_flowers102, "celeb_a": read_celeb_a}
