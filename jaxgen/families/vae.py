"""Variational autoencoder (docs/reference.md §2–3; notebooks 03_vae/02_vae_fashion and 03_vae/03_vae_faces).

q(z|x) = N(mean, diag(exp(logvar))) from the encoder's two Dense heads; z = mean + exp(logvar/2)·ε
(reparameterization); decoder logits for p(x|z); prior N(0, I).

Loss (what the notebooks minimise, per batch):
  loss = mean_b[ w · recon_b ] + mean_b[ KL_b ],   KL_b = −½ Σ_d (1 + logvar − mean² − exp(logvar))
  recon_b = BCE(x, logits) ("bce") or squared error ("mse"), reduced over the pixels by `model.recon_reduction`:
  "mean" (the reference: Keras binary_crossentropy / mean_squared_error average the pixels) or "sum".
Metrics: `loss`, `reconstruction` (= mean_b w·recon_b, the notebook's reconstruction_loss, β included), `kl`.

Relation to the textbook ELBO: with "bce", reduction "sum" and weight 1, −loss is the ELBO in nats,
  ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)),  log p(x|z) = −Σ_pixels BCE (Bernoulli likelihood),
and `elbo(...)` returns it per example. The reference's (w=500, "mean") on 32×32×1 equals
(500/1024)·sum-BCE + KL = 0.488·(sum-BCE + 2.05·KL): a β-VAE with KL weight ≈ 2.05 in textbook units
(faces: 2000·mean-MSE over 3,072 values = 0.651·SSE; with a Gaussian decoder of variance σ² the textbook
objective is SSE/(2σ²) + KL, so the reference is the ELBO of σ² = 3072/(2·2000) = 0.768). `eval_step` also
reports `neg_elbo`, the textbook −ELBO in nats (one z sample) under that same decoder likelihood.

`encode`, `decoder_logits` and `log_px_given_z` serve the importance-weighted bound (jaxgen.metrics.likelihood).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import check, choice, supported_options
from jaxgen.families import autoencoder as ae
from jaxgen.latent import interpolate as interp
from jaxgen.latent.grid import latent_grid
from jaxgen.metrics import likelihood
from jaxgen.nn import updates

LOSS_KEYS = ("loss", "reconstruction", "kl")
SAMPLE_OPTIONS = ae.SAMPLE_OPTIONS
OUTPUT_OPTIONS = ae.OUTPUT_OPTIONS         # + latent_scatter (sample.py)

# KL(N(mean, diag(exp(logvar))) ‖ N(0, I)) per example, summed over latent dims: (B, D) -> (B,).
kl_divergence = likelihood.gaussian_kl


# ----------------------------------------------------------------------------------------------------------
# The objective as pure functions.


def reparameterize(key, mean, logvar):
  """z = mean + exp(logvar/2)·ε, ε ~ N(0, I): differentiable in (mean, logvar)."""
  return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)


def elbo(x, logits, mean, logvar, *, recon_loss: str = "bce", recon_weight: float = 1.0,
         recon_reduction: str = "sum"):
  """Per-example −(w·recon + KL) (B,). With the defaults ("bce", weight 1, "sum") this is the ELBO in nats:
  E_q[log p(x|z)] − KL(q‖p), one-sample estimate at the z that produced `logits`."""
  return -(recon_weight * ae.reconstruction_error(x, logits, recon_loss, recon_reduction) + kl_divergence(mean, logvar))


def vae_loss(x, logits, mean, logvar, recon_loss: str, recon_weight: float, recon_reduction: str):
  """(loss, metrics) of the notebooks: mean_b w·recon_b + mean_b KL_b."""
  recon = recon_weight * ae.reconstruction_error(x, logits, recon_loss, recon_reduction)
  kl = kl_divergence(mean, logvar)
  loss = recon.mean() + kl.mean()
  return loss, {"loss": loss, "reconstruction": recon.mean(), "kl": kl.mean()}


def gaussian_sigma(recon_weight: float, recon_reduction: str, num_pixels: int) -> float:
  """σ of the Gaussian decoder whose ELBO the weighted squared-error loss is: w·SE/P (mean) = SE/(2σ²)."""
  per_element = recon_weight / num_pixels if recon_reduction == "mean" else recon_weight
  return math.sqrt(1.0 / (2.0 * per_element))


# ----------------------------------------------------------------------------------------------------------
# State, init, steps.


HParams = ae.HParams
State = ae.BaseState   # params, batch_stats, opt_state, step; model, tx, hp static
build_networks = ae.build_networks   # variational heads: config.family == "vae"
make_optimizer = ae.make_optimizer


def validate_config(config) -> None:
  ae.validate_config(config)
  m = config.model
  choice("model.recon_reduction", m.recon_reduction, ("mean", "sum"))
  check(float(m.recon_weight) > 0, f"model.recon_weight={m.recon_weight!r} must be > 0.")


def init(config, key, example_batch) -> State:
  validate_config(config)
  model = build_networks(config)
  x = jnp.asarray(example_batch["x"][:1], jnp.float32)
  variables = model.init(key, x, method=lambda m, x: m.decode(m.encode(x)[0]))
  tx = make_optimizer(config)
  return State(params=variables["params"], batch_stats=variables.get("batch_stats", {}),
               opt_state=tx.init(variables["params"]), step=jnp.zeros((), jnp.int32), model=model, tx=tx,
               hp=ae.HParams.from_config(config, variational=True))


def _forward(state, params, x, key, train: bool):
  """(logits, mean, logvar, batch_stats): encode, reparameterize, decode."""
  def fwd(m, x):
    mean, logvar = m.encode(x, train)
    z = reparameterize(key, mean, logvar)
    return m.decode(z, train), mean, logvar

  if train and state.batch_stats:
    (logits, mean, logvar), upd = state.model.apply(ae.model_variables(state, params), x, method=fwd,
                                                    mutable=["batch_stats"])
    return logits, mean, logvar, upd["batch_stats"]
  logits, mean, logvar = state.model.apply(ae.model_variables(state, params), x, method=fwd)
  return logits, mean, logvar, state.batch_stats


def _loss_settings(state):
  hp = state.hp
  return hp.recon_loss, hp.recon_weight, hp.recon_reduction


def train_step(state: State, batch, key):
  """One Adam step on w·recon + KL (BatchNorm in training mode, as the faces notebook's training=True)."""
  x = batch["x"]

  def loss_fn(params):
    logits, mean, logvar, stats = _forward(state, params, x, key, train=True)
    loss, metrics = vae_loss(x, logits, mean, logvar, *_loss_settings(state))
    return loss, (metrics, stats)

  (_, (metrics, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  params, opt_state = updates.apply_gradients(state.tx, state.params, state.opt_state, grads)
  return state.replace(params=params, opt_state=opt_state, batch_stats=stats, step=state.step + 1), metrics


def eval_step(state: State, batch, key):
  """Test metrics (inference-mode BatchNorm): loss, reconstruction, kl, and neg_elbo (textbook −ELBO, nats)."""
  x = batch["x"]
  logits, mean, logvar, _ = _forward(state, state.params, x, key, train=False)
  _, metrics = vae_loss(x, logits, mean, logvar, *_loss_settings(state))
  log_px = _log_px(state, logits, x)
  metrics["neg_elbo"] = jnp.mean(-log_px + kl_divergence(mean, logvar))
  return metrics


# ----------------------------------------------------------------------------------------------------------
# Encoder / decoder access (also for jaxgen.metrics.likelihood).


def encode(state: State, x):
  """(mean, logvar), each (B, latent), of q(z|x) for images x (B, H, W, C) in [0, 1]."""
  return state.model.apply(ae.model_variables(state), x, method=ae.AutoEncoder.encode)


# The decoder is the autoencoder's: logits (B, H, W, C) (Bernoulli logits for "bce"; their sigmoid is the mean)
# and images sigmoid(logits) in [0, 1], for latents z (B, latent).
decoder_logits = ae.decoder_logits
decode = ae.decode


def _log_px(state, logits, x):
  recon_loss, weight, reduction = _loss_settings(state)
  if recon_loss == "bce":
    return likelihood.bernoulli_log_likelihood(logits, x)
  sigma = gaussian_sigma(weight, reduction, int(np.prod(x.shape[1:])))
  return likelihood.gaussian_log_likelihood(jax.nn.sigmoid(logits), x, sigma)


def log_px_given_z(state: State, z, x):
  """log p(x|z) per example (B,): Bernoulli on the logits ("bce"), or the Gaussian of `gaussian_sigma` ("mse")."""
  return _log_px(state, decoder_logits(state, z), x)


def reconstruct(state: State, x, key=None):
  """Decoded encodings in [0, 1]: of the mean (key None) or of a sampled z."""
  mean, logvar = encode(state, x)
  z = mean if key is None else reparameterize(key, mean, logvar)
  return decode(state, z)


def sample_prior(state: State, key, num: int):
  """(num, latent) draws from N(0, I)."""
  return jax.random.normal(key, (num, state.hp.latent_dim))


def prior_axes(n: int, eps: float = 0.05):
  """(xs, ys) of the reference's n×n prior grid: xs = Φ⁻¹(linspace(eps, 1 − eps, n)) left to right, ys the same
  falling top to bottom (evenly spaced in prior probability; eps instead of 0 and 1, where Φ⁻¹ is ±∞)."""
  q = np.asarray(jax.scipy.special.ndtri(jnp.linspace(eps, 1 - eps, n)), np.float32)
  return q, q[::-1]


def prior_grid(n: int, latent_dim: int, dims=(0, 1), eps: float = 0.05):
  """(n·n, latent): the reference's grid x = Φ⁻¹(linspace), y = Φ⁻¹(reversed linspace) over `dims` (others 0),
  evenly spaced in prior probability; the ends use eps and 1 − eps instead of 0 and 1 (where Φ⁻¹ is ±∞)."""
  return latent_grid(*prior_axes(n, eps), latent_dim, dims)


def interpolate(state: State, x0, x1, num: int = 10):
  """Decoded frames (num, H, W, C) in [0, 1] along z = (1 − f)·z0 + f·z1 between the mean encodings z0, z1 of two
  images x0, x1 (each (H, W, C) or (1, H, W, C) in [0, 1], e.g. x[0] or x[0:1]; f = 0, 1/num, …, (num − 1)/num,
  the reference's `morph_faces`). Another shape is one JaxgenError naming the expected ones."""
  m0, _ = encode(state, ae.one_image(state, x0, "x0"))
  m1, _ = encode(state, ae.one_image(state, x1, "x1"))
  return decode(state, interp.lerp(m0[0], m1[0], ae.interpolation_frames(num)))


def latent_histograms_png(z, path: str, num_dims: int = 50, bins: int = 30, ncols: int = 10,
                          cell: int = 80) -> None:
  """Saves a grid of histograms (density-normalised, grey bars) of the first `num_dims` latent dimensions of z
  (N, D), each with the N(0, 1) pdf (red) over [−3, 3], as the reference's `vae_utils` plot."""
  from PIL import Image, ImageDraw
  z = np.asarray(z, np.float64)
  d = min(num_dims, z.shape[1])
  nrows = -(-d // ncols)
  img = Image.new("RGB", (ncols * cell, nrows * cell), "white")
  draw = ImageDraw.Draw(img)
  edges = np.linspace(-3, 3, bins + 1)
  width = edges[1] - edges[0]
  grid = np.linspace(-3, 3, 60)
  pdf = np.exp(-0.5 * grid ** 2) / math.sqrt(2 * math.pi)
  top = 0.6                                                          # density shown at the top of a cell
  for i in range(d):
    ox, oy = (i % ncols) * cell, (i // ncols) * cell
    counts, _ = np.histogram(z[:, i], bins=edges)
    dens = counts / max(len(z), 1) / width
    for b, v in enumerate(dens):
      x0 = ox + 2 + b * (cell - 4) / bins
      h = min(v / top, 1.0) * (cell - 6)
      draw.rectangle([x0, oy + cell - 3 - h, x0 + (cell - 4) / bins - 1, oy + cell - 3], fill=(150, 150, 150))
    pts = [(ox + 2 + (g + 3) / 6 * (cell - 4), oy + cell - 3 - p / top * (cell - 6)) for g, p in zip(grid, pdf)]
    draw.line(pts, fill=(220, 30, 30), width=1)
    draw.rectangle([ox, oy, ox + cell - 1, oy + cell - 1], outline=(200, 200, 200))
    draw.text((ox + 3, oy + 2), str(i), fill=(0, 0, 0))
  img.save(path)


def sample(state: State, key, num: int, **options):
  """num images (num, H, W, C) in [0, 1] decoded from z ~ N(0, I); latent_grid=n: the n×n Φ⁻¹ grid over the
  first two latent dims instead."""
  options = supported_options("the vae family", options, SAMPLE_OPTIONS, renamed=ae.RENAMED_OPTIONS)
  if options.get("latent_grid"):
    return decode(state, prior_grid(int(options["latent_grid"]), state.hp.latent_dim))
  return decode(state, sample_prior(state, key, num))


def posterior_mean(state: State, x):
  """The encoder's mean (B, latent) of q(z | x) for images x (B, H, W, C)."""
  return encode(state, x)[0]


def sample_outputs(state: State, config, key, num: int, options) -> dict:
  """`sample.py` outputs: prior samples, with `latent_grid=n` the n×n Φ⁻¹ grid (ncols n), with
  `latent_scatter=N` the posterior means of N test images coloured by label (`ae.latent_outputs`)."""
  return ae.latent_outputs("the vae family", sample, posterior_mean, prior_axes,
                           ("VAE", "z ~ N(0, I)", "posterior means"), state, config, key, num, options)


def save_figures(state: State, config, directory: str, step: int) -> None:
  """Protocol hook, at every sample grid: for a 2-d latent, the posterior means of ae.LATENT_SCATTER_POINTS
  test images coloured by label (samples/latent_scatter_XXXXXX.png)."""
  ae.save_latent_scatter(posterior_mean, "VAE posterior means", state, config, directory, step)
