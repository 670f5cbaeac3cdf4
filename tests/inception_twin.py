"""pytorch-fid's FID Inception-v3 state dict without PyTorch, JAX or jaxgen: its names and shapes, written from
torchvision's `Inception3` and pytorch-fid's `fid_inception_v3` (num_classes=1008, aux_logits=False), and a seeded
NumPy generator of random weights for it.

benchmarks/inception_crosscheck.py loads `random_state(SEED)` into pytorch-fid's own `InceptionV3` (its strict
`load_state_dict` checks these names and shapes) and stores the features in tests/fixtures/inception_pytorch_fid.npz;
tests/test_inception.py regenerates the same arrays here and runs them through jaxgen's converter and network.

  state_shapes()        {name: shape} in the state dict's order (BatchNorm's num_batches_tracked left out, as in
                        pytorch-fid's .pth), fc included (1008 x 2048; unused by the pool3 features)
  random_state(seed)    {name: float32 array}: He-scaled kernels, BN weight U(0.5, 1.5), bias N(0, 0.1),
                        running_mean N(0, 0.1), running_var U(0.5, 1.5); each array drawn from its own
                        np.random.default_rng((seed, crc32(name))), so no array depends on the order of the others
  images(seed)          the cross-check's inputs: 8-bit images as uint8, (3, 32, 32, 3) and (2, 64, 64, 3)
"""
import zlib

import numpy as np


def _basic(t, name, cin, cout, kh, kw):
  """torchvision's BasicConv2d: conv (no bias) + BatchNorm2d(eps 0.001)."""
  t[f"{name}.conv.weight"] = (cout, cin, kh, kw)
  for leaf in ("weight", "bias", "running_mean", "running_var"):
    t[f"{name}.bn.{leaf}"] = (cout,)
  return cout


def _block_a(t, p, cin, pool_features):
  _basic(t, p + "branch1x1", cin, 64, 1, 1)
  _basic(t, p + "branch5x5_1", cin, 48, 1, 1)
  _basic(t, p + "branch5x5_2", 48, 64, 5, 5)
  _basic(t, p + "branch3x3dbl_1", cin, 64, 1, 1)
  _basic(t, p + "branch3x3dbl_2", 64, 96, 3, 3)
  _basic(t, p + "branch3x3dbl_3", 96, 96, 3, 3)
  _basic(t, p + "branch_pool", cin, pool_features, 1, 1)
  return 64 + 64 + 96 + pool_features


def _block_b(t, p, cin):
  _basic(t, p + "branch3x3", cin, 384, 3, 3)
  _basic(t, p + "branch3x3dbl_1", cin, 64, 1, 1)
  _basic(t, p + "branch3x3dbl_2", 64, 96, 3, 3)
  _basic(t, p + "branch3x3dbl_3", 96, 96, 3, 3)
  return 384 + 96 + cin


def _block_c(t, p, cin, c7):
  _basic(t, p + "branch1x1", cin, 192, 1, 1)
  _basic(t, p + "branch7x7_1", cin, c7, 1, 1)
  _basic(t, p + "branch7x7_2", c7, c7, 1, 7)
  _basic(t, p + "branch7x7_3", c7, 192, 7, 1)
  _basic(t, p + "branch7x7dbl_1", cin, c7, 1, 1)
  _basic(t, p + "branch7x7dbl_2", c7, c7, 7, 1)
  _basic(t, p + "branch7x7dbl_3", c7, c7, 1, 7)
  _basic(t, p + "branch7x7dbl_4", c7, c7, 7, 1)
  _basic(t, p + "branch7x7dbl_5", c7, 192, 1, 7)
  _basic(t, p + "branch_pool", cin, 192, 1, 1)
  return 4 * 192


def _block_d(t, p, cin):
  _basic(t, p + "branch3x3_1", cin, 192, 1, 1)
  _basic(t, p + "branch3x3_2", 192, 320, 3, 3)
  _basic(t, p + "branch7x7x3_1", cin, 192, 1, 1)
  _basic(t, p + "branch7x7x3_2", 192, 192, 1, 7)
  _basic(t, p + "branch7x7x3_3", 192, 192, 7, 1)
  _basic(t, p + "branch7x7x3_4", 192, 192, 3, 3)
  return 320 + 192 + cin


def _block_e(t, p, cin):
  _basic(t, p + "branch1x1", cin, 320, 1, 1)
  _basic(t, p + "branch3x3_1", cin, 384, 1, 1)
  _basic(t, p + "branch3x3_2a", 384, 384, 1, 3)
  _basic(t, p + "branch3x3_2b", 384, 384, 3, 1)
  _basic(t, p + "branch3x3dbl_1", cin, 448, 1, 1)
  _basic(t, p + "branch3x3dbl_2", 448, 384, 3, 3)
  _basic(t, p + "branch3x3dbl_3a", 384, 384, 1, 3)
  _basic(t, p + "branch3x3dbl_3b", 384, 384, 3, 1)
  _basic(t, p + "branch_pool", cin, 192, 1, 1)
  return 320 + 768 + 768 + 192


def state_shapes() -> dict:
  """{name: shape} of pytorch-fid's FID Inception state dict (without num_batches_tracked), in module order."""
  t: dict = {}
  _basic(t, "Conv2d_1a_3x3", 3, 32, 3, 3)
  _basic(t, "Conv2d_2a_3x3", 32, 32, 3, 3)
  _basic(t, "Conv2d_2b_3x3", 32, 64, 3, 3)
  _basic(t, "Conv2d_3b_1x1", 64, 80, 1, 1)
  c = _basic(t, "Conv2d_4a_3x3", 80, 192, 3, 3)
  for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
    c = _block_a(t, name + ".", c, pool_features)
  c = _block_b(t, "Mixed_6a.", c)
  for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
    c = _block_c(t, name + ".", c, c7)
  c = _block_d(t, "Mixed_7a.", c)
  c = _block_e(t, "Mixed_7b.", c)
  c = _block_e(t, "Mixed_7c.", c)
  t["fc.weight"] = (1008, c)
  t["fc.bias"] = (1008,)
  return t


def random_array(seed: int, name: str, shape) -> np.ndarray:
  """The array `name` of `random_state(seed)` (float32), drawn from its own generator."""
  rng = np.random.default_rng((seed, zlib.crc32(name.encode())))
  leaf = name.rsplit(".", 1)[-1]
  if name.endswith("conv.weight"):                      # He: keeps the second moment through conv + ReLU
    fan_in = int(np.prod(shape[1:]))
    a = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
  elif name == "fc.weight":
    a = rng.normal(0.0, np.sqrt(1.0 / shape[1]), shape)
  elif name == "fc.bias":
    a = np.zeros(shape)
  elif leaf in ("weight", "running_var"):               # BN scale and variance
    a = rng.uniform(0.5, 1.5, shape)
  elif leaf in ("bias", "running_mean"):
    a = rng.normal(0.0, 0.1, shape)
  else:
    raise ValueError(f"no generator for {name!r}")
  return a.astype(np.float32)


def random_state(seed: int, shapes: dict | None = None) -> dict:
  """{name: float32 array} for every entry of `shapes` (default `state_shapes()`)."""
  return {name: random_array(seed, name, tuple(shape)) for name, shape in (shapes or state_shapes()).items()}


def images(seed: int) -> list:
  """The cross-check's inputs: [uint8 (3, 32, 32, 3), uint8 (2, 64, 64, 3)] (NHWC; divide by 255 for [0, 1])."""
  rng = np.random.default_rng(seed)
  return [rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)]
