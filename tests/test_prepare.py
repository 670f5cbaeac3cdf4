"""`python -m jaxgen.prepare`: preparing TFDS sets in array_record format, and the errors on the way there.

Offline and without TensorFlow: the stock builders download (and need TensorFlow, see jaxgen.prepare), so the
preparation test uses the real TFDS mnist builder class with only its example generator replaced by a few
synthetic images given as PNG bytes (TFDS writes those without TensorFlow). Everything after that -- TFDS's
array_record writer, dataset_info.json, `tfds.data_source`, jaxgen's reader and preprocessing -- is the real thing.
"""
import io
import logging
import sys

import numpy as np
import pytest

from jaxgen import data, prepare
from jaxgen.config import base_config
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
                          f"mnist --data_dir={tmp_path} (needs internet and pip install -e '.[prepare]').")
  assert not [r for r in caplog.records if "Variant folder" in r.getMessage()]


def test_command_line_names(capsys):
  with pytest.raises(SystemExit) as e:
    prepare.main(["prepare"])
  assert e.value.code == 2 and "python -m jaxgen.prepare NAME" in capsys.readouterr().err
  with pytest.raises(JaxgenError, match="'imagenet' is not a data set jaxgen prepares; choose one of mnist, "):
    prepare.main(["prepare", "mnist", "imagenet"])
