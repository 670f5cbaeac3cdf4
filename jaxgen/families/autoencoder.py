"""Autoencoder with a 2-d embedding (docs/reference.md §1, notebook 03_vae/01_autoencoder).

Encoder: [Conv 3×3 stride 2 "same" → (BatchNorm) → activation] × len(encoder_features) → Flatten → Dense(latent).
Decoder (`model.decoder`):
  "transpose" (reference): Dense(h·w·c) → Reshape → [Conv2DTranspose 3×3 s2 → (BN) → act] × … → output layer;
  "upsample":  Dense → Reshape → [UpSampling2D(2, nearest) → Conv 3×3 → BatchNorm → LeakyReLU(0.3)] × … → output
               (the checkerboard-free variant the book discusses).
Output layer (`model.output_layer`): "conv" = Conv2D(C, 3×3) (Fashion AE/VAE) or "conv_transpose" =
Conv2DTranspose(C, 3×3, s1) (faces VAE); the network returns *logits*; images are sigmoid(logits) in [0, 1].

Loss: per-pixel BCE from logits averaged over pixels and batch (docs/reference.md §1), or `model.recon_loss="mse"`.

`sample` draws uniformly in a box of the embeddings, as the reference (which uses the test embeddings' box):
State keeps `box_lo`/`box_hi`, an EMA (decay `model.box_decay`) of each training batch's per-dimension min/max,
so it follows the embedding as it moves; `embedding_box(state, x)` gives the exact box of any data set.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxgen import data as data_lib
from jaxgen import viz
from jaxgen.configs import sample_options
from jaxgen.errors import JaxgenError, check, choice, supported_options
from jaxgen.latent import interpolate as interp
from jaxgen.latent.grid import latent_grid, latent_grid_texts
from jaxgen.nn import layers, policy
from jaxgen.nn import updates

LOSS_KEYS = ("loss",)
SAMPLE_OPTIONS = sample_options.SAMPLE_OPTIONS["autoencoder"]
RENAMED_OPTIONS = sample_options.RENAMED_OPTIONS["autoencoder"]
OUTPUT_OPTIONS = sample_options.OUTPUT_OPTIONS["autoencoder"]
LATENT_SCATTER_POINTS = 2000   # test images in the latent scatter the loop writes for a 2-d latent


# ----------------------------------------------------------------------------------------------------------
# Networks (shared with the VAE).


def _act(name: str):
  if name == "relu":
    return nn.relu
  if name == "leaky_relu":
    return layers.leaky_relu          # slope 0.3 = Keras LeakyReLU()
  raise JaxgenError(f"model.activation={name!r} is not allowed; choose 'relu' or 'leaky_relu'.")


class Encoder(nn.Module):
  """x (B, H, W, C) in [0, 1] -> z (B, latent) (variational=False) or (mean, logvar) (B, latent) each."""
  features: Sequence[int] = (32, 64, 128)
  latent_dim: int = 2
  batch_norm: bool = False
  activation: str = "relu"
  variational: bool = False

  @nn.compact
  def __call__(self, x, train: bool = False):
    act = _act(self.activation)
    h = x
    for f in self.features:
      h = layers.Conv(f, (3, 3), 2, padding="SAME")(h)
      if self.batch_norm:
        h = layers.BatchNorm(use_running_average=not train)(h)
      h = act(h)
    h = h.reshape(h.shape[0], -1)
    if not self.variational:
      return layers.Dense(self.latent_dim, name="encoder_output")(h)
    return layers.Dense(self.latent_dim, name="z_mean")(h), layers.Dense(self.latent_dim, name="z_log_var")(h)


class Decoder(nn.Module):
  """z (B, latent) -> logits (B, H, W, C) (images = sigmoid(logits))."""
  start_shape: Sequence[int] = (4, 4, 128)   # the encoder's last feature map (Reshape target)
  features: Sequence[int] = (128, 64, 32)
  channels: int = 1
  batch_norm: bool = False
  activation: str = "relu"
  variant: str = "transpose"
  output_layer: str = "conv"

  @nn.compact
  def __call__(self, z, train: bool = False):
    act = _act(self.activation)
    h = layers.Dense(int(np.prod(self.start_shape)))(z)
    if self.batch_norm:
      h = act(layers.BatchNorm(use_running_average=not train)(h))
    h = h.reshape((z.shape[0],) + tuple(self.start_shape))
    for f in self.features:
      if self.variant == "transpose":
        h = layers.ConvTranspose(f, (3, 3), 2, padding="SAME")(h)
        if self.batch_norm:
          h = layers.BatchNorm(use_running_average=not train)(h)
        h = act(h)
      else:   # UpSampling2D(2) (nearest) + Conv + BatchNorm + LeakyReLU
        b, hh, ww, c = h.shape
        h = jnp.broadcast_to(h[:, :, None, :, None, :], (b, hh, 2, ww, 2, c)).reshape(b, 2 * hh, 2 * ww, c)
        h = layers.Conv(f, (3, 3), 1, padding="SAME")(h)
        h = layers.leaky_relu(layers.BatchNorm(use_running_average=not train)(h))
    if self.output_layer == "conv":
      return layers.Conv(self.channels, (3, 3), 1, padding="SAME", name="decoder_output")(h)
    return layers.ConvTranspose(self.channels, (3, 3), 1, padding="SAME", name="decoder_output")(h)


class AutoEncoder(nn.Module):
  """Encoder + decoder; `encode`, `decode` and `__call__` (x -> (logits, z or (mean, logvar)))."""
  encoder: Encoder
  decoder: Decoder

  def encode(self, x, train: bool = False):
    return self.encoder(x, train)

  def decode(self, z, train: bool = False):
    return self.decoder(z, train)

  def __call__(self, x, train: bool = False):
    return self.decoder(self.encoder(x, train), train)


def build_networks(config) -> AutoEncoder:
  """The AutoEncoder module a config describes (variational heads for config.family == "vae")."""
  variational = config.family == "vae"
  m, d = config.model, config.data
  enc_f = tuple(m.encoder_features)
  side = int(d.image_size) // 2 ** len(enc_f)
  check(side * 2 ** len(enc_f) == int(d.image_size),
        f"data.image_size={d.image_size} must be divisible by 2**len(model.encoder_features) = {2 ** len(enc_f)}.")
  enc = Encoder(enc_f, int(m.latent_dim), bool(m.batch_norm), m.activation, variational)
  dec = Decoder((side, side, enc_f[-1]), tuple(m.decoder_features), int(d.channels), bool(m.batch_norm),
                m.activation, m.decoder, m.output_layer)
  return policy.configure(AutoEncoder(enc, dec), config)


def validate_config(config) -> None:
  m = config.model
  choice("model.decoder", m.decoder, ("transpose", "upsample"))
  choice("model.output_layer", m.output_layer, ("conv", "conv_transpose"))
  choice("model.activation", m.activation, ("relu", "leaky_relu"))
  choice("model.recon_loss", m.recon_loss, ("bce", "mse"))
  choice("data.range", config.data.range, ("unit",))
  check(int(m.latent_dim) >= 1, f"model.latent_dim={m.latent_dim!r} must be >= 1.")
  check(len(m.encoder_features) >= 1, "model.encoder_features must list at least one width.")
  check(len(m.decoder_features) == len(m.encoder_features),
        f"model.decoder_features={tuple(m.decoder_features)} must have as many entries as model.encoder_features"
        f"={tuple(m.encoder_features)} (each undoes one stride-2 layer).")
  side = int(config.data.image_size) // 2 ** len(m.encoder_features)
  check(side >= 1 and side * 2 ** len(m.encoder_features) == int(config.data.image_size),
        f"data.image_size={config.data.image_size} must be divisible by 2**{len(m.encoder_features)}.")


# ----------------------------------------------------------------------------------------------------------
# Losses.


def reconstruction_error(x, logits, kind: str = "bce", reduction: str = "mean"):
  """Per-example reconstruction error (B,): BCE from logits or squared error of sigmoid(logits).

  reduction "mean": averaged over pixels (Keras `binary_crossentropy` / `mean_squared_error` followed by a
  mean); "sum": summed over pixels (the negative Bernoulli log-likelihood in nats for "bce").
  """
  if kind == "bce":
    per = optax.sigmoid_binary_cross_entropy(logits, x)
  else:
    per = (jax.nn.sigmoid(logits) - x) ** 2
  per = per.reshape(per.shape[0], -1)
  return per.mean(axis=1) if reduction == "mean" else per.sum(axis=1)


# ----------------------------------------------------------------------------------------------------------
# State, init, steps.


@dataclasses.dataclass(frozen=True)
class HParams:
  """What the AE's and VAE's steps need besides the State's leaves (hashable, static under jit).

  recon_loss "bce" | "mse" with weight recon_weight and pixel reduction recon_reduction "mean" | "sum" (the
  VAE's w·recon_b; the autoencoder's loss is by definition the pixel-mean error, w = 1); box_decay: EMA decay of
  the autoencoder's embedding box (unused by the VAE).
  """
  latent_dim: int
  recon_loss: str
  recon_weight: float
  recon_reduction: str
  box_decay: float

  @classmethod
  def from_config(cls, config, variational: bool = False) -> "HParams":
    m = config.model
    if variational:
      return cls(int(m.latent_dim), m.recon_loss, float(m.recon_weight), m.recon_reduction, box_decay=0.0)
    return cls(int(m.latent_dim), m.recon_loss, recon_weight=1.0, recon_reduction="mean", box_decay=float(m.box_decay))


@struct.dataclass
class BaseState:
  """What the AE and the VAE train (the VAE's whole State): network parameters, BatchNorm statistics, optimizer
  state and step; the module, optimizer and HParams are static."""
  params: Any
  batch_stats: Any
  opt_state: Any
  step: jax.Array
  model: AutoEncoder = struct.field(pytree_node=False)
  tx: optax.GradientTransformation = struct.field(pytree_node=False)
  hp: HParams = struct.field(pytree_node=False)


@struct.dataclass
class State(BaseState):
  """The autoencoder's State: BaseState and the bounding box of its embeddings that `sample` draws from."""
  box_lo: jax.Array                  # (latent,) EMA of per-batch embedding minima
  box_hi: jax.Array                  # (latent,) EMA of per-batch embedding maxima


def make_optimizer(config) -> optax.GradientTransformation:
  """Keras Adam: learning_rate, b1, b2 and eps from `config.optim`."""
  o = config.optim
  return optax.adam(float(o.learning_rate), b1=float(o.b1), b2=float(o.b2), eps=float(o.eps))


def init(config, key, example_batch) -> State:
  validate_config(config)
  model = build_networks(config)
  x = jnp.asarray(example_batch["x"][:1], jnp.float32)
  variables = model.init(key, x)
  tx = make_optimizer(config)
  latent = int(config.model.latent_dim)
  return State(params=variables["params"], batch_stats=variables.get("batch_stats", {}),
               opt_state=tx.init(variables["params"]), step=jnp.zeros((), jnp.int32),
               box_lo=jnp.full((latent,), -1.0, jnp.float32), box_hi=jnp.full((latent,), 1.0, jnp.float32),
               model=model, tx=tx, hp=HParams.from_config(config))


def model_variables(state, params=None):
  v = {"params": state.params if params is None else params}
  if state.batch_stats:
    v["batch_stats"] = state.batch_stats
  return v


def train_step(state: State, batch, key):
  """One Adam step on the mean reconstruction BCE; updates the embedding box. metrics: loss."""
  del key
  x = batch["x"]
  hp = state.hp

  def loss_fn(params):
    logits, z, new_stats = _forward(state, params, x, train=True)
    loss = reconstruction_error(x, logits, hp.recon_loss, "mean").mean()
    return loss, (z, new_stats)

  (loss, (z, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  params, opt_state = updates.apply_gradients(state.tx, state.params, state.opt_state, grads)
  z = jax.lax.stop_gradient(z)
  first = state.step == 0
  decay = jnp.where(first, 0.0, float(hp.box_decay))
  box_lo = decay * state.box_lo + (1 - decay) * z.min(axis=0)
  box_hi = decay * state.box_hi + (1 - decay) * z.max(axis=0)
  new = state.replace(params=params, opt_state=opt_state, batch_stats=new_stats, step=state.step + 1,
                      box_lo=box_lo, box_hi=box_hi)
  return new, {"loss": loss}


def _forward(state, params, x, train: bool):
  """(logits, z, batch_stats) — BatchNorm uses batch statistics and returns updated ones when train."""
  def fwd(m, x):
    z = m.encode(x, train)
    return m.decode(z, train), z

  variables = model_variables(state, params)
  if train and state.batch_stats:
    (logits, z), upd = state.model.apply(variables, x, method=fwd, mutable=["batch_stats"])
    return logits, z, upd["batch_stats"]
  logits, z = state.model.apply(variables, x, method=fwd)
  return logits, z, state.batch_stats


def eval_step(state: State, batch, key):
  """Test metrics: loss (mean BCE, as Keras' val_loss)."""
  del key
  logits, _, _ = _forward(state, state.params, batch["x"], train=False)
  return {"loss": reconstruction_error(batch["x"], logits, state.hp.recon_loss, "mean").mean()}


# ----------------------------------------------------------------------------------------------------------
# Tools.


def encode(state: State, x):
  """Embeddings z (B, latent) of images x (B, H, W, C) in [0, 1] (inference mode)."""
  return state.model.apply(model_variables(state), x, method=AutoEncoder.encode)


def decoder_logits(state: State, z):
  """Decoder logits (B, H, W, C) for latents z (B, latent)."""
  return state.model.apply(model_variables(state), z, method=AutoEncoder.decode)


def decode(state: State, z):
  """Images (B, H, W, C) in [0, 1] for latents z (B, latent)."""
  return jax.nn.sigmoid(decoder_logits(state, z))


def reconstruct(state: State, x):
  """decode(encode(x)): images in [0, 1]."""
  return decode(state, encode(state, x))


def image_shape(state: State) -> tuple[int, int, int]:
  """(H, W, C) of the images the model encodes and decodes (the decoder's output shape; nothing is computed)."""
  z = jax.ShapeDtypeStruct((1, state.hp.latent_dim), jnp.float32)
  return tuple(jax.eval_shape(lambda z: decode(state, z), z).shape[1:])


def one_image(state: State, x, name: str = "x") -> jax.Array:
  """`x` as a batch of one (1, H, W, C): one image (H, W, C) or a batch of one (1, H, W, C), e.g. `x[0:1]`, of
  the model's image shape; JaxgenError naming both shapes otherwise."""
  shape, got = image_shape(state), tuple(np.shape(x))
  check(got in (shape, (1,) + shape), f"{name} has shape {got}; expected one image {shape} or a batch of one "
        f"{(1,) + shape} (e.g. x[0] or x[0:1] of images (N, {', '.join(map(str, shape))})).")
  return jnp.asarray(x, jnp.float32).reshape((1,) + shape)


def interpolation_frames(num: int) -> jax.Array:
  """f = 0, 1/num, …, (num − 1)/num: the reference `morph_faces` fractions (float32 (num,), 1 excluded)."""
  check(isinstance(num, int) and num >= 1, f"num={num!r} must be a positive integer (frames).")
  return jnp.arange(num, dtype=jnp.float32) / num


def interpolate(state: State, x0, x1, num: int = 10):
  """Decoded frames (num, H, W, C) in [0, 1] along z = (1 − f)·z0 + f·z1 between the embeddings of two images
  x0, x1 (each (H, W, C) or (1, H, W, C) in [0, 1]; f = 0, 1/num, …, (num − 1)/num, as the reference's
  `morph_faces`)."""
  z0, z1 = encode(state, one_image(state, x0, "x0")), encode(state, one_image(state, x1, "x1"))
  return decode(state, interp.lerp(z0[0], z1[0], interpolation_frames(num)))


def encoder_means(mean_fn, state, x, batch_size: int = 500) -> np.ndarray:
  """mean_fn(state, x) over x (N, H, W, C) in batches of `batch_size`: (N, latent) float32 (the autoencoder's
  embeddings, the VAE's posterior means). The State is an argument of the jitted function, not a constant in
  it, so the training loop's repeated calls reuse one compilation."""
  enc = _jitted(mean_fn)
  return np.concatenate([np.asarray(enc(state, jnp.asarray(x[i:i + batch_size])))
                         for i in range(0, len(x), batch_size)])


@functools.lru_cache(maxsize=None)
def _jitted(fn):
  return jax.jit(fn)


def embedding_box(state: State, x, batch_size: int = 500):
  """(lo, hi): per-dimension min/max of the embeddings of x (N, H, W, C) — the reference's sampling box."""
  z = encoder_means(encode, state, x, batch_size)
  return z.min(axis=0), z.max(axis=0)


def box_axes(lo, hi, n: int, dims=(0, 1)):
  """(xs, ys) of the n×n grid over the box [lo, hi] in `dims`: xs rising left to right, ys falling top to bottom."""
  lo, hi = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
  return np.linspace(lo[dims[0]], hi[dims[0]], n), np.linspace(hi[dims[1]], lo[dims[1]], n)


def box_grid(lo, hi, n: int, dims=(0, 1)):
  """(n·n, latent): the n×n grid over the box [lo, hi] in `dims` (others 0), top row at hi[dims[1]]."""
  return latent_grid(*box_axes(lo, hi, n, dims), np.asarray(lo).shape[0], dims)


def sample_uniform_box(key, num: int, lo, hi):
  """(num, latent) points uniform in the box [lo, hi] (np.random.uniform(mins, maxs) in the reference)."""
  lo, hi = jnp.asarray(lo, jnp.float32), jnp.asarray(hi, jnp.float32)
  return lo + (hi - lo) * jax.random.uniform(key, (num, lo.shape[0]))


def sample(state: State, key, num: int, **options):
  """num images (num, H, W, C) in [0, 1], decoded from points uniform in the State's embedding box.

  latent_grid=n: instead decode the n×n grid over the box (num is ignored).
  """
  options = supported_options("the autoencoder family", options, SAMPLE_OPTIONS, renamed=RENAMED_OPTIONS)
  if options.get("latent_grid"):
    return decode(state, box_grid(state.box_lo, state.box_hi, int(options["latent_grid"])))
  return decode(state, sample_uniform_box(key, num, state.box_lo, state.box_hi))


def grid_outputs(sample_fn, owner: str, state, key, num: int, options, grid_axes, what: tuple[str, str]) -> dict:
  """`sample.py` outputs of the AE and VAE families: {"samples", "title"} from `sample_fn(state, key, num,
  **options)`; with `latent_grid=n` the n×n decoded grid (ncols n) with its z values on the rows and columns
  (`grid_axes(n)` -> (xs, ys), see `jaxgen.latent.grid.latent_grid_texts`). `what` = (the model's name, how
  the plain samples are drawn), for the title."""
  options = supported_options(owner, options, SAMPLE_OPTIONS, renamed=RENAMED_OPTIONS)
  n = options.get("latent_grid")
  check(n is None or (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1000),
        f"latent_grid={n!r} is not allowed; choose an integer n in [1, 1000] (an n x n grid).")
  out = {"samples": sample_fn(state, key, num, **options), "title": f"{what[0]} decoder, {what[1]}"}
  if options.get("latent_grid"):
    n = int(options["latent_grid"])
    others = ", other dims 0" if state.hp.latent_dim > 2 else ""
    out.update(ncols=n, title=f"{what[0]} decoder over a {n}×{n} grid of z1, z2{others}",
               **latent_grid_texts(*grid_axes(n)))
  return out


def labelled_images(config, num: int) -> tuple[np.ndarray, np.ndarray | None, str]:
  """(the first `num` images of the test split (the train split where there is none), their labels or None
  for unlabelled data, the split's name)."""
  split = "test"
  try:
    data = data_lib.load_split(config, split)
  except JaxgenError:
    split = "train"
    data = data_lib.load_split(config, split)
  label = data.get("label")
  return data["x"][:num], None if label is None else np.asarray(label[:num]), split


def scatter_outputs(mean_fn, state, config, num: int, what: str) -> dict:
  """The latent scatter: {"samples": the first two coordinates of mean_fn(state, x) (N, 2) for `num` test images,
  "labels" (their classes, when the data has them), "axis_labels", "title"}; `what` names the points."""
  check(isinstance(num, int) and not isinstance(num, bool) and num >= 1,
        f"latent_scatter={num!r} must be a positive integer (the number of test images to encode).")
  check(state.hp.latent_dim >= 2, f"latent_scatter needs a latent of 2 or more dimensions; this one has "
        f"{state.hp.latent_dim}.")
  x, labels, split = labelled_images(config, num)
  z = encoder_means(mean_fn, state, x)
  of = f" (z1, z2 of {state.hp.latent_dim})" if state.hp.latent_dim > 2 else ""
  out = {"samples": z[:, :2], "axis_labels": ("$z_1$", "$z_2$"), "title": f"{what} of {len(x)} {split} images{of}"}
  if labels is not None:
    out["labels"] = labels
  return out


def latent_outputs(owner: str, sample_fn, mean_fn, grid_axes, what: tuple[str, str, str], state, config, key, num,
                   options) -> dict:
  """`sample_outputs` of the AE and VAE: `scatter_outputs` for latent_scatter=N, else `grid_outputs`.
  `what` = (the model's name, how the samples are drawn, what the encoder gives)."""
  supported_options(owner, options, OUTPUT_OPTIONS, renamed=RENAMED_OPTIONS)
  if "latent_scatter" in options:
    check(not options.get("latent_grid"), "choose one of latent_grid and latent_scatter, not both.")
    return scatter_outputs(mean_fn, state, config, options["latent_scatter"], f"{what[0]} {what[2]}")
  return grid_outputs(sample_fn, owner, state, key, num, options, grid_axes, what[:2])


def sample_outputs(state: State, config, key, num: int, options) -> dict:
  """`sample.py` outputs: samples, with `latent_grid=n` the n×n decoded grid over the box (ncols n), with
  `latent_scatter=N` the embeddings of N test images coloured by label (`latent_outputs`)."""
  return latent_outputs("the autoencoder family", sample, encode,
                        lambda n: box_axes(state.box_lo, state.box_hi, n),
                        ("autoencoder", "z uniform in the embedding box", "embeddings"), state, config, key, num,
                        options)


def save_figures(state: State, config, directory: str, step: int) -> None:
  """Protocol hook, at every sample grid: for a 2-d latent, the embeddings of LATENT_SCATTER_POINTS test images
  coloured by label (samples/latent_scatter_XXXXXX.png)."""
  save_latent_scatter(encode, "autoencoder embeddings", state, config, directory, step)


def save_latent_scatter(mean_fn, what: str, state, config, directory: str, step: int) -> None:
  """Writes <directory>/latent_scatter_<step>.png (`scatter_outputs` of LATENT_SCATTER_POINTS images) when the
  latent has 2 dimensions; nothing otherwise (a 2-d view of a larger latent would mislead at training time)."""
  if state.hp.latent_dim != 2:
    return
  out = scatter_outputs(mean_fn, state, config, LATENT_SCATTER_POINTS, what)
  viz.save_sample_outputs(out, os.path.join(directory, f"latent_scatter_{step:06d}.png"),
                          title=f"step {step}: {out['title']}")
