"""TensorBoard reads what a run writes: namespaced scalars (train/..., eval/...) and the sample grids as images,
read back with TensorBoard's own reader (the `tensorboard` package, in the `test` and `tensorboard` extras)."""
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from conftest import load_config
from jaxgen.runtime import train
from jaxgen.runtime import writers

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="TensorBoard is not installed: pip install -e '.[test]' (or '.[tensorboard]') installs it")


def tiny_vae(steps=4):
  """A VAE on 8x8 digits: milliseconds a step; logs every step, evaluates and samples at steps 2 and 4 (eval_every=2, sample_every=2)."""
  return load_config("vae_digits", **{
      "train.num_steps": steps, "train.batch_size": 16, "train.log_every": 1, "train.checkpoint_every": steps,
      "train.eval_every": 2, "train.sample_every": 2, "train.num_sample_images": 4, "data.image_size": 8,
      "model.encoder_features": (4,), "model.decoder_features": (4,), "model.conv_impl": "lax"})


def accumulator(workdir):
  acc = event_accumulator.EventAccumulator(str(workdir), size_guidance={event_accumulator.SCALARS: 0,
                                                                         event_accumulator.IMAGES: 0})
  return acc.Reload()


def test_tensorboard_reads_the_runs_scalars_and_sample_images(tmp_path):
  workdir = tmp_path / "run"
  train(tiny_vae(), str(workdir), progress=False)
  acc = accumulator(workdir)
  tags = acc.Tags()
  assert {"train/loss", "train/reconstruction", "train/kl", "train/steps_per_sec"} <= set(tags["scalars"])
  assert {"eval/loss", "eval/neg_elbo"} <= set(tags["scalars"])
  assert not any("/" not in t for t in tags["scalars"])              # no flat tags left
  # The same numbers as metrics.jsonl (flat names there), step by step.
  records = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  train_lines = [r for r in records if "loss" in r]
  assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3, 4]
  np.testing.assert_allclose([e.value for e in acc.Scalars("train/loss")], [r["loss"] for r in train_lines],
                             rtol=1e-6)
  eval_lines = [r for r in records if "eval_loss" in r]
  assert [e.step for e in acc.Scalars("eval/loss")] == [r["step"] for r in eval_lines] == [2, 4]
  np.testing.assert_allclose([e.value for e in acc.Scalars("eval/neg_elbo")], [r["eval_neg_elbo"] for r in eval_lines],
                             rtol=1e-6)
  # The sample grids, as the PNG files the loop wrote (byte for byte), at the sample steps.
  assert tags["images"] == ["samples"]
  images = acc.Images("samples")
  assert [e.step for e in images] == [2, 4]
  for event in images:
    png = (workdir / "samples" / f"step_{event.step:06d}.png").read_bytes()
    assert event.encoded_image_string == png
    decoded = Image.open(io.BytesIO(event.encoded_image_string))
    assert (event.width, event.height) == decoded.size and decoded.size[0] > 8


def test_tensorboard_tags_and_image_header(tmp_path):
  assert writers.tensorboard_tag("loss") == "train/loss"
  assert writers.tensorboard_tag("steps_per_sec") == "train/steps_per_sec"
  assert writers.tensorboard_tag("neg_elbo", "eval_") == "eval/neg_elbo"
  buffer = io.BytesIO()
  Image.fromarray(np.zeros((5, 7, 4), np.uint8)).save(buffer, format="PNG")      # RGBA, 7 wide, 5 high
  image = writers.png_image(buffer.getvalue())
  assert (image.height, image.width, image.colorspace) == (5, 7, 4)
  writer = writers.MetricsWriter(str(tmp_path))
  assert writer.write(3, {"loss": 0.5}) and writer.write(3, {"loss": 0.25}, prefix="eval_")
  assert not writer.add_image(3, "samples", str(tmp_path / "missing.png"))      # a warning, never an exception
  acc = accumulator(tmp_path)
  assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == [(3, 0.5)]
  assert [(e.step, e.value) for e in acc.Scalars("eval/loss")] == [(3, 0.25)]
  assert json.loads(open(writer.path).readlines()[1]) == {"step": 3, "eval_loss": 0.25}
