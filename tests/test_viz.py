"""Pictures: sizes of the written PNGs, axes / colour bars / true modes on the matplotlib figures, labelled grids."""
import os

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


# ------------------------------------------------------------------------------------------------ what each figure says

def _texts(fig) -> list[str]:
  return [t.get_text() for t in fig.texts]


def test_a_labelled_grid_names_its_rows_columns_and_what_made_it():
  images = np.linspace(0, 1, 9 * 4 * 4).reshape(9, 4, 4, 1)
  fig = viz.labelled_grid_figure(images, 3, 2, row_labels=["1", "0", "-1"], col_labels=["-1", "0", "1"],
                                 title="decoder over a 3×3 grid of z1, z2", row_title="z2", col_title="z1")
  assert _texts(fig) == ["1", "0", "-1", "-1", "0", "1", "z1", "z2", "decoder over a 3×3 grid of z1, z2"]
  by_text = {t.get_text(): t for t in fig.texts}
  assert by_text["z2"].get_rotation() == 90 and by_text["z1"].get_rotation() == 0
  # Column labels sit above their columns, left to right; the title is the top line.
  xs = [by_text[k].get_position()[0] for k in ("-1", "0")]
  title = by_text["decoder over a 3×3 grid of z1, z2"]
  assert xs[0] < xs[1] and title.get_position()[1] > by_text["z1"].get_position()[1]
  # Every text lies inside the figure: a long title or row label widens it rather than being cut (rows of
  # 16 pixels, at least the labels' height).
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  images = np.linspace(0, 1, 9 * 8 * 8).reshape(9, 8, 8, 1)
  for fig in (viz.labelled_grid_figure(images, 3, 2, ["1", "0", "-1"], ["-1", "0", "1"], "z", "z2", "z1"),
              viz.labelled_grid_figure(images, 3, 2, row_labels=["a long row label"] * 3, title="W" * 60)):
    renderer = FigureCanvasAgg(fig).get_renderer()
    for text in fig.texts:
      box = text.get_window_extent(renderer)
      assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y0 >= 0 and box.y1 <= fig.bbox.height, text


def test_value_labels_and_latent_grid_texts():
  from jaxgen.latent.grid import latent_grid_texts, value_labels
  assert value_labels([-2.0, -0.0, 2.0], "α=") == ["α=-2", "α=+0", "α=+2"]
  assert value_labels([0.0, 0.5, 1.0], "t=", 2) == ["t=0", "t=0.5", "t=1"]
  texts = latent_grid_texts([-1.6449, 0.0, 1.6449], [1.6449, 0.0, -1.6449])
  assert texts == {"col_labels": ["-1.64", "+0", "+1.64"], "row_labels": ["+1.64", "+0", "-1.64"],
                   "col_title": "z1", "row_title": "z2"}
  assert latent_grid_texts([0.0], [0.0], dims=(2, 0))["col_title"] == "z3"


def test_a_latent_scatter_is_coloured_by_label_with_a_legend():
  rng = np.random.default_rng(0)
  points, labels = rng.normal(size=(60, 2)), np.repeat(np.arange(3), 20)
  fig = viz.outputs_figure({"samples": points, "labels": labels, "axis_labels": ("$z_1$", "$z_2$"),
                            "title": "posterior means of 60 test images"})
  ax = fig.axes[0]
  assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("$z_1$", "$z_2$", "posterior means of 60 test images")
  legend = ax.get_legend()
  assert legend.get_title().get_text() == "label" and [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
  for k, paths in enumerate(ax.collections):                                   # one scatter per class, its points
    np.testing.assert_allclose(paths.get_offsets(), points[labels == k])
  many = viz.points_figure(points, labels=np.arange(60))                        # too many classes: a colour bar
  assert many.axes[1].get_ylabel() == "label"


def test_training_toy_plot_has_the_true_modes_and_names_the_sampler(tmp_path, monkeypatch):
  """The loop's samples/step_*.png of a toy run: the family's title after the step, the data's modes and legend."""
  from types import SimpleNamespace
  import ml_collections
  from jaxgen.train import actions
  figures = []
  monkeypatch.setattr(viz, "_savefig", lambda fig, path: figures.append((fig, os.path.basename(path))))
  points = np.asarray(toy2d.modes("8gaussians")[0])
  family = SimpleNamespace(sample_outputs=lambda state, config, key, num, options: {
      "samples": points[:num], "title": f"WGAN-GP + DOT {options['dot_steps']} steps"}, save_figures=None)
  config = ml_collections.ConfigDict({"data": {"name": "toy2d/8gaussians"}, "train": {"num_sample_images": 5},
                                      "sample": {"dot_steps": 3}})
  actions.write_samples(family, config, None, None, str(tmp_path), 7)
  [(fig, name)] = figures
  ax = fig.axes[0]
  assert name == "step_000007.png" and ax.get_title() == "step 7: WGAN-GP + DOT 3 steps\n5 samples"
  assert [t.get_text() for t in fig.legends[0].get_texts()] == ["data", "samples", "true modes"]
  np.testing.assert_allclose(ax.collections[-1].get_offsets(), points)


def test_gan_titles_say_whether_dot_moved_the_samples():
  from types import SimpleNamespace
  from jaxgen.families import gan
  state = SimpleNamespace(hp=SimpleNamespace(num_classes=0, objective="wgan_gp"))
  assert gan.samples_title(state, {"dot_steps": 0}) == "WGAN-GP generator, no DOT"
  assert (gan.samples_title(state, {"dot_steps": 50, "dot_step_size": 0.01, "dot_k": 1.0})
          == "WGAN-GP + DOT 50 steps (η=0.01, K=1)")
  state.hp.num_classes, state.hp.objective = 10, "bce"
  assert (gan.samples_title(state, {"truncated_z": 0.5, "label": 3})
          == "conditional DCGAN generator, no DOT, z truncated to ±0.5, class 3")


def test_heatmap_colour_scale_can_be_clipped_to_show_the_modes():
  values = np.array([[-700.0, -5.0], [-1.0, 0.0]])
  modes = np.array([[0.5, 0.5]])
  fig = viz.heatmap_figure(values, extent=(0, 1, 0, 1), label="log p(x) − max log p", modes=modes, vmin=-10,
                           vmax=0)
  ax, bar = fig.axes
  assert ax.images[0].get_clim() == (-10, 0) and bar.get_ylabel() == "log p(x) − max log p"
  assert ax.images[0].colorbar.extend == "min"                                  # -700 is below the scale: an arrow
  assert [t.get_text() for t in ax.get_legend().get_texts()] == ["true modes"]


def test_loss_curve_plots_every_loss_against_the_step():
  records = [{"step": s, "loss": 1.0 / s, "c_loss": 0.5 - s, "eval_loss": 2.0 / s, "steps_per_sec": 9.0}
             for s in (10, 20, 30)] + [{"step": 40, "loss": float("nan")}]
  fig = viz.loss_curve_figure(records)
  log_ax, linear_ax = fig.axes
  assert log_ax.get_yscale() == "log" and linear_ax.get_yscale() == "linear"
  assert linear_ax.get_xlabel() == "step" and log_ax.get_ylabel() == "value (log scale)"
  assert [t.get_text() for t in log_ax.get_legend().get_texts()] == ["loss", "eval_loss"]
  assert [t.get_text() for t in linear_ax.get_legend().get_texts()] == ["c_loss"]
  loss, eval_loss = log_ax.get_lines()
  np.testing.assert_allclose(loss.get_xydata(), [[10, 0.1], [20, 0.05], [30, 1 / 30]])   # the NaN is left out
  assert eval_loss.get_linestyle() == "--" and loss.get_linestyle() == "-"
  assert "metrics.jsonl" in log_ax.get_title()
  empty = viz.loss_curve_figure([])
  assert [t.get_text() for t in empty.axes[0].texts] == ["no metrics logged yet"]


def test_the_loop_writes_the_loss_curve_beside_metrics_jsonl(tmp_path):
  from jaxgen.train import actions
  assert actions.write_loss_curve(tmp_path) is None                              # no metrics yet: nothing
  (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.0}\n{"step": 3, "lo')
  assert [r["step"] for r in actions.read_metrics(tmp_path)] == [1, 2]          # a line cut short is skipped
  path = actions.write_loss_curve(tmp_path)
  assert path == str(tmp_path / "loss_curve.png") and Image.open(path).size[0] == 640
  assert sorted(os.listdir(tmp_path)) == ["loss_curve.png", "metrics.jsonl"]     # no temporary file left


def test_sample_outputs_figures_say_what_they_show(tmp_path):
  """What sample.py writes for a dict: a plain grid without texts, else the labelled figure."""
  images = np.zeros((4, 4, 4, 1))
  assert viz.outputs_figure({"samples": images, "ncols": 2}) is None
  fig = viz.outputs_figure({"samples": images, "ncols": 2, "title": "DDIM, 20 steps"})
  assert _texts(fig) == ["DDIM, 20 steps"]
  mix = {"samples": np.zeros((9, 4, 4, 1)), "ncols": 3, "row_labels": ["", "A1", "A2"], "col_labels": ["", "B1", "B2"],
         "title": "style mixing: layers 0-1 from A (rows), layers 2-3 from B (columns)"}
  assert _texts(viz.outputs_figure(mix))[:6] == ["", "A1", "A2", "", "B1", "B2"]
  viz.save_sample_outputs(mix, str(tmp_path / "mix.png"))
  viz.save_sample_outputs({"samples": images, "ncols": 2}, str(tmp_path / "plain.png"), title=None)
  assert _png(tmp_path / "mix.png").shape[0] > _png(tmp_path / "plain.png").shape[0]
