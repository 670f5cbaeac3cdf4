"""Pictures: sizes of the written PNGs, axes / colour bars / true modes on the matplotlib figures, labelled grids."""
import numpy as np
import pytest
from PIL import Image

from jaxgen import viz
from jaxgen.data import toy2d


def _png(path) -> np.ndarray:
  return np.asarray(Image.open(path).convert("RGB"))


def test_points_plot_has_axes_true_modes_and_a_fixed_size(tmp_path):
  centres = toy2d.modes("8gaussians")[0]
  samples = np.repeat(centres, 10, axis=0) + 0.01
  fig = viz.points_figure(samples, true_points=samples[::2], modes=centres)
  ax = fig.axes[0]
  assert ax.get_xlabel() and ax.get_ylabel() and ax.get_aspect() == 1.0
  # The last scatter holds the true modes exactly; the axes show every sample and mode.
  np.testing.assert_allclose(ax.collections[-1].get_offsets(), centres)
  x0, x1, y0, y1 = *ax.get_xlim(), *ax.get_ylim()
  assert x0 < samples[:, 0].min() and x1 > samples[:, 0].max() and y0 < samples[:, 1].min() < samples[:, 1].max() < y1
  assert [t.get_text() for t in fig.legends[0].get_texts()] == ["data", "samples", "true modes"]
  # With the data known, the frame is the data's (25% margin), whatever the samples do; far samples are counted.
  far = np.concatenate([samples, [[100.0, 0.0], [0.0, -50.0]]])
  ax = viz.points_figure(far, true_points=centres).axes[0]
  span = 2 * 2 / 1.414
  np.testing.assert_allclose(ax.get_xlim(), (-span / 2 - span / 4, span / 2 + span / 4), rtol=1e-6)
  assert ax.get_title() == "82 samples (2 outside this frame)"
  path = tmp_path / "points.png"
  viz.save_points(samples, str(path), data_name="toy2d/8gaussians")
  assert Image.open(path).size == (500, 500)


def test_toy_reference_knows_the_distributions():
  points, centres = viz.toy_reference("toy2d/8gaussians", num=300)
  assert points.shape == (300, 2) and centres.shape == (8, 2)
  np.testing.assert_allclose(np.hypot(*centres.T), 2 / 1.414, rtol=1e-6)          # the circle of radius 1.4144
  # Every true point lies near one of the marked centres (per-mode std 0.0141).
  assert np.min(np.hypot(*(points[:, None] - centres[None]).transpose(2, 0, 1)), axis=1).max() < 0.1
  assert viz.toy_reference("digits") == (None, None)


def test_heatmap_has_a_labelled_colour_bar_in_data_coordinates(tmp_path):
  values = np.arange(12.0).reshape(3, 4)
  values[0, 0] = np.nan
  fig = viz.heatmap_figure(values, extent=(-2, 2, -1, 1), label="log p(x)")
  ax, bar = fig.axes
  assert bar.get_ylabel() == "log p(x)" and ax.get_xlabel() and ax.get_ylabel()
  assert ax.get_xlim() == (-2, 2) and ax.get_ylim() == (-1, 1)
  np.testing.assert_allclose(ax.images[0].get_clim(), (1.0, 11.0))                # NaN ignored by the colour scale
  path = tmp_path / "heat.png"
  viz.save_heatmap(values, str(path), extent=(-2, 2, -1, 1), label="log p(x)")
  assert Image.open(path).size == (600, 500)


def test_row_and_column_labels_are_drawn_beside_an_unchanged_grid(tmp_path):
  images = np.linspace(0, 1, 6 * 4 * 4).reshape(6, 4, 4, 1)
  plain, labelled = tmp_path / "plain.png", tmp_path / "labelled.png"
  viz.save_image_grid(images, str(plain), ncols=3, scale=2)
  viz.save_image_grid(images, str(labelled), ncols=3, scale=2, row_labels=["1 step", "100 steps"],
                      col_labels=["a", "b", "c"])
  a, b = _png(plain), _png(labelled)
  assert a.shape == ((2 * 5 + 1) * 2, (3 * 5 + 1) * 2, 3)
  top, left = b.shape[0] - a.shape[0], b.shape[1] - a.shape[1]
  assert top > 0 and left > 0
  np.testing.assert_array_equal(b[top:, left:], a)                                  # the grid, pixel for pixel
  assert (b[top:, :left] < 128).any() and (b[:top, left:] < 128).any()            # dark text in both margins
  row_only = tmp_path / "rows.png"
  viz.save_image_grid(images, str(row_only), ncols=3, scale=2, row_labels=[0, 1])
  assert _png(row_only).shape[0] == a.shape[0]
  with pytest.raises(ValueError, match="row_labels has 3 entries"):
    viz.save_image_grid(images, str(tmp_path / "bad.png"), ncols=3, row_labels=["a", "b", "c"])
