"""Image preprocessing shared by every image source (NumPy, deterministic, no TensorFlow).

The chain, in order (docs/design.md §5; docs/reference.md §0 and the notebooks' "Data" paragraphs): to [0, 1]
(uint8 / 255; floats are taken to be in [0, 1], digits arrive as value / 16) -> pad `pad` pixels of 0 ([0, 1]
space: -1 in [-1, 1], the EBM notebook's MNIST padding; 0, the AE/VAE notebooks' Fashion-MNIST padding) ->
bilinear resize of the WHOLE image, squashed, never cropped (`resize_bilinear`: `tf.image.resize`) -> channels
(BT.601 luma, tiling, alpha dropped) -> range ("symmetric": 2x - 1 = (v - 127.5) / 127.5 for uint8).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from jaxgen.errors import JaxgenError

# ITU-R BT.601 luma, as in tf.image.rgb_to_grayscale.
LUMA_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], np.float32)


def as_nhwc(images: np.ndarray, what: str = "images") -> np.ndarray:
  """(N, H, W) or (N, H, W, C) -> (N, H, W, C). Raises JaxgenError for any other shape."""
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[1] < 1 or images.shape[2] < 1:
    raise JaxgenError(f"{what} have shape {images.shape}; expected (N, H, W) or (N, H, W, C) with H, W >= 1.")
  if images.shape[-1] not in (1, 3, 4):
    raise JaxgenError(f"{what} have {images.shape[-1]} channels (shape {images.shape}); "
                      "only 1 (gray), 3 (RGB) or 4 (RGBA, alpha dropped) can be converted.")
  return images


def to_unit(images: np.ndarray) -> np.ndarray:
  """uint8 [0, 255] -> float32 [0, 1]; float input is assumed to be in [0, 1] already."""
  if images.dtype == np.uint8:
    return images.astype(np.float32) * np.float32(1.0 / 255.0)
  return images.astype(np.float32, copy=False)


def symmetric_to_unit(x):
  """Images in [−1, 1] (data.range "symmetric", a tanh output) -> [0, 1]: clip((x + 1)/2, 0, 1), any shape.

  Works on NumPy and JAX arrays (traced too); the result is a JAX array."""
  return jnp.clip((jnp.asarray(x) + 1.0) * 0.5, 0.0, 1.0)


def pad_images(images: np.ndarray, pad: int) -> np.ndarray:
  """Zero-pads (0 in [0, 1] and in uint8 space) `pad` pixels on each side of H and W. (N,H,W,C) -> (N,H+2p,W+2p,C)."""
  if pad <= 0:
    return images
  return np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=0.0)


@functools.lru_cache(maxsize=64)
def bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """TF2 bilinear taps (half-pixel centres, no antialias): (lo int64, hi int64, frac float32), each (out_size,).

  Output pixel i samples the input at u = (i + 1/2) * in/out - 1/2 and mixes (1 - frac) * in[lo] + frac * in[hi]
  with lo = floor(u), hi = ceil(u) clamped to [0, in_size - 1] and frac = u - floor(u) -- exactly
  `tf.image.resize(method="bilinear", antialias=False)`.
  """
  u = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
  lo_f = np.floor(u)
  lo = np.clip(lo_f, 0, in_size - 1).astype(np.int64)
  hi = np.clip(np.ceil(u), 0, in_size - 1).astype(np.int64)
  return lo, hi, (u - lo_f).astype(np.float32)


def resize_bilinear(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
  """Bilinear resize of the whole image (squash, no crop). (N,H,W,C) any real dtype -> (N,s,s,C) float32.

  Two gathers per axis (rows, then columns): O(N s (W + s) C) work, reading only the rows that are needed.
  """
  out_h, out_w = (size, size) if isinstance(size, int) else size
  _, h, w, _ = images.shape
  if (h, w) == (out_h, out_w):
    return images.astype(np.float32, copy=False)
  lo, hi, f = bilinear_taps(h, out_h)
  f = f[None, :, None, None]
  x = images[:, lo].astype(np.float32) * (1.0 - f) + images[:, hi].astype(np.float32) * f
  lo, hi, f = bilinear_taps(w, out_w)
  f = f[None, None, :, None]
  return x[:, :, lo] * (1.0 - f) + x[:, :, hi] * f


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
  """(N,H,W,C) -> (N,H,W,channels): RGBA drops alpha, RGB->gray by luminance, gray->RGB by tiling."""
  if channels not in (1, 3):
    raise JaxgenError(f"data.channels={channels!r} is not allowed; choose 1 or 3.")
  c = images.shape[-1]
  if c == 4:
    images, c = images[..., :3], 3
  if c == channels:
    return images
  if c == 3 and channels == 1:
    return np.einsum("nhwc,c->nhw", images, LUMA_WEIGHTS)[..., None].astype(np.float32)
  if c == 1 and channels == 3:
    return np.repeat(images, 3, axis=-1)
  raise JaxgenError(f"cannot convert images with {c} channels to data.channels={channels}; "
                    "only gray (1), RGB (3) and RGBA (4) sources are supported.")


def to_range(images: np.ndarray, range_: str) -> np.ndarray:
  """[0, 1] -> config.data.range: "unit" [0, 1] or "symmetric" [-1, 1]."""
  if range_ == "unit":
    return images
  if range_ == "symmetric":
    return images * np.float32(2.0) - np.float32(1.0)
  raise JaxgenError(f"data.range={range_!r} is not allowed; choose 'unit' or 'symmetric'.")


def preprocess(images, *, image_size: int, channels: int, pad: int = 0, range_: str = "unit",
               what: str = "images") -> np.ndarray:
  """Raw images (uint8 [0,255] or float [0,1]; (N,H,W[,C])) -> float32 (N, image_size, image_size, channels)
  in `range_`, by the chain in this module's docstring."""
  x = as_nhwc(images, what)
  # Scaling by 1/255 commutes with zero padding and with the (linear) resize, so uint8 images are padded and
  # resized first and converted to [0, 1] after: the resize then reads uint8 rows, not a full float copy.
  scale = np.float32(1.0 / 255.0) if x.dtype == np.uint8 else None
  x = pad_images(x, int(pad))
  x = resize_bilinear(x, int(image_size))
  x = x * scale if scale is not None else x.astype(np.float32, copy=False)
  x = convert_channels(x, int(channels))
  x = to_range(x, range_)
  return np.ascontiguousarray(x, dtype=np.float32)


def preprocess_for(config, images, what: str = "images") -> np.ndarray:
  """`preprocess` with the settings of `config.data`."""
  d = config.data
  return preprocess(images, image_size=int(d.image_size), channels=int(d.channels), pad=int(d.pad),
                    range_=d.range, what=what)
