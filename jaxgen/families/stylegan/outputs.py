"""Rendering and the outputs `sample.py` writes for a style-based generator: samples with truncation, interpolations,
edits along directions (PCA, classifier boundaries, saved .npy directions, linear combinations) with per-layer
weights, and style-mixing grids. Images come out in [0, 1] (the generator's [-1, 1] mapped and clipped).
"""
import functools
import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.configs import sample_options
from jaxgen.data.preprocess import symmetric_to_unit
from jaxgen.errors import JaxgenError, check, supported_options
from jaxgen.families.stylegan.model import State, check_sample_settings
from jaxgen.latent import directions as directions_lib
from jaxgen.latent import edits as edits_lib
from jaxgen.latent import interpolate as interp
from jaxgen.latent.grid import value_labels
from jaxgen.latent.mixing import broadcast_layers, style_mix
from jaxgen.latent.truncation import truncate
from jaxgen.metrics.classifier import get_classifier

# Settings read from config.sample (the loop passes config.sample to `sample`; sample_outputs reads them too).
SAMPLE_OPTIONS = sample_options.SAMPLE_OPTIONS["stylegan"]
# Options sample.py may pass that this family implements in `sample_outputs`.
OUTPUT_OPTIONS = sample_options.OUTPUT_OPTIONS["stylegan"]
# Data sets whose classes jaxgen's classifier (jaxgen.metrics.classifier) can label: boundary:LABEL directions.
CLASSIFIED_DATA = ("digits", "tfds/mnist", "tfds/fashion_mnist", "tfds/cifar10")


@functools.partial(jax.jit, static_argnames=("generator",))
def _map(generator, params, z, c=None):
  return generator.mapping(params, z) if c is None else generator.mapping(params, z, c)


def conditioning(state: State, num: int, label: Optional[int] = None) -> Optional[jax.Array]:
  """One-hot labels (num, c_dim) for a conditional generator (None for an unconditional one): all `label`, or
  without one the classes in turn (0, 1, ..., c_dim - 1, 0, ...), so every class is represented."""
  c_dim = getattr(state.generator, "c_dim", 0)
  if not c_dim:
    return None
  labels = jnp.full((num,), label, jnp.int32) if label is not None else jnp.arange(num, dtype=jnp.int32) % c_dim
  return jax.nn.one_hot(labels, c_dim, dtype=jnp.float32)


@functools.partial(jax.jit, static_argnames=("generator", "noise_mode"))
def _render(generator, params, w_plus, key, noise_mode):
  return symmetric_to_unit(generator.synthesis(params, w_plus, key, noise_mode))


def render_chunk(resolution: int) -> int:
  """Images per synthesis call: 256 at 64 x 64 and below, fewer for large images (1 at 1024 x 1024) to bound memory."""
  return int(max(1, min(256, 2 ** 20 // (resolution * resolution))))


def render(state: State, w_plus: jax.Array, key, noise_mode: str = "random", chunk: Optional[int] = None):
  """EMA synthesis of W+ (N, L, D) -> images (N, R, R, C) in [0, 1], in chunks (memory)."""
  chunk = chunk or render_chunk(state.generator.net.resolution)
  # "const" noise must be the same map in every chunk; "random" noise differs per sample, hence per chunk.
  outs = [_render(state.generator, state.g_ema, w_plus[i:i + chunk],
                  key if noise_mode == "const" else jax.random.fold_in(key, i), noise_mode)
          for i in range(0, w_plus.shape[0], chunk)]
  return jnp.concatenate(outs)


def map_z(state: State, z: jax.Array, chunk: int = 4096, label: Optional[int] = None) -> jax.Array:
  """EMA mapping z (N, z_dim) -> w (N, w_dim); a conditional generator maps with `conditioning(label)`."""
  c = conditioning(state, z.shape[0], label)
  return jnp.concatenate([_map(state.generator, state.g_ema, z[i:i + chunk], None if c is None else c[i:i + chunk])
                          for i in range(0, z.shape[0], chunk)])


def sample_latents(state: State, key, num: int, label: Optional[int] = None) -> jax.Array:
  """num mapped w (num, w_dim) from the EMA mapping network, for PCA / boundary fitting."""
  return map_z(state, jax.random.normal(key, (num, state.generator.z_dim)), label=label)


def sample(state: State, key, num: int, **options):
  """num images (num, R, R, C) in [0, 1]: z ~ N(0, I) -> EMA mapping -> truncation (psi, default 1) -> synthesis.

  Other config.sample settings (`SAMPLE_OPTIONS`) are accepted and used by `sample_outputs` only.
  """
  settings = supported_options("stylegan `sample`", options, SAMPLE_OPTIONS + ("label",),
                               f" (and {', '.join(OUTPUT_OPTIONS)} in sample.py)")
  truncation, noise_mode = settings.get("truncation", 1.0), settings.get("noise_mode", "random")
  check_sample_settings({"noise_mode": noise_mode, **settings})
  k_z, k_noise = jax.random.split(key)
  w = truncate(sample_latents(state, k_z, num, settings.get("label")), state.w_avg, float(truncation))
  return render(state, broadcast_layers(w, state.generator.num_layers), k_noise, noise_mode)


# ------------------------------------------------------------------------------------------------ directions

def _classify(config, images_unit):
  """jaxgen's classifier (jaxgen.metrics.classifier, trained on first use and cached) for the run's data set:
  class probabilities (N, classes) of images in [0, 1] (N, R, R, C)."""
  d = config.data
  classifier = get_classifier(dataset=d.name, image_size=int(d.image_size), channels=int(d.channels),
                              pad=int(d.pad), data_dir=d.get("data_dir", ""), seed=0)
  return classifier.probabilities(np.asarray(images_unit))


def labelled_latents(state: State, config, key, num: int):
  """(w (num, w_dim), class labels (num,)): mapped samples and the classifier's argmax on their images."""
  k_w, k_noise = jax.random.split(key)
  w = sample_latents(state, k_w, num)
  images = render(state, broadcast_layers(w, state.generator.num_layers), k_noise, "random")
  return w, np.asarray(jnp.argmax(_classify(config, images), axis=-1))


def _int_arg(spec: str, arg: str, form: str) -> int:
  try:
    return int(arg)
  except ValueError:
    raise JaxgenError(f"direction={spec!r} is not allowed; write {form}.") from None


def find_direction(state: State, config, key, spec: str, settings: Optional[dict] = None):
  """One direction spec -> (direction (D,), std of mapped w along it, description).

  pca:K           K-th principal component (0-based) of `sample.pca_samples` mapped w (GANSpace).
  boundary:LABEL  unit normal of a logistic-regression boundary between mapped w whose image the data set's
                  classifier calls class LABEL and the others (InterFaceGAN with a classifier as the labeller).
  file:PATH.npy   a saved direction of shape (D,) or (1, D), e.g. InterFaceGAN's published boundaries.
  """
  kind, _, arg = str(spec).partition(":")
  settings = config.sample.to_dict() if settings is None else settings
  if kind == "pca":
    k = _int_arg(spec, arg, "'pca:K' with K an integer >= 0")
    w = sample_latents(state, key, int(settings.get("pca_samples", 10000)))
    check(0 <= k < min(w.shape), f"direction={spec!r}: K must be in [0, {min(w.shape) - 1}].")
    pca = directions_lib.pca_directions(w, k + 1)
    return pca.components[k], pca.std[k], f"PC{k}: {float(pca.explained_variance_ratio[k]):.1%} of the variance"
  if kind == "file":
    d = jnp.asarray(directions_lib.load_direction(arg, state.generator.w_dim))
    w = sample_latents(state, key, int(settings.get("pca_samples", 10000)))
    return d, jnp.std(w @ d), f"{arg} (|d| = {float(jnp.linalg.norm(d)):.3f})"
  if kind == "boundary":
    name = config.data.name
    if name not in CLASSIFIED_DATA:
      raise JaxgenError(
          f"direction={spec!r} labels generated images with jaxgen's own class classifier, which exists for "
          f"data.name in {', '.join(CLASSIFIED_DATA)}; there is no attribute classifier offline for {name!r} "
          f"(e.g. face attributes). Use direction='pca:K', a saved direction 'file:PATH.npy', or fit "
          f"`jaxgen.latent.directions.linear_boundary` on your own (w, attribute label) pairs.")
    label = _int_arg(spec, arg, "'boundary:LABEL' with LABEL a class 0-9")
    check(0 <= label <= 9, f"direction={spec!r}: LABEL must be a class 0-9.")
    w, labels = labelled_latents(state, config, key, int(settings.get("boundary_samples", 4000)))
    check(bool(np.any(labels == label)) and bool(np.any(labels != label)),
          f"direction={spec!r}: the classifier found no generated sample of class {label} (or only those); "
          f"train longer or raise sample.boundary_samples.")
    b = directions_lib.linear_boundary(w, labels == label)
    return b.normal, jnp.std(w @ b.normal), f"boundary digit {label}: balanced train accuracy {float(b.accuracy):.3f}"
  raise JaxgenError(f"direction={spec!r} is not allowed; choose 'pca:K', 'boundary:LABEL' or 'file:PATH.npy' "
                    f"(or a combination like '1*file:a.npy+0.5*pca:0').")


def combined_direction(state: State, config, key, spec: str, settings: dict, units: str = "std"):
  """A linear combination 'c1*SPEC1+c2*SPEC2+...' -> sum_i c_i * d_i, each d_i scaled by its std of w when
  units == 'std' (then alpha counts standard deviations), raw otherwise. Returns (D,)."""
  total = 0.0
  for i, (coef, term) in enumerate(directions_lib.parse_combination(spec)):
    d, std, _ = find_direction(state, config, jax.random.fold_in(key, i), term, settings)
    total = total + coef * d * (std if units == "std" else 1.0)
  return total


def class_probability_along(state: State, config, key, label: int, alphas, num: int = 256,
                            direction: Optional[jax.Array] = None) -> np.ndarray:
  """Mean classifier probability of class `label` over `num` samples edited by w + alpha * std * d, for each alpha.

  d: the boundary:LABEL direction (fitted here from `sample.boundary_samples` fresh samples) unless given.
  The check of an InterFaceGAN direction: the probability should rise monotonically with alpha. Returns (A,).
  """
  k_dir, k_z, k_noise = jax.random.split(key, 3)
  if direction is None:
    d, std, _ = find_direction(state, config, k_dir, f"boundary:{label}")
  else:
    d, std = direction, jnp.float32(1.0)
  gen = state.generator
  w = broadcast_layers(map_z(state, jax.random.normal(k_z, (num, gen.z_dim))), gen.num_layers)
  edited = edits_lib.sweep(w, d * std, jnp.asarray(alphas, jnp.float32))            # (num, A, L, D)
  images = render(state, edited.reshape(-1, gen.num_layers, gen.w_dim), k_noise, "const")
  probs = _classify(config, images)[:, label].reshape(num, len(alphas))
  return probs.mean(axis=0)


# ---------------------------------------------------------------------------------------------------- grids

def mixing_grid(a: jax.Array, b: jax.Array, cells: jax.Array) -> jax.Array:
  """Style-mixing figure: (n+1) x (n+1) images, row-major: a blank corner, the sources b (n,R,R,C) along the top,
  then per row i: a[i] followed by cells[i, j] (n, n, R, R, C)."""
  top = jnp.concatenate([jnp.ones_like(a[:1]), b])
  rows = jnp.concatenate([a[:, None], cells], axis=1)
  return jnp.concatenate([top, rows.reshape(-1, *a.shape[1:])])


def layer_span(lo: int, hi: int) -> str:
  """'layers 0-3' for the W+ layers [lo, hi); 'no layers' when empty."""
  return "no layers" if hi <= lo else f"layer {lo}" if hi == lo + 1 else f"layers {lo}-{hi - 1}"


def mixing_texts(n: int, crossover: int, num_layers: int) -> dict:
  """The labels of `mixing_grid` with n sources a side: sources A_1..A_n down the first column, B_1..B_n along the
  top row, and a title saying which layers each gives."""
  return {"row_labels": ["", *(f"A{k + 1}" for k in range(n))], "col_labels": ["", *(f"B{k + 1}" for k in range(n))],
          "title": f"style mixing: {layer_span(0, crossover)} from A (rows), "
                   f"{layer_span(crossover, num_layers)} from B (columns)"}


def edit_texts(specs, alphas, units: str) -> dict:
  """The labels of an edit grid: one direction SPEC gives a row per sample with α under each column; two give
  one sample's grid with rows along specs[0] and columns along specs[1]; the title names the edit and α's unit."""
  unit = "std of w along d" if units == "std" else "raw units"
  if len(specs) == 1:
    return {"col_labels": value_labels(alphas, "α=", 2), "title": f"w + α·d, d = {specs[0]} (α in {unit})"}
  return {"col_labels": value_labels(alphas, digits=2), "row_labels": value_labels(alphas, digits=2),
          "col_title": f"α along {specs[1]}", "row_title": f"α along {specs[0]}",
          "title": f"w + α₁·d₁ + α₂·d₂ on one sample (α in {unit})"}


def sample_outputs(state: State, config, key, num: int, options: dict) -> dict:
  """What sample.py writes for the user's options (see OUTPUT_OPTIONS):

  truncation=psi       every output below uses w_avg + psi (w - w_avg) (default config.sample.truncation).
  noise_mode=M         random | const | none (edits and interpolations use one shared map when M is random).
  interpolate=N        num rows of N frames: lerp in W between two samples (slerp in Z if sample.interp_space='z').
  direction=SPEC       num rows x len(alphas) columns: w + alpha * weights[l] * d on W+ layer l; alpha in standard
                       deviations of w along d (sample.alpha_units='std') or raw units ('raw'). SPEC: 'pca:K' |
                       'boundary:LABEL' | 'file:PATH.npy' or a combination 'c1*SPEC1+c2*SPEC2'; two SPECs joined by
                       ',' give one rows x columns grid composing both directions on the first sample.
  layer_weights=W      per-layer weights of the edit (the forms of jaxgen.latent.edits.layer_weights).
  alphas='lo:hi:n'     the alpha values (default '-4:4:7').
  mix_crossover=L      style mixing: an (n+1) x (n+1) grid, n = floor(sqrt(num)): first column sources A, first row
                       sources B, cell (i, j) = layers [0, L) from A_i and [L, num_layers) from B_j.
  label=K, class_grid  conditional generators (model.c_dim > 0): every output of class K (default: the classes in
                       turn), or one row per class, column j sharing z_j (max(1, num // c_dim) columns).
  Returns {"samples": (M, R, R, C) in [0, 1], "ncols": int, "title", the labels of `edit_texts`/`mixing_texts`,
  "labels" and "row_labels" for conditional outputs}.
  """
  supported_options("stylegan", options, tuple(OUTPUT_OPTIONS) + tuple(SAMPLE_OPTIONS))
  label = _checked_label(state, options)
  settings = {**config.sample.to_dict(), **{k: v for k, v in options.items() if k in SAMPLE_OPTIONS}}
  check_sample_settings(settings)
  psi = float(options.get("truncation", settings.get("truncation", 1.0)))
  noise_mode = settings.get("noise_mode", "random")
  modes = [k for k in ("interpolate", "direction", "mix_crossover") if k in options]
  check(len(modes) <= 1, f"options {', '.join(modes)} cannot be combined; choose one of them.")
  check("alphas" not in options or "direction" in options, "option 'alphas' needs option 'direction'.")
  gen = state.generator
  num_layers = gen.num_layers
  k_z, k_dir, k_noise = jax.random.split(key, 3)

  def trunc(w):
    return truncate(w, state.w_avg, psi)

  made_by = f"style-based generator, ψ={psi:g}, noise {noise_mode}"
  if not modes:
    return {**_samples(state, key, num, {**settings, "truncation": psi}, label, bool(options.get("class_grid"))),
            "title": made_by}

  # Edits and interpolations share one noise map per layer so that only the latent changes along a row.
  frames_mode = "const" if noise_mode == "random" else noise_mode
  if "interpolate" in options:
    return _interpolation(state, settings, k_z, k_noise, num, int(options["interpolate"]), psi, label, frames_mode)

  if "mix_crossover" in options:
    cross = int(options["mix_crossover"])
    check(0 <= cross <= num_layers, f"mix_crossover={cross} is not allowed; choose 0..{num_layers}.")
    n = max(1, math.isqrt(num))
    w = trunc(map_z(state, jax.random.normal(k_z, (2 * n, gen.z_dim)), label=label))
    wa, wb = broadcast_layers(w[:n], num_layers), broadcast_layers(w[n:], num_layers)
    mixed = style_mix(wa[:, None], wb[None, :], cross).reshape(n * n, num_layers, gen.w_dim)
    images = render(state, jnp.concatenate([wa, wb, mixed]), k_noise, frames_mode)
    cells = images[2 * n:].reshape(n, n, *images.shape[1:])
    return {"samples": mixing_grid(images[:n], images[n:2 * n], cells), "ncols": n + 1,
            **mixing_texts(n, cross, num_layers)}

  alphas = edits_lib.parse_alphas(options.get("alphas", "-4:4:7"))
  weights = edits_lib.layer_weights(num_layers, settings.get("layer_weights"))
  specs = str(options["direction"]).split(",")
  check(len(specs) in (1, 2), f"direction={options['direction']!r}: give one direction or two joined by ','.")
  units = settings.get("alpha_units", "std")
  dirs = [combined_direction(state, config, jax.random.fold_in(k_dir, i), spec.strip(), settings, units)
          for i, spec in enumerate(specs)]
  w = broadcast_layers(trunc(map_z(state, jax.random.normal(k_z, (num, gen.z_dim)), label=label)), num_layers)
  if len(dirs) == 1:
    edited = edits_lib.sweep(w, dirs[0], alphas, weights)                             # (num, A, L, D)
  else:
    edited = edits_lib.grid(w[0], dirs[0], dirs[1], alphas, alphas, weights)          # (A, A, L, D)
  images = render(state, edited.reshape(-1, num_layers, gen.w_dim), k_noise, frames_mode)
  return {"samples": images, "ncols": len(alphas), **edit_texts([s.strip() for s in specs], alphas, units)}


def _interpolation(state: State, settings: dict, k_z, k_noise, num: int, frames: int, psi: float, label,
                   noise_mode: str) -> dict:
  """interpolate=N: num rows of N frames, lerp in W between two samples (slerp in Z if interp_space='z')."""
  check(frames >= 2, f"interpolate={frames} is not allowed; choose at least 2 frames.")
  gen = state.generator
  z = jax.random.normal(k_z, (2, num, gen.z_dim))
  t = jnp.linspace(0.0, 1.0, frames)
  if settings.get("interp_space", "w") == "z":
    zs = jax.vmap(lambda ti: interp.slerp(z[0], z[1], ti), out_axes=1)(t)          # (num, frames, z_dim)
    w = map_z(state, zs.reshape(-1, gen.z_dim), label=label)
  else:
    w0, w1 = map_z(state, z[0], label=label), map_z(state, z[1], label=label)
    w = jax.vmap(lambda ti: interp.lerp(w0, w1, ti), out_axes=1)(t).reshape(-1, gen.w_dim)
  images = render(state, broadcast_layers(truncate(w, state.w_avg, psi), gen.num_layers), k_noise, noise_mode)
  path = "slerp in Z" if settings.get("interp_space", "w") == "z" else "lerp in W"
  return {"samples": images, "ncols": frames, "col_labels": value_labels(t, "t=", 2),
          "title": f"{path} between two samples per row, ψ={psi:g}"}


def _checked_label(state: State, options: dict) -> Optional[int]:
  """The `label` option checked against the generator's classes (label and class_grid need c_dim > 0)."""
  c_dim = getattr(state.generator, "c_dim", 0)
  for name in ("label", "class_grid"):
    check(options.get(name) in (None, False) or c_dim > 0, f"{name} needs a conditional generator (model.c_dim > "
          "0, e.g. a converted conditional StyleGAN2-ADA network); this one is unconditional.")
  label = options.get("label")
  together = [k for k in ("label", "interpolate", "direction", "mix_crossover") if options.get(k) is not None]
  check(not options.get("class_grid") or not together, f"option 'class_grid' cannot be combined with "
        f"{', '.join(together)}.")
  check(label is None or (isinstance(label, int) and not isinstance(label, bool) and 0 <= label < c_dim),
        f"label={label!r} is not allowed; choose an integer in [0, {c_dim - 1}].")
  return label


def _samples(state: State, key, num: int, settings: dict, label, grid: bool) -> dict:
  """Plain samples (with their labels for a conditional generator), or the class grid."""
  if grid:
    return class_grid(state, key, num, float(settings["truncation"]), settings.get("noise_mode", "random"))
  out = {"samples": sample(state, key, num, **settings, label=label)}
  c = conditioning(state, num, label)
  return out if c is None else {**out, "labels": jnp.argmax(c, axis=1)}


def class_grid(state: State, key, num: int, psi: float, noise_mode: str) -> dict:
  """One row per class of a conditional generator, the same z (and noise) in every row: column j shares z_j."""
  gen, c_dim = state.generator, state.generator.c_dim
  cols = max(1, num // c_dim)
  k_z, k_noise = jax.random.split(key)
  z = jnp.tile(jax.random.normal(k_z, (cols, gen.z_dim)), (c_dim, 1))
  labels = jnp.repeat(jnp.arange(c_dim, dtype=jnp.int32), cols)
  c = jax.nn.one_hot(labels, c_dim, dtype=jnp.float32)
  w = truncate(jnp.concatenate([_map(gen, state.g_ema, z[i:i + 4096], c[i:i + 4096]) for i in range(0, len(z), 4096)]),
               state.w_avg, psi)
  mode = "const" if noise_mode == "random" else noise_mode    # one noise map for every row
  images = render(state, broadcast_layers(w, gen.num_layers), k_noise, mode)
  return {"samples": images, "labels": labels, "ncols": cols, "row_labels": [f"class {i}" for i in range(c_dim)]}
