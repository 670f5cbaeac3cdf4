"""Denoising diffusion (docs/reference.md §8: the DDIM-style model of the keras.io example the book adapts).

Training (one jitted `train_step`):

    x0 = (x - mean) / sqrt(var)                       per-channel statistics of the training data, kept in State
    t ~ U[0, 1),  eps ~ N(0, I)
    noise_rate, signal_rate = schedule(t)             offset-cosine (0.02, 0.95) by default
    x_t = signal_rate x0 + noise_rate eps             `q_sample`
    eps_hat = network(x_t, noise_rate^2 [, label])    the U-Net (images) or an MLP (toy 2-D), training-mode BN
    n_loss = mean |eps - eps_hat|                     (model.loss = "mse": mean (eps - eps_hat)^2, as DDPM)
    AdamW(1e-3, weight decay 1e-4, eps 1e-7) step; EMA (0.999) of the parameters AND the BN statistics

The mean L1 and the EMA started from the initial parameters differ from the reference's summed L1 and fresh EMA
(quirk #7, docs/reference.md §8); `model.ema_warmup` ramps the decay as min(ema_decay, (1 + n)/(10 + n)).

Class-conditional models (model.num_classes = K > 0, classifier-free guidance, Ho & Salimans 2022): the U-Net
adds a label embedding to every residual block; in training each label is replaced by the null class K with
probability model.label_dropout (`training_labels`), so one network learns eps(x, c) and eps(x, null); sampling
mixes them with the guidance weight w (`sample.guidance`, `jaxgen.samplers.guidance`), for every sampler.

Sampling uses the EMA network in inference mode (BN moving statistics) with a sampler of
`jaxgen.samplers.solvers.SAMPLERS`: "ddim" (default: the reference's deterministic reverse diffusion, 20 steps),
"ddpm" (ancestral), "dpm_solver_2m" (DPM-Solver++(2M)) or "heun" (EDM's Heun, 2 steps - 1 evaluations), and
de-normalises: images = clip(mean + x0_hat sqrt(var), data range) mapped to [0, 1]; toy points = mean + x0_hat
sqrt(var). `invert` runs DDIM backwards (images -> noise) and `interpolate_images` decodes the spherical path
between two inverted images.

Normalisation statistics (Keras `Normalization.adapt`): `init` takes them from `example_batch["x"]`, up to 4,096
real training examples from the loop; the zeros of `jaxgen.data.example_batch` (a State's structure before a
restore) give variance 0, replaced by 1.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct

from jaxgen import data as data_lib
from jaxgen.configs import sample_options
from jaxgen.data import preprocess
from jaxgen.errors import JaxgenError, check, choice, positive_ints, supported_options
from jaxgen.latent.grid import value_labels
from jaxgen.latent.interpolate import sincos_interpolation, slerp
from jaxgen.nn import policy
from jaxgen.nn.unet import MLPDenoiser, UNet
from jaxgen.samplers import diffusion as samplers
from jaxgen.samplers import guidance as guidance_lib
from jaxgen.samplers import schedules, solvers
from jaxgen.nn import updates

LOSS_KEYS = ("n_loss",)
NETWORKS = ("unet", "mlp")
LOSSES = ("mae", "mse")
SAMPLERS = solvers.SAMPLERS
SAMPLE_OPTIONS = sample_options.SAMPLE_OPTIONS["diffusion"]
OUTPUT_OPTIONS = sample_options.OUTPUT_OPTIONS["diffusion"]
INVERT_REFINE = 2   # fixed-point iterations per DDIM inversion step (exact-eps Gaussian, 100 steps: RMS 0.05 -> 4e-3)


@dataclasses.dataclass(frozen=True)
class HParams:
  """Hyperparameters fixed for a run (hashable: a static field of the State)."""
  schedule: str
  min_signal_rate: float
  max_signal_rate: float
  loss: str
  ema_decay: float
  ema_warmup: bool     # decay min(ema_decay, (1 + n)/(10 + n)) at update n (off: the reference's constant decay)
  ddpm_variance: str
  data_range: str      # "unit" | "symmetric" (images) | "points" (toy 2-D)
  example_shape: tuple
  num_classes: int = 0          # > 0: class-conditional; label num_classes is the null class
  label_dropout: float = 0.0    # probability of the null class in training

  def schedule_fn(self):
    return schedules.get(self.schedule, self.min_signal_rate, self.max_signal_rate)

  @classmethod
  def from_config(cls, config, example_shape) -> "HParams":
    m = config.model
    return cls(
        schedule=m.schedule, min_signal_rate=float(m.min_signal_rate), max_signal_rate=float(m.max_signal_rate),
        loss=m.loss, ema_decay=float(m.ema_decay), ema_warmup=bool(m.ema_warmup), ddpm_variance=m.ddpm_variance,
        data_range="points" if data_lib.is_toy2d(config) else config.data.range, example_shape=tuple(example_shape),
        num_classes=int(m.num_classes), label_dropout=float(m.label_dropout))


@struct.dataclass
class State:
  """step; network params / BN statistics / AdamW state; their EMA (used for sampling); normaliser statistics."""
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  ema_params: Any
  ema_batch_stats: Any
  norm_mean: jax.Array       # (C,) per-channel mean of the training data (data.range units)
  norm_var: jax.Array        # (C,) per-channel biased variance
  network: nn.Module = struct.field(pytree_node=False)
  tx: optax.GradientTransformation = struct.field(pytree_node=False)
  hp: HParams = struct.field(pytree_node=False)


# ----------------------------------------------------------------------------------------------------------
# Config.


def validate_config(config: ml_collections.ConfigDict) -> None:
  m = config.model
  choice("model.network", m.network, NETWORKS)
  choice("model.schedule", m.schedule, schedules.SCHEDULES)
  choice("model.loss", m.loss, LOSSES)
  choice("model.ddpm_variance", m.ddpm_variance, ("posterior", "beta"))
  check(0.0 <= m.ema_decay < 1.0, f"model.ema_decay={m.ema_decay!r} must be in [0, 1).")
  if m.schedule == "offset_cosine":
    lo, hi = m.min_signal_rate, m.max_signal_rate
    check(0.0 < lo < hi < 1.0, f"model.min_signal_rate={lo!r}, model.max_signal_rate={hi!r}: need 0 < min < max < 1.")
  if data_lib.is_toy2d(config):
    check(m.network == "mlp", f"model.network={m.network!r} cannot model toy2d points; use 'mlp' for {config.data.name}.")
  else:
    check(m.network == "unet", f"model.network={m.network!r} is for toy2d points; use 'unet' for images.")
    factor = 2 ** len(m.widths)
    check(config.data.image_size % factor == 0,
          f"data.image_size={config.data.image_size} must be divisible by {factor} (2 ** len(model.widths)).")
  _validate_conditional(config)
  s = config.sample
  choice("sample.sampler", s.sampler, SAMPLERS)
  check(isinstance(s.steps, int) and s.steps > 0, f"sample.steps={s.steps!r} must be a positive integer.")
  _check_guidance(s.guidance, int(m.num_classes), "sample.guidance")


def _validate_conditional(config) -> None:
  """model.num_classes (0, or the data's label count, U-Net only) and model.label_dropout in [0, 1)."""
  m = config.model
  k = m.num_classes
  check(isinstance(k, int) and k >= 0, f"model.num_classes={k!r} must be an integer >= 0 (0: unconditional).")
  check(0.0 <= m.label_dropout < 1.0, f"model.label_dropout={m.label_dropout!r} must be in [0, 1) (the "
        "probability of training on the null class).")
  if k:
    check(m.network == "unet", f"model.num_classes={k} needs model.network='unet' (labelled images).")
    n = data_lib.num_classes(config)
    check(n == k or (n == 0 and str(config.data.name).startswith("folder:")),
          f"model.num_classes={k} does not match data.name={config.data.name!r}, which has {n} classes"
          + (f"; set model.num_classes={n}." if n else " (no labels); set model.num_classes=0."))


def _check_guidance(w, num_classes: int, name: str = "guidance") -> float:
  """The guidance weight as a float >= 0; nonzero only for a conditional model."""
  check(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0,
        f"{name}={w!r} must be a number >= 0 (classifier-free guidance weight; 0: none).")
  check(w == 0 or num_classes > 0, f"{name}={w!r} needs a class-conditional model (model.num_classes > 0); "
        "this one is unconditional.")
  return float(w)


def build_networks(config) -> nn.Module:
  """The eps-network a config describes (under its nn.policy): the U-Net for images, the MLP denoiser for toy
  2-D points."""
  m = config.model
  if m.network == "mlp":
    return policy.configure(MLPDenoiser(hidden=tuple(m.hidden), embedding_dim=m.embedding_dim), config)
  return policy.configure(UNet(widths=tuple(m.widths), block_depth=m.block_depth, bottleneck_width=m.bottleneck_width,
              bottleneck_depth=m.bottleneck_depth, embedding_dim=m.embedding_dim, conv_impl=m.conv_impl,
              num_classes=int(m.num_classes)), config)


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """Keras AdamW(1e-3, weight_decay=1e-4): decoupled decay on every variable (no mask), epsilon 1e-7."""
  optim = config.optim
  return optax.adamw(optim.learning_rate, b1=optim.b1, b2=optim.b2, eps=optim.eps, weight_decay=optim.weight_decay)


# ----------------------------------------------------------------------------------------------------------
# Normalisation (Keras `layers.Normalization()` adapted on the training data).


def adapt_normalizer(x) -> tuple[np.ndarray, np.ndarray]:
  """Per-channel (last axis) mean and biased variance of x (N, ..., C), float32 (C,) each; variance 0 -> 1."""
  x = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
  mean, var = x.mean(0), x.var(0)
  var = np.where(var > 1e-12, var, 1.0)
  return mean.astype(np.float32), var.astype(np.float32)


def with_normalizer(state: State, mean, var) -> State:
  """The State with the given normalisation statistics (C,)."""
  return state.replace(norm_mean=jnp.asarray(mean, jnp.float32), norm_var=jnp.asarray(var, jnp.float32))


def normalize(state: State, x):
  return (x - state.norm_mean) / jnp.maximum(jnp.sqrt(state.norm_var), 1e-7)


def denormalize(state: State, y):
  """Normalised model output -> images float32 in [0, 1] (clipped), or toy points in data coordinates."""
  x = state.norm_mean + y * jnp.sqrt(state.norm_var)
  rng = state.hp.data_range
  if rng == "points":
    return x
  if rng == "symmetric":
    return preprocess.symmetric_to_unit(x)
  return jnp.clip(x, 0.0, 1.0)


# ----------------------------------------------------------------------------------------------------------
# Protocol.


def init(config: ml_collections.ConfigDict, key: jax.Array, example_batch: dict) -> State:
  """Initial State; normalisation statistics from `example_batch["x"]` (pass real training data, see above)."""
  validate_config(config)
  x = np.asarray(example_batch["x"], np.float32)
  network = build_networks(config)
  probe = jnp.zeros((1,) + x.shape[1:], jnp.float32)
  conditional = {"labels": jnp.zeros((1,), jnp.int32)} if config.model.num_classes else {}
  variables = network.init(key, probe, jnp.zeros((1,) + (1,) * (x.ndim - 1)), train=False, **conditional)
  params = variables["params"]
  batch_stats = variables.get("batch_stats", {})
  tx = make_optimizer(config)
  mean, var = adapt_normalizer(x)
  return State(
      step=jnp.zeros((), jnp.int32), params=params, batch_stats=batch_stats, opt_state=tx.init(params),
      ema_params=jax.tree.map(jnp.copy, params), ema_batch_stats=jax.tree.map(jnp.copy, batch_stats),
      norm_mean=jnp.asarray(mean), norm_var=jnp.asarray(var), network=network, tx=tx,
      hp=HParams.from_config(config, x.shape[1:]))


def noise_loss(eps, eps_hat, kind: str = "mae"):
  """mean |eps - eps_hat| (the reference) or mean (eps - eps_hat)^2 (DDPM's simple loss)."""
  diff = eps - eps_hat
  return jnp.mean(jnp.abs(diff)) if kind == "mae" else jnp.mean(diff ** 2)


def _apply(state, params, batch_stats, x_t, noise_rates, train: bool, labels=None):
  """eps_hat (and the updated BN statistics when train) of the network at noise variance noise_rate^2; `labels`
  (B,) int for a conditional network (num_classes: the null class)."""
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  conditional = {} if labels is None else {"labels": labels}
  if train:
    eps_hat, mutated = state.network.apply(variables, x_t, noise_rates ** 2, train=True, mutable=["batch_stats"],
                                           **conditional)
    return eps_hat, mutated.get("batch_stats", batch_stats)
  return state.network.apply(variables, x_t, noise_rates ** 2, train=False, **conditional)


def drop_labels(key: jax.Array, labels, p: float, null_label: int):
  """(labels with each replaced by `null_label` with probability p, the mask of replaced ones); labels (B,) int."""
  dropped = jax.random.bernoulli(key, p, jnp.shape(labels))
  return jnp.where(dropped, null_label, labels), dropped


def training_labels(state: State, batch: dict, key: jax.Array):
  """The labels a training step feeds the network: None (unconditional), else batch["label"] with the null class
  num_classes at rate model.label_dropout (its own stream: fold_in(key, 1))."""
  hp = state.hp
  if not hp.num_classes:
    return None
  if "label" not in batch:
    raise JaxgenError(f"model.num_classes={hp.num_classes} needs labelled batches, but the batch has no 'label'.")
  labels = jnp.asarray(batch["label"], jnp.int32)
  return drop_labels(jax.random.fold_in(key, 1), labels, hp.label_dropout, hp.num_classes)[0]


def _eval_labels(state: State, batch: dict):
  return jnp.asarray(batch["label"], jnp.int32) if state.hp.num_classes else None


def noised_batch(state: State, x, key: jax.Array):
  """(eps, x_t, noise_rates) for a training/test batch x in data units: x0 = normalize(x), t ~ U[0, 1) per
  example, eps ~ N(0, I), x_t = signal_rate(t)·x0 + noise_rate(t)·eps; noise_rates broadcast as (B, 1, ..., 1)."""
  schedule = state.hp.schedule_fn()
  x0 = normalize(state, x.astype(jnp.float32))
  k_t, k_eps = jax.random.split(key)
  t = jax.random.uniform(k_t, (x0.shape[0],), jnp.float32)
  eps = jax.random.normal(k_eps, x0.shape, jnp.float32)
  x_t = samplers.q_sample(x0, t, eps, schedule)
  noise_rates, _ = schedule(t.reshape((-1,) + (1,) * (x0.ndim - 1)))
  return eps, x_t, noise_rates


def train_step(state: State, batch: dict, key: jax.Array) -> tuple[State, dict]:
  """One AdamW step on noise_loss(eps, eps_hat) (training-mode BatchNorm), then the EMA of params and BN stats."""
  hp = state.hp
  eps, x_t, noise_rates = noised_batch(state, batch["x"], key)
  labels = training_labels(state, batch, key)

  def loss_fn(params):
    eps_hat, batch_stats = _apply(state, params, state.batch_stats, x_t, noise_rates, train=True, labels=labels)
    return noise_loss(eps, eps_hat, hp.loss), batch_stats

  (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  params, opt_state = updates.apply_gradients(state.tx, state.params, state.opt_state, grads)
  decay = updates.ema_decay(state.step, hp.ema_decay, hp.ema_warmup)
  new_state = state.replace(
      step=state.step + 1, params=params, batch_stats=batch_stats, opt_state=opt_state,
      ema_params=updates.ema_update(state.ema_params, params, decay),
      ema_batch_stats=updates.ema_update(state.ema_batch_stats, batch_stats, decay))
  return new_state, {"n_loss": loss}


def eval_step(state: State, batch: dict, key: jax.Array) -> dict:
  """n_loss of the EMA network in inference mode (the reference's test_step); conditional: the true labels."""
  eps, x_t, noise_rates = noised_batch(state, batch["x"], key)
  eps_hat = _apply(state, state.ema_params, state.ema_batch_stats, x_t, noise_rates, train=False,
                   labels=_eval_labels(state, batch))
  return {"n_loss": noise_loss(eps, eps_hat, state.hp.loss)}


# ----------------------------------------------------------------------------------------------------------
# Sampling.


def eps_fn(state: State, use_ema: bool = True, labels=None, guidance: float = 0.0):
  """The sampler's eps_fn(x_t, noise_rates, signal_rates): the EMA network (default) in inference mode.

  Conditional models: guided towards `labels` (n,) int with weight `guidance` (`jaxgen.samplers.guidance`);
  labels None (or the label num_classes) is the null class, the unconditional model the same network learned.
  """
  params = state.ema_params if use_ema else state.params
  batch_stats = state.ema_batch_stats if use_ema else state.batch_stats
  null = state.hp.num_classes
  if not null:
    check(labels is None, "labels need a class-conditional model (model.num_classes > 0); this one is unconditional.")
    return lambda x_t, noise_rates, signal_rates: _apply(state, params, batch_stats, x_t, noise_rates, train=False)

  def label_eps_fn(x_t, noise_rates, signal_rates, labels):
    return _apply(state, params, batch_stats, x_t, noise_rates, train=False, labels=labels)
  if labels is None:
    return lambda x_t, noise_rates, signal_rates: label_eps_fn(
        x_t, noise_rates, signal_rates, jnp.full((x_t.shape[0],), null, jnp.int32))
  return guidance_lib.classifier_free_guidance(label_eps_fn, labels, null, guidance)


@functools.partial(jax.jit, static_argnames=("steps", "sampler", "guidance"))
def _reverse(state: State, initial_noise, key, steps: int, sampler: str, labels=None, guidance: float = 0.0):
  x0_hat = solvers.reverse(sampler, eps_fn(state, labels=labels, guidance=guidance), initial_noise,
                           state.hp.schedule_fn(), steps, key, state.hp.ddpm_variance)
  return denormalize(state, x0_hat)


def generate(state: State, key: jax.Array, num: int, steps: int = 20, initial_noise=None,
             sampler: str = "ddim", labels=None, guidance: float = 0.0) -> jax.Array:
  """The reference's `generate`: reverse diffusion from N(0, I) (or the given `initial_noise` (num, *shape)).

  Returns images float32 (num, H, W, C) in [0, 1] or points (num, 2) in data coordinates. `key` draws the initial
  noise (when not given) and DDPM's per-step noise. Conditional models: `labels` (num,) int in [0, num_classes]
  (None: the null class) and the guidance weight w >= 0.
  """
  steps = samplers.check_steps(steps)
  choice("sampler", sampler, SAMPLERS)
  guidance = _check_guidance(guidance, state.hp.num_classes)
  k_noise, k_sampler = jax.random.split(key)
  shape = (int(num),) + tuple(state.hp.example_shape)
  if initial_noise is None:
    initial_noise = jax.random.normal(k_noise, shape, jnp.float32)
  else:
    initial_noise = jnp.asarray(initial_noise, jnp.float32)
    check(initial_noise.shape == shape, f"initial_noise has shape {initial_noise.shape}; expected {shape}.")
  if labels is not None:
    labels = jnp.asarray(labels, jnp.int32)
    check(labels.shape == shape[:1], f"labels have shape {labels.shape}; expected {shape[:1]}.")
  return _reverse(state, initial_noise, k_sampler, steps, sampler, labels, guidance)


def sample_labels(state: State, key: jax.Array, num: int, label=None):
  """The labels of `num` samples: None (unconditional model), `label` for all, or uniform over the classes
  (drawn from fold_in(key, 2), so the noise and DDPM streams of `generate(key)` stay as they are)."""
  k = state.hp.num_classes
  if label is not None:
    check(k > 0, "label needs a class-conditional model (model.num_classes > 0); this one is unconditional.")
    check(isinstance(label, int) and not isinstance(label, bool) and 0 <= label <= k,
          f"label={label!r} is not allowed; choose an integer in [0, {k - 1}] (or {k}: the null class, unguided).")
    return jnp.full((int(num),), label, jnp.int32)
  if not k:
    return None
  return jax.random.randint(jax.random.fold_in(key, 2), (int(num),), 0, k, jnp.int32)


def sample(state: State, key: jax.Array, num: int, **options) -> jax.Array:
  """num samples (images in [0, 1] or toy points). Options: steps (20), sampler (one of SAMPLERS, "ddim"),
  initial_noise; conditional models: label (default: uniform over the classes) and guidance (w, 0)."""
  options = supported_options("the diffusion family", options, SAMPLE_OPTIONS)
  labels = sample_labels(state, key, num, options.get("label"))
  return generate(state, key, num, options.get("steps", 20), options.get("initial_noise"),
                  options.get("sampler", "ddim"), labels, options.get("guidance", 0.0))


# ----------------------------------------------------------------------------------------------------------
# DDIM inversion: real images -> noise -> images.


@functools.partial(jax.jit, static_argnames=("steps", "refine"))
def _invert(state: State, images, steps: int, refine: int):
  x0 = normalize(state, jnp.asarray(images, jnp.float32))
  return samplers.ddim_invert(eps_fn(state), x0, state.hp.schedule_fn(), steps, refine)


def invert(state: State, images, steps: int = 20, refine: int = INVERT_REFINE) -> jax.Array:
  """The noises x_T (n, *shape) from which DDIM with `steps` steps returns `images` (n, *shape) in data units.

  `jaxgen.samplers.ddim_invert` on the EMA network (conditional models: the null class, which needs no label);
  `refine` fixed-point iterations per step (NFE steps (1 + refine)) make the round trip tighter.
  """
  steps, refine = samplers.check_steps(steps), samplers.check_refine(refine)
  images = jnp.asarray(images, jnp.float32)
  shape = tuple(state.hp.example_shape)
  check(images.shape[1:] == shape, f"images have shape {images.shape[1:]} each; the model's are {shape}.")
  return _invert(state, images, steps, refine)


def interpolate_images(state: State, a, b, frames: int, steps: int = 20, refine: int = INVERT_REFINE):
  """Rows of `frames` images between real images a[i] and b[i] (n, *shape, data units): both are DDIM-inverted,
  their noises joined by a slerp (per image, over all pixels) and every frame decoded with DDIM. (n frames,
  *shape) in [0, 1]; frame 0 reconstructs a, the last b."""
  check(isinstance(frames, int) and frames >= 2, f"interpolate={frames!r} must be an integer >= 2 (frames).")
  n, shape = jnp.shape(a)[0], tuple(state.hp.example_shape)
  noise = invert(state, jnp.concatenate([jnp.asarray(a), jnp.asarray(b)]), steps, refine)
  flat_a, flat_b = noise[:n].reshape(n, -1), noise[n:].reshape(n, -1)
  path = slerp(flat_a, flat_b, jnp.linspace(0.0, 1.0, frames))                 # (frames, n, D)
  noises = jnp.swapaxes(path, 0, 1).reshape((n * frames,) + shape)
  return generate(state, jax.random.PRNGKey(0), n * frames, steps, noises, "ddim")


def split_images(config, key: jax.Array, num: int) -> np.ndarray:
  """`num` images of the test split (a permutation drawn from `key`), in data units."""
  x = np.asarray(data_lib.load_split(config, "test")["x"], np.float32)
  check(x.shape[0] >= num, f"the test split has {x.shape[0]} images; {num} are needed.")
  return x[np.asarray(jax.random.permutation(key, x.shape[0]))[:num]]


def parse_steps_sweep(value) -> tuple[int, ...]:
  """'1,2,3,5,20,100' (or a sequence of ints) -> (1, 2, 3, 5, 20, 100)."""
  return positive_ints("steps_sweep", value, "'1,2,3,5,20,100'")


def interpolation_noises(key: jax.Array, num: int, frames: int, shape) -> jax.Array:
  """num rows of `frames` noises on the reference's path between two N(0, I) draws a, b per row.

  Frame j of a row is sin(t_j π/2)·a + cos(t_j π/2)·b with t_j = j / (frames − 1)
  (`jaxgen.latent.interpolate.sincos_interpolation`: every frame is again N(0, I)). Returns (num·frames, *shape).
  """
  k_a, k_b = jax.random.split(key)
  a = jax.random.normal(k_a, (num,) + tuple(shape), jnp.float32)
  b = jax.random.normal(k_b, (num,) + tuple(shape), jnp.float32)
  path = sincos_interpolation(a, b, jnp.linspace(0.0, 1.0, frames))      # (frames, num, *shape)
  return jnp.swapaxes(path, 0, 1).reshape((num * frames,) + tuple(shape))


def sample_outputs(state: State, config, key: jax.Array, num: int, options: dict) -> dict:
  """What sample.py writes: {"samples", "title" (the sampler, its steps and guidance), "labels"? (conditional),
  "ncols"?, "row_labels"?, "col_labels"?}.

  steps_sweep="1,2,3,5,20,100": the same `num` initial noises decoded with each step count, one row per count
  (ncols = num, rows labelled "K steps"). interpolate=N: `num` rows of N frames along the spherical path between
  two noises (ncols = N), or with invert=True between two DDIM-inverted test images. invert=True alone: `num`
  test images above their DDIM inversion decoded again (the row label gives the RMS difference in [0, 1] units).
  class_grid=True (conditional models): one row per class, the same noise in every column. Otherwise `num`
  samples with `steps` / `sampler` / `label` / `guidance`.
  """
  options = supported_options("the diffusion family", options, OUTPUT_OPTIONS)
  steps, sampler = options.get("steps", 20), options.get("sampler", "ddim")
  guidance = options.get("guidance", 0.0)
  grids = [name for name in ("steps_sweep", "interpolate", "class_grid") if options.get(name)]
  invert_ = bool(options.get("invert"))
  if (grids or invert_) and state.hp.data_range == "points":
    raise JaxgenError(f"{(grids or ['invert'])[0]} makes image grids; toy2d runs support steps and sampler only.")
  check(len(grids) <= 1, f"choose one of steps_sweep, interpolate and class_grid, not {' and '.join(grids)}.")
  check(not invert_ or grids in ([], ["interpolate"]), f"invert works alone (reconstructions) or with interpolate "
        f"(between test images), not with {', '.join(grids)}.")
  made_by = (f"{str(sampler).upper()}, {steps} step" + "s" * (steps != 1)
             + (f", guidance w={guidance:g}" if guidance and state.hp.num_classes else ""))
  k_noise, k_sampler = jax.random.split(key)
  if options.get("class_grid"):
    return _class_grid(state, key, num, steps, sampler, guidance)
  if invert_:
    return _inversion_outputs(state, config, k_noise, num, steps, options.get("interpolate"))
  shape = tuple(state.hp.example_shape)
  labels = sample_labels(state, key, num, options.get("label"))
  out = {} if labels is None else {"labels": labels}
  if "steps_sweep" in options:
    noise = jax.random.normal(k_noise, (int(num),) + shape, jnp.float32)
    sweep = parse_steps_sweep(options["steps_sweep"])
    rows = [generate(state, k_sampler, num, s, noise, sampler, labels, guidance) for s in sweep]
    return {"samples": jnp.concatenate(rows), "ncols": int(num),
            "row_labels": [f"{s} step" + "s" * (s != 1) for s in sweep],
            "title": f"{str(sampler).upper()}: the same {int(num)} noises, one row per step count"}
  if "interpolate" in options:
    frames = options["interpolate"]
    check(isinstance(frames, int) and frames >= 2, f"interpolate={frames!r} must be an integer >= 2 (frames).")
    noise = interpolation_noises(k_noise, int(num), frames, shape)
    labels = None if labels is None else jnp.repeat(labels, frames)
    return {"samples": generate(state, k_sampler, num * frames, steps, noise, sampler, labels, guidance),
            "ncols": frames, "col_labels": value_labels(np.linspace(0.0, 1.0, frames), "t=", 2),
            "title": f"{made_by}: spherical path between two noises per row"}
  return {**out, "samples": generate(state, key, num, steps, None, sampler, labels, guidance), "title": made_by}


def _class_grid(state: State, key: jax.Array, num: int, steps: int, sampler: str, guidance) -> dict:
  """One row per class of num // num_classes (>= 1) columns; column j starts every row from the same noise."""
  k = state.hp.num_classes
  check(k > 0, "class_grid needs a class-conditional model (model.num_classes > 0); this one is unconditional.")
  cols = max(1, int(num) // k)
  k_noise, k_sampler = jax.random.split(key)
  noise = jax.random.normal(k_noise, (cols,) + tuple(state.hp.example_shape), jnp.float32)
  labels = jnp.repeat(jnp.arange(k, dtype=jnp.int32), cols)
  noises = jnp.tile(noise, (k,) + (1,) * (noise.ndim - 1))
  samples = generate(state, k_sampler, k * cols, steps, noises, sampler, labels, guidance)
  return {"samples": samples, "labels": labels, "ncols": cols, "row_labels": [f"class {c}" for c in range(k)],
          "title": f"{str(sampler).upper()}, {steps} steps, guidance w={float(guidance):g}: one row per class, "
                   "the same noise down each column"}


def _inversion_outputs(state: State, config, key: jax.Array, num: int, steps: int, frames) -> dict:
  """invert=True: reconstructions of `num` test images, or with interpolate=N rows between pairs of them."""
  if frames is not None:
    images = split_images(config, key, 2 * int(num))
    return {"samples": interpolate_images(state, images[:num], images[num:], frames, steps), "ncols": frames,
            "col_labels": value_labels(np.linspace(0.0, 1.0, frames), "t=", 2),
            "title": f"DDIM-{steps} inversion of two test images per row, spherical path between their noises"}
  images = split_images(config, key, int(num))
  real = denormalize(state, normalize(state, jnp.asarray(images)))
  again = generate(state, jax.random.PRNGKey(0), num, steps, invert(state, images, steps), "ddim")
  rms = float(jnp.sqrt(jnp.mean((again - real) ** 2)))
  return {"samples": jnp.concatenate([real, again]), "ncols": int(num),
          "row_labels": ["test images", f"inverted, DDIM-{steps} (RMS {rms:.4f})"],
          "title": f"DDIM-{steps} inversion: test images and the images their inverted noises decode to"}


save_figures = None
