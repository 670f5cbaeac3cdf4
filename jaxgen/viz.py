"""Pictures: image grids (optionally with row and column labels), 2-D point clouds and heat maps, written as PNG.

Plain image grids are written pixel for pixel with Pillow. Plots (2-D points, energy maps) and labelled grids are
drawn with matplotlib's object API (`matplotlib.figure.Figure`, no pyplot, no global backend), so the library
works in scripts, notebooks and headless servers alike. The `*_figure` functions are pure: they return the Figure
for inspection; the `save_*` functions write it.

Images are float NHWC in [0, 1]; 2-D points are (N, 2) in data coordinates.
"""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from jaxgen.data import toy2d

FIGURE_INCHES = 5.0      # side of the square 2-D plots
FIGURE_DPI = 100         # -> 500 x 500 pixel plots
LABEL_FONT_SIZE = 10     # points; row and column labels of image grids


def _to_uint8(images: np.ndarray) -> np.ndarray:
  return (np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _makedirs_for(path: str) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def _grid_shape(num: int, ncols: int | None) -> tuple[int, int]:
  """(rows, cols) of `image_grid` for `num` images."""
  ncols = int(ncols or math.ceil(math.sqrt(num)))
  return math.ceil(num / ncols), ncols


def image_grid(images, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
  """Tiles images (N, H, W, C) in [0, 1] into one (rows*(H+pad)+pad, cols*(W+pad)+pad, C) array.

  `ncols` defaults to ceil(sqrt(N)); empty cells are filled with `pad_value`.
  """
  images = np.asarray(images, np.float32)
  if images.ndim != 4:
    raise ValueError(f"image_grid expects NHWC images, got shape {images.shape}")
  n, h, w, c = images.shape
  nrows, ncols = _grid_shape(n, ncols)
  grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), pad_value, np.float32)
  for i in range(n):
    r, q = divmod(i, ncols)
    top, left = pad + r * (h + pad), pad + q * (w + pad)
    grid[top:top + h, left:left + w] = images[i]
  return grid


def _upscaled_uint8(image, scale: int) -> np.ndarray:
  """(H, W, C) in [0, 1] -> uint8 (H*scale, W*scale, C), nearest neighbour."""
  array = _to_uint8(image)
  if scale > 1:
    array = np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)
  return array


def save_image(image, path: str, scale: int = 1) -> None:
  """Writes one (H, W, C) image in [0, 1] (C = 1 or 3) as PNG, upscaled by `scale` (nearest)."""
  array = _upscaled_uint8(image, scale)
  _makedirs_for(path)
  Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)


def default_scale(image_size: int) -> int:
  """Upscaling factor that shows an image of side `image_size` at about 64 pixels (8x8 digits -> 8)."""
  return max(1, 64 // max(int(image_size), 1))


def _checked_labels(labels, count: int, what: str) -> list[str]:
  labels = [str(s) for s in labels]
  if len(labels) != count:
    raise ValueError(f"{what} has {len(labels)} entries for a grid with {count}")
  return labels


def labelled_grid_figure(images, ncols: int | None = None, scale: int | None = None, row_labels=None,
                         col_labels=None):
  """A Figure showing `image_grid(images, ncols)` pixel for pixel, with a text label left of each row
  (`row_labels`, one per grid row) and/or above each column (`col_labels`, one per grid column).

  The grid is placed with `figimage` (no resampling): the PNG is (top margin + grid height) x (left margin + grid
  width) pixels, the margins sized to the labels (0 without them).
  """
  from matplotlib.figure import Figure
  images = np.asarray(images, np.float32)
  n, h, w = images.shape[:3]
  scale = default_scale(h) if scale is None else int(scale)
  nrows, ncols = _grid_shape(n, ncols)
  rows = None if row_labels is None else _checked_labels(row_labels, nrows, "row_labels")
  cols = None if col_labels is None else _checked_labels(col_labels, ncols, "col_labels")
  pixels = _upscaled_uint8(image_grid(images, ncols), scale)
  if pixels.shape[-1] == 1:
    pixels = np.repeat(pixels, 3, axis=-1)
  height, width = pixels.shape[:2]
  font_px = LABEL_FONT_SIZE * FIGURE_DPI / 72.0
  left = 0 if rows is None else int(math.ceil(8 + 0.62 * font_px * max(len(s) for s in rows)))  # DejaVu Sans
  top = 0 if cols is None else int(math.ceil(font_px + 6))
  fig_w, fig_h = left + width, top + height
  fig = Figure(figsize=(fig_w / FIGURE_DPI, fig_h / FIGURE_DPI), dpi=FIGURE_DPI, facecolor="white")
  fig.figimage(pixels, xo=left, yo=0, origin="upper")
  for r, text in enumerate(rows or ()):
    y = height - (1 + r * (h + 1) + h / 2) * scale             # row centre, figure pixels from the bottom
    fig.text((left - 4) / fig_w, y / fig_h, text, ha="right", va="center", fontsize=LABEL_FONT_SIZE)
  for c, text in enumerate(cols or ()):
    x = left + (1 + c * (w + 1) + w / 2) * scale                # column centre
    fig.text(x / fig_w, (height + 3) / fig_h, text, ha="center", va="bottom", fontsize=LABEL_FONT_SIZE)
  return fig


def save_image_grid(images, path: str, ncols: int | None = None, scale: int | None = None, row_labels=None,
                    col_labels=None) -> None:
  """Writes images (N, H, W, C) in [0, 1] as one PNG grid; small images are upscaled for viewing. `row_labels`
  (e.g. the step count of each row of a sweep) and `col_labels` (e.g. the Langevin step of each column of a chain)
  are drawn in margins left of / above the grid (`labelled_grid_figure`)."""
  images = np.asarray(images)
  if row_labels is None and col_labels is None:
    save_image(image_grid(images, ncols), path, scale=default_scale(images.shape[1]) if scale is None else scale)
    return
  fig = labelled_grid_figure(images, ncols, scale, row_labels, col_labels)
  _makedirs_for(path)
  fig.savefig(path, dpi=FIGURE_DPI)


def toy_reference(data_name: str | None, num: int = 2000):
  """(true points (num, 2) or None, mode centres (M, 2) or None) of a toy2d data set name ('toy2d/8gaussians').

  The true points are the first `num` points of the fixed test split; centres exist for the Gaussian mixtures.
  Anything that is not a toy2d name gives (None, None).
  """
  name = (data_name or "").removeprefix("toy2d/")
  if name not in toy2d.NAMES:
    return None, None
  centres = toy2d.modes(name)[0] if name in ("8gaussians", "25gaussians") else None
  return toy2d.fixed_split(name, "test")[:num], centres


def _box_of(points, margin: float) -> tuple[float, float, float, float]:
  """(xmin, xmax, ymin, ymax) around the finite rows of `points` (N, 2), widened by `margin` x the range."""
  points = np.asarray(points, np.float64).reshape(-1, 2)
  points = points[np.isfinite(points).all(axis=1)]
  if points.size == 0:
    return (-1.0, 1.0, -1.0, 1.0)
  lo, hi = points.min(0), points.max(0)
  pad = margin * np.maximum(hi - lo, 1e-6)
  return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])


def points_figure(points, box=None, true_points=None, modes=None, title: str | None = None):
  """A Figure of 2-D samples (N, 2): a scatter with labelled axes, equal aspect, 500 x 500 pixels.

  `true_points` (grey, behind) shows the data distribution; `modes` (M, 2) marks its mode centres with red
  crosses. `box` = (xmin, xmax, ymin, ymax); by default the data's range with a 25% margin when `true_points`
  are given (the same frame at every training step; the title counts samples outside it), else the samples'
  range with a 5% margin.
  """
  from matplotlib.figure import Figure
  points = np.asarray(points, np.float64)
  if box is None:
    box = _box_of(points, 0.05) if true_points is None else _box_of(true_points, 0.25)
  fig = Figure(figsize=(FIGURE_INCHES, FIGURE_INCHES), dpi=FIGURE_DPI, layout="constrained")
  ax = fig.add_subplot()
  marker = max(0.5, min(6.0, 3000.0 / max(len(points), 1)))
  if true_points is not None:
    ax.scatter(*np.asarray(true_points).T, s=marker, c="0.75", linewidths=0, label="data")
  ax.scatter(points[:, 0], points[:, 1], s=marker, c="tab:blue", alpha=0.6, linewidths=0, label="samples")
  if modes is not None:
    ax.scatter(*np.asarray(modes).T, s=25, marker="x", c="tab:red", linewidths=1.0, label="true modes")
  ax.set_xlim(box[0], box[1])
  ax.set_ylim(box[2], box[3])
  ax.set_aspect("equal")
  ax.set_xlabel("$x_1$")
  ax.set_ylabel("$x_2$")
  inside = ((points[:, 0] >= box[0]) & (points[:, 0] <= box[1]) & (points[:, 1] >= box[2])
            & (points[:, 1] <= box[3]))
  outside = int(len(points) - inside.sum())
  ax.set_title(title or f"{len(points)} samples" + (f" ({outside} outside this frame)" if outside else ""))
  if true_points is not None or modes is not None:
    legend = fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    for handle in legend.legend_handles:
      handle.set_sizes([20.0])
  return fig


def save_points(points, path: str, box=None, data_name: str | None = None, title: str | None = None) -> None:
  """Writes 2-D samples (N, 2) as a scatter plot PNG; with `data_name` a toy2d set ('toy2d/25gaussians'),
  its true points and mode centres are drawn too (see `points_figure`)."""
  true_points, modes = toy_reference(data_name)
  fig = points_figure(points, box, true_points, modes, title)
  _makedirs_for(path)
  fig.savefig(path, dpi=FIGURE_DPI)


def heatmap_figure(values, extent=None, label: str = "value", modes=None, title: str | None = None):
  """A Figure of a (H, W) array as a colour map with a colour bar labelled `label`, 500 pixels high.

  Row 0 of `values` is the top. `extent` = (xmin, xmax, ymin, ymax) puts the axes in data coordinates (else
  pixel indices); `modes` (M, 2) in those coordinates are marked with white crosses. Non-finite values are grey.
  """
  import matplotlib
  from matplotlib.figure import Figure
  values = np.ma.masked_invalid(np.asarray(values, np.float64))
  fig = Figure(figsize=(FIGURE_INCHES * 1.2, FIGURE_INCHES), dpi=FIGURE_DPI, layout="constrained")
  ax = fig.add_subplot()
  cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.5")
  image = ax.imshow(values, extent=extent, origin="upper", cmap=cmap, interpolation="nearest")
  colorbar = fig.colorbar(image, ax=ax)
  colorbar.set_label(label)
  if modes is not None:
    ax.scatter(*np.asarray(modes).T, s=30, marker="x", c="white", linewidths=1.0)
    if extent is not None:
      ax.set_xlim(extent[0], extent[1])
      ax.set_ylim(extent[2], extent[3])
  ax.set_xlabel("$x_1$" if extent is not None else "column")
  ax.set_ylabel("$x_2$" if extent is not None else "row")
  if title:
    ax.set_title(title)
  return fig


def save_heatmap(values, path: str, extent=None, label: str = "value", modes=None, title: str | None = None) -> None:
  """Writes a (H, W) array (row 0 at the top) as a colour-map PNG with axes and a colour bar (`heatmap_figure`)."""
  fig = heatmap_figure(values, extent, label, modes, title)
  _makedirs_for(path)
  fig.savefig(path, dpi=FIGURE_DPI)
