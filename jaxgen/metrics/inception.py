"""Inception-v3 as the FID/KID feature network (the "FID Inception" of TF FID, pytorch-fid and clean-fid), in Flax.

The common FID implementations all use one network: Google's 2015-12-05 Inception-v3 graph (TF FID), ported to
PyTorch as `pt_inception-2015-12-05-6726825d.pth` (pytorch-fid, clean-fid's legacy mode). It is torchvision's
Inception-v3 body with three differences, kept here:

  * the average pools inside the Mixed_5b-d (A), Mixed_6b-e (C) and Mixed_7b (E) blocks ignore the zero padding
    (TF's `avg_pool` with SAME padding; `count_include_pad=False`);
  * the pool branch of the last block, Mixed_7c, is a 3x3 **max** pool (stride 1, SAME) instead of an average;
  * the classifier has 1008 outputs (unused here: FID and KID read the 2048-d "pool3" features).

Every convolution is `BasicConv`: Conv (no bias) -> BatchNorm (inference statistics, eps 1e-3) -> ReLU.
Pipeline: `preprocess` (bilinear resize to 299x299, 2x - 1), then `FIDInceptionV3` -> (N, 2048) pool3 features.
Parameters: 21,785,568 without the fc (torchvision's Inception-v3 minus its 1000-way fc and auxiliary head).

Weights (not shipped, not downloaded: jaxgen runs offline). `load_weights()` reads an `.npz` of the pytorch-fid
state dict, keys and arrays as PyTorch stores them (e.g. `Conv2d_1a_3x3.conv.weight` (32, 3, 3, 3) OIHW,
`.bn.weight / .bias / .running_mean / .running_var` (32,); fc.* and num_batches_tracked are ignored), from the
path given or $JAXGEN_CACHE/inception/pt_inception-2015-12-05.npz (default cache ~/.cache/jaxgen). The one-time
conversion (`--convert`, needs PyTorch) is in README.md, "FID and KID with Inception-v3".
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Any

import flax.linen as nn
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import JaxgenError
from jaxgen.metrics.classifier import cache_dir

INPUT_SIZE = 299
FEATURE_DIM = 2048
WEIGHTS_FILE = "pt_inception-2015-12-05.npz"
PTH_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
           "pt_inception-2015-12-05-6726825d.pth")
BN_EPS = 1e-3


class BasicConv(nn.Module):
  """Conv(features, kernel, stride, padding; no bias) -> BatchNorm(eps 1e-3, running statistics) -> ReLU."""
  features: int
  kernel: tuple = (1, 1)
  strides: tuple = (1, 1)
  padding: Any = "VALID"

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(self.features, self.kernel, self.strides, padding=self.padding, use_bias=False, name="conv")(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPS, name="bn")(x)
    return nn.relu(x)


def _pad(kh: int, kw: int):
  """Symmetric 'same' padding of an odd kh x kw kernel at stride 1."""
  return ((kh // 2, kh // 2), (kw // 2, kw // 2))


def avg_pool_3x3_same(x):
  """3x3 average pool, stride 1, zero padding 1 NOT counted in the mean (TF SAME; count_include_pad=False)."""
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def max_pool_3x3(x, stride: int = 2, pad: int = 0):
  """3x3 max pool (stride 2 VALID between stages; stride 1 padding 1 in Mixed_7c's pool branch)."""
  return nn.max_pool(x, (3, 3), strides=(stride, stride), padding=((pad, pad), (pad, pad)))


class InceptionA(nn.Module):
  """35x35 block: 1x1 (64) | 1x1 (48) -> 5x5 (64) | 1x1 (64) -> 3x3 (96) -> 3x3 (96) | avgpool -> 1x1."""
  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(64, name="branch1x1")(x)
    b5 = BasicConv(48, name="branch5x5_1")(x)
    b5 = BasicConv(64, (5, 5), padding=_pad(5, 5), name="branch5x5_2")(b5)
    b3 = BasicConv(64, name="branch3x3dbl_1")(x)
    b3 = BasicConv(96, (3, 3), padding=_pad(3, 3), name="branch3x3dbl_2")(b3)
    b3 = BasicConv(96, (3, 3), padding=_pad(3, 3), name="branch3x3dbl_3")(b3)
    bp = BasicConv(self.pool_features, name="branch_pool")(avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """35 -> 17 reduction (Mixed_6a): 3x3/2 (384) | 1x1 (64) -> 3x3 (96) -> 3x3/2 (96) | maxpool 3x3/2."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, (3, 3), (2, 2), name="branch3x3")(x)
    bd = BasicConv(64, name="branch3x3dbl_1")(x)
    bd = BasicConv(96, (3, 3), padding=_pad(3, 3), name="branch3x3dbl_2")(bd)
    bd = BasicConv(96, (3, 3), (2, 2), name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, max_pool_3x3(x)], axis=-1)


class InceptionC(nn.Module):
  """17x17 block with factorised 7x7 convolutions (1x7 and 7x1) of width c7; 4 x 192 channels out."""
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = BasicConv(192, name="branch1x1")(x)
    b7 = BasicConv(c7, name="branch7x7_1")(x)
    b7 = BasicConv(c7, (1, 7), padding=_pad(1, 7), name="branch7x7_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=_pad(7, 1), name="branch7x7_3")(b7)
    bd = BasicConv(c7, name="branch7x7dbl_1")(x)
    for i, (kernel, width) in enumerate([((7, 1), c7), ((1, 7), c7), ((7, 1), c7), ((1, 7), 192)], start=2):
      bd = BasicConv(width, kernel, padding=_pad(*kernel), name=f"branch7x7dbl_{i}")(bd)
    bp = BasicConv(192, name="branch_pool")(avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """17 -> 8 reduction (Mixed_7a): 1x1 (192) -> 3x3/2 (320) | 1x1 -> 1x7 -> 7x1 -> 3x3/2 (192) | maxpool 3x3/2."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(192, name="branch3x3_1")(x)
    b3 = BasicConv(320, (3, 3), (2, 2), name="branch3x3_2")(b3)
    b7 = BasicConv(192, name="branch7x7x3_1")(x)
    b7 = BasicConv(192, (1, 7), padding=_pad(1, 7), name="branch7x7x3_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=_pad(7, 1), name="branch7x7x3_3")(b7)
    b7 = BasicConv(192, (3, 3), (2, 2), name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, max_pool_3x3(x)], axis=-1)


class InceptionE(nn.Module):
  """8x8 block with split 1x3/3x1 outputs; 320 + 768 + 768 + 192 = 2048 channels.

  pool: "avg" (Mixed_7b, padding excluded) or "max" (Mixed_7c in the FID network).
  """
  pool: str = "avg"

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(320, name="branch1x1")(x)
    b3 = BasicConv(384, name="branch3x3_1")(x)
    b3 = jnp.concatenate([BasicConv(384, (1, 3), padding=_pad(1, 3), name="branch3x3_2a")(b3),
                          BasicConv(384, (3, 1), padding=_pad(3, 1), name="branch3x3_2b")(b3)], axis=-1)
    bd = BasicConv(448, name="branch3x3dbl_1")(x)
    bd = BasicConv(384, (3, 3), padding=_pad(3, 3), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate([BasicConv(384, (1, 3), padding=_pad(1, 3), name="branch3x3dbl_3a")(bd),
                          BasicConv(384, (3, 1), padding=_pad(3, 1), name="branch3x3dbl_3b")(bd)], axis=-1)
    pooled = avg_pool_3x3_same(x) if self.pool == "avg" else max_pool_3x3(x, stride=1, pad=1)
    bp = BasicConv(192, name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """The FID Inception-v3 up to pool3: (N, 299, 299, 3) in [-1, 1] -> (N, 2048) (any H, W >= 75 works).

  Stem: 3x3/2 (32) -> 3x3 (32) -> 3x3 pad 1 (64) -> maxpool 3x3/2 -> 1x1 (80) -> 3x3 (192) -> maxpool 3x3/2;
  then Mixed_5b-d (A; pool features 32, 64, 64), Mixed_6a (B), Mixed_6b-e (C; c7 = 128, 160, 160, 192),
  Mixed_7a (D), Mixed_7b (E, avg pool), Mixed_7c (E, max pool), global average pool. Module names are
  pytorch-fid's, so its state dict maps onto the parameters key by key (`torch_to_flax`).
  """

  @nn.compact
  def __call__(self, x):
    x = BasicConv(32, (3, 3), (2, 2), name="Conv2d_1a_3x3")(x)          # 149
    x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)                  # 147
    x = BasicConv(64, (3, 3), padding=_pad(3, 3), name="Conv2d_2b_3x3")(x)
    x = max_pool_3x3(x)                                                 # 73
    x = BasicConv(80, name="Conv2d_3b_1x1")(x)
    x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)                 # 71
    x = max_pool_3x3(x)                                                 # 35
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
      x = InceptionA(pool_features, name=name)(x)                       # 256, 288, 288 channels
    x = InceptionB(name="Mixed_6a")(x)                                  # 17 x 17 x 768
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
      x = InceptionC(c7, name=name)(x)
    x = InceptionD(name="Mixed_7a")(x)                                  # 8 x 8 x 1280
    x = InceptionE("avg", name="Mixed_7b")(x)                           # 8 x 8 x 2048
    x = InceptionE("max", name="Mixed_7c")(x)
    return jnp.mean(x, axis=(1, 2))                                     # pool3: (N, 2048)


def preprocess(images, size: int = INPUT_SIZE):
  """images (N, H, W, 3) in [0, 1] -> (N, size, size, 3) in [-1, 1]: bilinear resize as PyTorch's
  `interpolate(mode="bilinear", align_corners=False)` (half-pixel centres, no antialiasing), then 2x - 1."""
  x = jnp.asarray(images, jnp.float32)
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f"Inception expects images (N, H, W, 3); got shape {x.shape}")
  if x.shape[1:3] != (size, size):
    x = jax.image.resize(x, (x.shape[0], size, size, 3), "bilinear", antialias=False)
  return 2.0 * x - 1.0


def init_variables(key, size: int = INPUT_SIZE) -> dict:
  """Randomly initialised {"params", "batch_stats"} of FIDInceptionV3 (for tests; FID needs `load_weights`)."""
  return jax.jit(FIDInceptionV3().init)(key, jnp.zeros((1, size, size, 3), jnp.float32))


@functools.lru_cache(maxsize=1)
def variable_shapes() -> dict:
  """The variables' shapes without computing anything (jax.eval_shape of `init_variables`)."""
  return jax.eval_shape(lambda: init_variables(jax.random.PRNGKey(0)))


def weights_path(path: str | None = None) -> str:
  """`path` if given, else the cache location $JAXGEN_CACHE/inception/pt_inception-2015-12-05.npz."""
  if path:
    return os.path.expanduser(path)
  return os.path.join(cache_dir(), "inception", WEIGHTS_FILE)


_TORCH_LEAF = {"conv.weight": ("params", "conv", "kernel"), "bn.weight": ("params", "bn", "scale"),
               "bn.bias": ("params", "bn", "bias"), "bn.running_mean": ("batch_stats", "bn", "mean"),
               "bn.running_var": ("batch_stats", "bn", "var")}


def torch_to_flax(state: dict, shapes: dict | None = None) -> dict:
  """pytorch-fid state-dict arrays -> {"params", "batch_stats"} of FIDInceptionV3 (OIHW kernels -> HWIO).

  Raises ValueError naming the first missing key or wrong shape. `fc.*` and `*.num_batches_tracked` are ignored.
  """
  out: dict = {}
  # flat = ("params", "Mixed_5b", "branch1x1", "conv", "kernel") -> torch key "Mixed_5b.branch1x1.conv.weight"
  for flat, shape in traverse_util.flatten_dict(shapes or variable_shapes()).items():
    collection, *modules, leaf_module, leaf = flat
    suffix = next(k for k, v in _TORCH_LEAF.items() if v == (collection, leaf_module, leaf))
    key = ".".join(modules) + "." + suffix
    if key not in state:
      raise ValueError(f"Inception weights lack {key!r} (expected shape {_torch_shape(shape.shape)})")
    value = np.asarray(state[key], np.float32)
    if leaf == "kernel":
      value = value.transpose(2, 3, 1, 0)              # OIHW -> HWIO
    if value.shape != tuple(shape.shape):
      raise ValueError(f"Inception weight {key!r} has shape {np.asarray(state[key]).shape}; expected "
                       f"{_torch_shape(shape.shape)}")
    out[flat] = jnp.asarray(value)
  return traverse_util.unflatten_dict(out)


def _torch_shape(hwio_or_vec):
  s = tuple(hwio_or_vec)
  return (s[3], s[2], s[0], s[1]) if len(s) == 4 else s


def load_weights(path: str | None = None) -> dict:
  """FIDInceptionV3 variables from the npz at `path` (or the cache location; see the module docstring).

  Raises jaxgen.errors.JaxgenError, in one line, when the file is missing (saying where to put it and how to
  make it) or does not hold the FID Inception's arrays.
  """
  file = weights_path(path)
  if not os.path.isfile(file):
    raise JaxgenError(
        f"Inception weights not found at {file}: jaxgen does not download them. On a machine with internet and "
        f"PyTorch, fetch {PTH_URL} and run `python -m jaxgen.metrics.inception --convert=<that .pth> "
        f"--out={file}`, then copy the .npz there (or pass its path).")
  try:
    with np.load(file) as data:
      state = {k: data[k] for k in data.files}
    return torch_to_flax(state)
  except (ValueError, OSError) as e:
    raise JaxgenError(f"{file} is not a converted pt_inception-2015-12-05 checkpoint: {e}") from None


def weights_available(path: str | None = None) -> bool:
  """Whether `load_weights(path)` has a file to read (it may still reject a wrong one)."""
  return os.path.isfile(weights_path(path))


class InceptionExtractor:
  """pool3 features of images in [0, 1] (N, H, W, 3), `batch` at a time, with one jitted forward pass.

  Satisfies `jaxgen.metrics.classifier.FeatureExtractor` for `features`; `probabilities` is not available
  (the 1008-way fc is not loaded), so use the Fréchet distance / KID of the features, not the label metrics.
  """
  name = "inception_v3_fid"

  def __init__(self, variables: dict | None = None, path: str | None = None, batch: int = 50):
    self.variables = variables if variables is not None else load_weights(path)
    self.batch = int(batch)
    model = FIDInceptionV3()
    self._forward = jax.jit(lambda v, x: model.apply(v, preprocess(x)))

  def features(self, images) -> np.ndarray:
    """(N, H, W, 3) in [0, 1] -> (N, 2048) float32; the last batch is zero-padded to keep one compiled shape."""
    x = np.asarray(images, np.float32)
    out = []
    for start in range(0, x.shape[0], self.batch):
      chunk = x[start:start + self.batch]
      n = chunk.shape[0]
      if n < self.batch:
        chunk = np.concatenate([chunk, np.zeros((self.batch - n,) + chunk.shape[1:], np.float32)])
      out.append(np.asarray(self._forward(self.variables, chunk))[:n])
    return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM), np.float32)

  def probabilities(self, images) -> np.ndarray:
    raise NotImplementedError("the FID Inception is loaded without its classifier; use features()")


def convert_pth(pth: str, out: str) -> None:
  """pytorch-fid's .pth -> the npz `load_weights` reads (needs PyTorch; run once where it is installed)."""
  try:
    import torch  # noqa: PLC0415 (optional dependency, only for the one-off conversion)
  except ImportError:
    raise JaxgenError("converting the .pth needs PyTorch (pip install torch); run it where torch is installed "
                      "and copy the .npz here.") from None
  if not os.path.isfile(pth):
    raise JaxgenError(f"--convert={pth}: no such file; download it from {PTH_URL}")
  state = torch.load(pth, map_location="cpu")
  arrays = {k: v.numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")}
  torch_to_flax(arrays)                                 # fail here, not at evaluation time, on a wrong file
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  np.savez(out, **arrays)


def main(argv=None):
  p = argparse.ArgumentParser(description="Convert pytorch-fid's Inception .pth to jaxgen's npz.")
  p.add_argument("--convert", required=True, help=f"path of pt_inception-2015-12-05-6726825d.pth ({PTH_URL})")
  p.add_argument("--out", default=weights_path(), help="npz to write (default: the cache location)")
  a = p.parse_args(argv)
  try:
    convert_pth(os.path.expanduser(a.convert), os.path.expanduser(a.out))
  except JaxgenError as e:
    print(f"error: {e}", file=sys.stderr)
    raise SystemExit(2)
  print(f"wrote {a.out}")


if __name__ == "__main__":
  main()
