"""A 2-D grid of latents: the decoded-grid figures of the autoencoder (over the embedding box) and the VAE (over
normal quantiles), and the texts that say what each row and column of such a grid holds."""
import jax.numpy as jnp
import numpy as np


def latent_grid(xs, ys, latent_dim: int, dims=(0, 1)):
  """(len(ys) * len(xs), latent_dim) latents, row-major: row r, column c has z[dims[0]] = xs[c],
  z[dims[1]] = ys[r] and every other coordinate 0. Give ys descending for a plot whose top row is the largest.

  Autoencoder box: xs = linspace(lo0, hi0, n), ys = linspace(hi1, lo1, n).
  VAE: xs = Φ⁻¹(linspace(eps, 1 − eps, n)), ys = xs reversed.
  """
  xs, ys = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
  z = np.zeros((len(ys), len(xs), latent_dim), np.float32)
  z[:, :, dims[0]] = xs[None, :]
  z[:, :, dims[1]] = ys[:, None]
  return jnp.asarray(z.reshape(-1, latent_dim))


def value_labels(values, prefix: str = "", digits: int = 3) -> list[str]:
  """One short text per value: prefix + the value to `digits` significant digits, signed when any value is
  negative (e.g. [-2, 0, 2] with prefix "α=" -> ["α=-2", "α=+0", "α=+2"]; never "-0")."""
  values = np.asarray(values, np.float64).reshape(-1) + 0.0        # + 0.0 turns -0.0 into 0.0
  sign = "+" if (values < 0).any() else ""
  return [f"{prefix}{v:{sign}.{digits}g}" for v in values]


def latent_grid_texts(xs, ys, dims=(0, 1)) -> dict:
  """The labels of a `latent_grid(xs, ys, latent_dim, dims)` figure, as `jaxgen.viz.save_image_grid` takes
  them: the z values of each column and row and the names of the two coordinates (z1 = latent dimension 0)."""
  return {"col_labels": value_labels(xs), "row_labels": value_labels(ys),
          "col_title": f"z{dims[0] + 1}", "row_title": f"z{dims[1] + 1}"}
