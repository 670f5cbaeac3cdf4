"""Pictures: image grids (optionally with a title and row / column labels), 2-D point clouds (coloured by label
or over a toy data set's true modes), heat maps and training curves, written as PNG.

Every figure says what it shows: axes are named, grids carry the values of what varies along their rows and
columns, plots name the sampler that made them (`title`). Plain image grids are written pixel for pixel with
Pillow. Plots and labelled grids are drawn with matplotlib's object API (`matplotlib.figure.Figure`, no pyplot,
no global backend), so the library works in scripts, notebooks and headless servers alike. The `*_figure`
functions are pure: they return the Figure for inspection; the `save_*` functions write it, atomically (a viewer
never opens a half-written file, e.g. of the loss curve rewritten during training).

Images are float NHWC in [0, 1]; 2-D points are (N, 2) in data coordinates.
"""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from jaxgen import fileio
from jaxgen.data import toy2d

FIGURE_INCHES = 5.0      # side of the square 2-D plots
FIGURE_DPI = 100         # -> 500 x 500 pixel plots
LABEL_FONT_SIZE = 10     # points; row and column labels of image grids
TITLE_FONT_SIZE = 11     # points; the title line of a labelled grid
MAX_LEGEND_CLASSES = 20  # a labelled scatter with more classes gets a colour bar instead of a legend


def _to_uint8(images: np.ndarray) -> np.ndarray:
  return (np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _makedirs_for(path: str) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def _write_atomic(path: str, write) -> None:
  """`fileio.atomic_write` into a directory made first (readers see the old picture or the new one)."""
  _makedirs_for(path)
  fileio.atomic_write(path, write)


def _savefig(fig, path: str) -> None:
  _write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=FIGURE_DPI, format="png"))


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
  _write_atomic(path, Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save)


def default_scale(image_size: int) -> int:
  """Upscaling factor that shows an image of side `image_size` at about 64 pixels (8x8 digits -> 8)."""
  return max(1, 64 // max(int(image_size), 1))


def _checked_labels(labels, count: int, what: str) -> list[str]:
  labels = [str(s) for s in labels]
  if len(labels) != count:
    raise ValueError(f"{what} has {len(labels)} entries for a grid with {count}")
  return labels


def _text_px(text: str, size: float, weight: str = "normal") -> float:
  """Width in pixels of one line of `text` at font `size` points in matplotlib's default font (to size the
  margins of a labelled grid before drawing it)."""
  from matplotlib.backends.backend_agg import RendererAgg
  from matplotlib.font_manager import FontProperties
  if not text:
    return 0.0
  renderer = RendererAgg(1, 1, FIGURE_DPI)                      # measures as the PNG writer draws
  return renderer.get_text_width_height_descent(text, FontProperties(size=size, weight=weight), ismath=False)[0]


def labelled_grid_figure(images, ncols: int | None = None, scale: int | None = None, row_labels=None,
                         col_labels=None, title: str | None = None, row_title: str | None = None,
                         col_title: str | None = None):
  """A Figure showing `image_grid(images, ncols)` pixel for pixel, with a text label left of each row
  (`row_labels`, one per grid row) and/or above each column (`col_labels`, one per grid column).

  `col_title` names what varies along the columns (e.g. "z₁ (latent dim 0)"), drawn above the column labels;
  `row_title` names what varies down the rows, drawn vertically left of the row labels; `title` (what made the
  images: the sampler, its steps, the options) is the top line. The grid is placed with `figimage` (no
  resampling): the PNG is (top margin + grid height) x (left margin + grid width, or the title's width) pixels,
  the margins sized to the texts (0 without them).
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
  line = LABEL_FONT_SIZE * FIGURE_DPI / 72.0 + 6                     # one line of label text, in pixels
  title_line = TITLE_FONT_SIZE * FIGURE_DPI / 72.0 + 8
  row_title_w = line if row_title else 0
  left = int(math.ceil(row_title_w + (8 + max(_text_px(s, LABEL_FONT_SIZE) for s in rows) if rows else 0)))
  if row_title and not rows:
    left += 4
  top = int(math.ceil((line if cols else 0) + (line if col_title else 0) + (title_line if title else 0)))
  fig_w = max(left + width, int(math.ceil(_text_px(title or "", TITLE_FONT_SIZE, "bold") + 8)),
              int(math.ceil(left + _text_px(col_title or "", LABEL_FONT_SIZE) + 8)))
  fig_h = max(top + height, int(math.ceil(_text_px(row_title or "", LABEL_FONT_SIZE) + 8)))
  fig = Figure(figsize=(fig_w / FIGURE_DPI, fig_h / FIGURE_DPI), dpi=FIGURE_DPI, facecolor="white")
  fig.figimage(pixels, xo=left, yo=fig_h - top - height, origin="upper")
  grid_top = fig_h - top                                               # figure pixels from the bottom
  for r, text in enumerate(rows or ()):
    y = grid_top - (1 + r * (h + 1) + h / 2) * scale                   # row centre
    fig.text((left - 4) / fig_w, y / fig_h, text, ha="right", va="center", fontsize=LABEL_FONT_SIZE)
  for c, text in enumerate(cols or ()):
    x = left + (1 + c * (w + 1) + w / 2) * scale                       # column centre
    fig.text(x / fig_w, (grid_top + 3) / fig_h, text, ha="center", va="bottom", fontsize=LABEL_FONT_SIZE)
  if col_title:
    y = grid_top + (line if cols else 0) + 3
    fig.text((left + width / 2) / fig_w, y / fig_h, col_title, ha="center", va="bottom", fontsize=LABEL_FONT_SIZE,
             style="italic")
  if row_title:
    fig.text(3 / fig_w, (grid_top - height / 2) / fig_h, row_title, ha="left", va="center", rotation=90,
             fontsize=LABEL_FONT_SIZE, style="italic")
  if title:
    fig.text(0.5, (fig_h - 4) / fig_h, title, ha="center", va="top", fontsize=TITLE_FONT_SIZE, weight="bold")
  return fig


def save_image_grid(images, path: str, ncols: int | None = None, scale: int | None = None, row_labels=None,
                    col_labels=None, title: str | None = None, row_title: str | None = None,
                    col_title: str | None = None) -> None:
  """Writes images (N, H, W, C) in [0, 1] as one PNG grid; small images are upscaled for viewing. `row_labels`
  (e.g. the step count of each row of a sweep), `col_labels` (e.g. the Langevin step of each column of a chain),
  their names `row_title` / `col_title` and a `title` line are drawn in margins around the unchanged grid
  (`labelled_grid_figure`); without any of them the grid alone is written."""
  images = np.asarray(images)
  texts = (row_labels, col_labels, title, row_title, col_title)
  if all(t is None for t in texts):
    save_image(image_grid(images, ncols), path, scale=default_scale(images.shape[1]) if scale is None else scale)
    return
  _savefig(labelled_grid_figure(images, ncols, scale, *texts), path)


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


def _scatter_by_label(fig, ax, points, labels, marker: float) -> None:
  """Points coloured by their integer label: a legend of the classes (up to MAX_LEGEND_CLASSES), else a colour
  bar labelled "label"."""
  import matplotlib
  labels = np.asarray(labels).astype(np.int64).reshape(-1)
  classes = np.unique(labels)
  if len(classes) > MAX_LEGEND_CLASSES:
    paths = ax.scatter(points[:, 0], points[:, 1], s=marker, c=labels, cmap="viridis", linewidths=0)
    fig.colorbar(paths, ax=ax).set_label("label")
    return
  cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
  for i, k in enumerate(classes):
    inside = labels == k
    ax.scatter(points[inside, 0], points[inside, 1], s=marker, color=cmap(i), alpha=0.7, linewidths=0,
               label=str(k))
  legend = ax.legend(title="label", loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title_fontsize=8,
                     markerscale=1.0)
  for handle in legend.legend_handles:
    handle.set_sizes([20.0])


def points_figure(points, box=None, true_points=None, modes=None, title: str | None = None, labels=None,
                  axis_labels=("$x_1$", "$x_2$")):
  """A Figure of 2-D samples (N, 2): a scatter with labelled axes, equal aspect, 500 x 500 pixels.

  `true_points` (grey, behind) shows the data distribution; `modes` (M, 2) marks its mode centres with red
  crosses. `labels` (N,) ints colour the points by class with a legend titled "label" (e.g. a latent scatter of
  encoder means by digit). `box` = (xmin, xmax, ymin, ymax); by default the data's range with a 25% margin when
  `true_points` are given (the same frame at every training step), else the samples' range with a 5% margin.
  The title is `title` (what made the points: e.g. the sampler and its steps) over a line counting the points
  and those outside the frame.
  """
  from matplotlib.figure import Figure
  points = np.asarray(points, np.float64)
  if box is None:
    box = _box_of(points, 0.05) if true_points is None else _box_of(true_points, 0.25)
  fig = Figure(figsize=(FIGURE_INCHES * (1.2 if labels is not None else 1.0), FIGURE_INCHES), dpi=FIGURE_DPI,
               layout="constrained")
  ax = fig.add_subplot()
  marker = max(0.5, min(6.0, 3000.0 / max(len(points), 1)))
  if true_points is not None:
    ax.scatter(*np.asarray(true_points).T, s=marker, c="0.75", linewidths=0, label="data")
  if labels is not None:
    _scatter_by_label(fig, ax, points, labels, max(marker, 2.0))
  else:
    ax.scatter(points[:, 0], points[:, 1], s=marker, c="tab:blue", alpha=0.6, linewidths=0, label="samples")
  if modes is not None:
    ax.scatter(*np.asarray(modes).T, s=25, marker="x", c="tab:red", linewidths=1.0, label="true modes")
  ax.set_xlim(box[0], box[1])
  ax.set_ylim(box[2], box[3])
  ax.set_aspect("equal")
  ax.set_xlabel(axis_labels[0])
  ax.set_ylabel(axis_labels[1])
  inside = ((points[:, 0] >= box[0]) & (points[:, 0] <= box[1]) & (points[:, 1] >= box[2])
            & (points[:, 1] <= box[3]))
  outside = int(len(points) - inside.sum())
  count = f"{len(points)} {'points' if labels is not None else 'samples'}" + (
      f" ({outside} outside this frame)" if outside else "")
  if labels is not None and title and not outside:
    count = ""                                  # the title already counts the points (e.g. "... of 2000 images")
  ax.set_title("\n".join(t for t in (title, count) if t), fontsize=10)
  if labels is None and (true_points is not None or modes is not None):
    legend = fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    for handle in legend.legend_handles:
      handle.set_sizes([20.0])
  return fig


def save_points(points, path: str, box=None, data_name: str | None = None, title: str | None = None, labels=None,
                axis_labels=("$x_1$", "$x_2$")) -> None:
  """Writes 2-D samples (N, 2) as a scatter plot PNG; with `data_name` a toy2d set ('toy2d/25gaussians'),
  its true points and mode centres are drawn too (see `points_figure` for `title`, `labels`, `axis_labels`)."""
  true_points, modes = toy_reference(data_name)
  _savefig(points_figure(points, box, true_points, modes, title, labels, axis_labels), path)


def heatmap_figure(values, extent=None, label: str = "value", modes=None, title: str | None = None, vmin=None,
                   vmax=None):
  """A Figure of a (H, W) array as a colour map with a colour bar labelled `label`, 500 pixels high.

  Row 0 of `values` is the top. `extent` = (xmin, xmax, ymin, ymax) puts the axes in data coordinates (else
  pixel indices); `modes` (M, 2) in those coordinates are marked with white crosses ("true modes" in a legend).
  `vmin` / `vmax` fix the colour scale (values beyond take the end colours, the bar shows an arrow); by default
  it spans the finite values. Non-finite values are grey.
  """
  import matplotlib
  from matplotlib.figure import Figure
  values = np.ma.masked_invalid(np.asarray(values, np.float64))
  fig = Figure(figsize=(FIGURE_INCHES * 1.2, FIGURE_INCHES), dpi=FIGURE_DPI, layout="constrained")
  ax = fig.add_subplot()
  cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.5")
  image = ax.imshow(values, extent=extent, origin="upper", cmap=cmap, interpolation="nearest", vmin=vmin, vmax=vmax)
  below = vmin is not None and values.count() and values.min() < vmin
  above = vmax is not None and values.count() and values.max() > vmax
  colorbar = fig.colorbar(image, ax=ax, extend={(1, 1): "both", (1, 0): "min", (0, 1): "max"}.get(
      (int(bool(below)), int(bool(above))), "neither"))
  colorbar.set_label(label)
  if modes is not None:
    ax.scatter(*np.asarray(modes).T, s=30, marker="x", c="white", linewidths=1.0, label="true modes")
    ax.legend(loc="upper right", fontsize=8, facecolor="0.3", labelcolor="white", framealpha=0.6)
    if extent is not None:
      ax.set_xlim(extent[0], extent[1])
      ax.set_ylim(extent[2], extent[3])
  ax.set_xlabel("$x_1$" if extent is not None else "column")
  ax.set_ylabel("$x_2$" if extent is not None else "row")
  if title:
    ax.set_title(title)
  return fig


def save_heatmap(values, path: str, extent=None, label: str = "value", modes=None, title: str | None = None,
                 vmin=None, vmax=None) -> None:
  """Writes a (H, W) array (row 0 at the top) as a colour-map PNG with axes and a colour bar (`heatmap_figure`)."""
  _savefig(heatmap_figure(values, extent, label, modes, title, vmin, vmax), path)


# --- training curves --------------------------------------------------------------------------------------

NOT_CURVES = ("step", "steps_per_sec")  # metrics.jsonl keys that are not losses (the x axis, the speed)


def curve_series(records) -> dict:
  """{key: (steps (n,), values (n,))} of metrics.jsonl records ({"step": s, key: value, ...}): every key but
  NOT_CURVES, over the records that have it with a finite value, in file order."""
  series: dict = {}
  for record in records:
    for key, value in record.items():
      if key in NOT_CURVES or not isinstance(value, (int, float)) or not math.isfinite(value):
        continue
      series.setdefault(key, ([], []))
      series[key][0].append(int(record.get("step", 0)))
      series[key][1].append(float(value))
  return {k: (np.asarray(s), np.asarray(v)) for k, (s, v) in series.items()}


def loss_curve_figure(records, title: str | None = None):
  """A Figure of every loss in metrics.jsonl `records` against the training step: keys whose values are all
  positive on a log-scale panel, the others (e.g. WGAN critic losses, which go negative) on a linear one below;
  evaluation keys (eval_*) dashed; each panel with its legend; 640 pixels wide."""
  from matplotlib.figure import Figure
  series = curve_series(records)
  positive = [k for k, (_, v) in series.items() if (v > 0).all()]
  signed = [k for k in series if k not in positive]
  panels = [(keys, log) for keys, log in ((positive, True), (signed, False)) if keys] or [([], False)]
  fig = Figure(figsize=(6.4, 2.0 + 2.4 * len(panels)), dpi=FIGURE_DPI, layout="constrained")
  axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
  for ax, (keys, log) in zip(axes, panels):
    for key in keys:
      steps, values = series[key]
      ax.plot(steps, values, linestyle="--" if key.startswith("eval") else "-", marker="." if len(steps) < 30 else "",
              label=key)
    if log:
      ax.set_yscale("log")
    ax.set_ylabel("value (log scale)" if log else "value")
    ax.grid(True, alpha=0.3)
    if keys:
      ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    else:
      ax.text(0.5, 0.5, "no metrics logged yet", ha="center", va="center", transform=ax.transAxes)
  axes[-1].set_xlabel("step")
  axes[0].set_title(title or "training metrics (metrics.jsonl)", fontsize=10)
  return fig


def save_loss_curve(records, path: str, title: str | None = None) -> None:
  """Writes `loss_curve_figure(records, title)` as a PNG."""
  _savefig(loss_curve_figure(records, title), path)


# --- what sample.py and the training loop write -----------------------------------------------------------

GRID_TEXTS = ("row_labels", "col_labels", "row_title", "col_title")  # the texts of a sample_outputs image grid


def outputs_figure(out: dict, data_name: str | None = None, title: str | None = None):
  """The Figure of a family's `sample_outputs` dict, or None for an image grid with no text to draw (written
  pixel for pixel instead): 2-D points as a scatter (over the true modes of a toy2d `data_name`; coloured by
  out["labels"] when present, axes named by out["axis_labels"]), images as a grid with the dict's "ncols",
  "row_labels", "col_labels", "row_title", "col_title". `title` (default out["title"]) names what made the
  samples."""
  samples = np.asarray(out["samples"], np.float32)
  title = out.get("title") if title is None else title
  if samples.ndim == 2:
    true_points, modes = toy_reference(data_name)
    return points_figure(samples, None, true_points, modes, title, out.get("labels"),
                         out.get("axis_labels") or ("$x_1$", "$x_2$"))
  if title is None and all(out.get(k) is None for k in GRID_TEXTS):
    return None
  return labelled_grid_figure(samples, out.get("ncols"), None, *(out.get(k) for k in GRID_TEXTS[:2]), title,
                              *(out.get(k) for k in GRID_TEXTS[2:]))


def save_sample_outputs(out: dict, path: str, data_name: str | None = None, title: str | None = None) -> None:
  """Writes `outputs_figure(out, data_name, title)` as a PNG (a plain grid where there is no text to draw)."""
  fig = outputs_figure(out, data_name, title)
  if fig is None:
    save_image_grid(out["samples"], path, ncols=out.get("ncols"))
  else:
    _savefig(fig, path)
