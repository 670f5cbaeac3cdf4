"""Pictures: image grids, 2-D point clouds, heat maps, written as PNG with Pillow (no plotting library).

All functions take NumPy/JAX arrays and a path, and write one PNG. Images are float NHWC in [0, 1].
"""
import math
import os

import numpy as np
from PIL import Image


def _to_uint8(images: np.ndarray) -> np.ndarray:
  return (np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def image_grid(images, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
  """Tiles images (N, H, W, C) in [0, 1] into one (rows*(H+pad)+pad, cols*(W+pad)+pad, C) array.

  `ncols` defaults to ceil(sqrt(N)); empty cells are filled with `pad_value`.
  """
  images = np.asarray(images, np.float32)
  if images.ndim != 4:
    raise ValueError(f"image_grid expects NHWC images, got shape {images.shape}")
  n, h, w, c = images.shape
  ncols = int(ncols or math.ceil(math.sqrt(n)))
  nrows = math.ceil(n / ncols)
  grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), pad_value, np.float32)
  for i in range(n):
    r, q = divmod(i, ncols)
    top, left = pad + r * (h + pad), pad + q * (w + pad)
    grid[top:top + h, left:left + w] = images[i]
  return grid


def save_image(image, path: str, scale: int = 1) -> None:
  """Writes one (H, W, C) image in [0, 1] (C = 1 or 3) as PNG, upscaled by `scale` (nearest)."""
  array = _to_uint8(image)
  if array.shape[-1] == 1:
    array = array[..., 0]
  picture = Image.fromarray(array)
  if scale > 1:
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  picture.save(path)


def save_image_grid(images, path: str, ncols: int | None = None, scale: int | None = None) -> None:
  """Writes images (N, H, W, C) in [0, 1] as one PNG grid; small images are upscaled for viewing."""
  images = np.asarray(images)
  if scale is None:
    scale = max(1, 64 // max(images.shape[1], 1))
  save_image(image_grid(images, ncols), path, scale=scale)


def points_image(points, box=None, resolution: int = 256) -> np.ndarray:
  """Renders 2-D points (N, 2) as a (resolution, resolution, 1) density image in [0, 1] (dark = many points).

  `box` = (xmin, xmax, ymin, ymax); defaults to the points' range with a 5% margin. The y axis points up.
  """
  points = np.asarray(points, np.float64)
  if box is None:
    lo, hi = points.min(0), points.max(0)
    margin = 0.05 * np.maximum(hi - lo, 1e-6)
    box = (lo[0] - margin[0], hi[0] + margin[0], lo[1] - margin[1], hi[1] + margin[1])
  hist, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=resolution, range=[box[:2], box[2:]])
  hist = np.log1p(hist.T[::-1])  # rows = y from top to bottom
  image = 1.0 - hist / max(hist.max(), 1e-12)
  return image[..., None].astype(np.float32)


def save_points(points, path: str, box=None, resolution: int = 256) -> None:
  """Writes a 2-D point cloud (N, 2) as a PNG density picture (see `points_image`)."""
  save_image(points_image(points, box, resolution), path)


def heatmap_image(values) -> np.ndarray:
  """Maps a (H, W) array to an RGB (H, W, 3) image in [0, 1] with a dark-blue → yellow colour ramp."""
  values = np.asarray(values, np.float64)
  finite = np.isfinite(values)
  lo, hi = (values[finite].min(), values[finite].max()) if finite.any() else (0.0, 1.0)
  u = np.where(finite, (values - lo) / max(hi - lo, 1e-12), 0.0)
  stops = np.array([[0.05, 0.03, 0.25], [0.2, 0.4, 0.6], [0.3, 0.7, 0.45], [0.99, 0.9, 0.15]])
  pos = u * (len(stops) - 1)
  i = np.clip(pos.astype(int), 0, len(stops) - 2)
  f = (pos - i)[..., None]
  return ((1 - f) * stops[i] + f * stops[i + 1]).astype(np.float32)


def save_heatmap(values, path: str, scale: int = 2) -> None:
  """Writes a (H, W) array (row 0 at the top) as a colour PNG heat map."""
  save_image(heatmap_image(values), path, scale=scale)
