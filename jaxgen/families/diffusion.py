"""Denoising diffusion (docs/reference.md §8: the DDIM-style model of the keras.io example the book adapts).

Training (one jitted `train_step`):

    x0 = (x - mean) / sqrt(var)                       per-channel statistics of the training data, kept in State
    t ~ U[0, 1),  eps ~ N(0, I)
    noise_rate, signal_rate = schedule(t)             offset-cosine (0.02, 0.95) by default
    x_t = signal_rate x0 + noise_rate eps             `q_sample`
    eps_hat = network(x_t, noise_rate^2)              the U-Net (images) or an MLP (toy 2-D), training-mode BN
    n_loss = mean |eps - eps_hat|                     (model.loss = "mse": mean (eps - eps_hat)^2, as DDPM)
    AdamW(1e-3, weight decay 1e-4, eps 1e-7) step; EMA (0.999) of the parameters AND the BN statistics

The mean L1 and the EMA started from the initial parameters differ from the reference's summed L1 and fresh EMA
(quirk #7, docs/reference.md §8); `model.ema_warmup` ramps the decay as min(ema_decay, (1 + n)/(10 + n)).

Sampling uses the EMA network in inference mode (BN moving statistics) with `jaxgen.samplers.ddim` (default: the
reference's deterministic reverse diffusion, 20 steps) or `ddpm` (ancestral), and de-normalises:
images = clip(mean + x0_hat sqrt(var), data range) mapped to [0, 1]; toy points = mean + x0_hat sqrt(var).

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
from jaxgen.errors import JaxgenError, check, choice, supported_options
from jaxgen.latent.grid import value_labels
from jaxgen.latent.interpolate import sincos_interpolation
from jaxgen.nn import policy
from jaxgen.nn.unet import MLPDenoiser, UNet
from jaxgen.samplers import diffusion as samplers
from jaxgen.samplers import schedules
from jaxgen.nn import updates

LOSS_KEYS = ("n_loss",)
NETWORKS = ("unet", "mlp")
LOSSES = ("mae", "mse")
SAMPLERS = ("ddim", "ddpm")
SAMPLE_OPTIONS = sample_options.SAMPLE_OPTIONS["diffusion"]
OUTPUT_OPTIONS = sample_options.OUTPUT_OPTIONS["diffusion"]


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

  def schedule_fn(self):
    return schedules.get(self.schedule, self.min_signal_rate, self.max_signal_rate)

  @classmethod
  def from_config(cls, config, example_shape) -> "HParams":
    m = config.model
    return cls(
        schedule=m.schedule, min_signal_rate=float(m.min_signal_rate), max_signal_rate=float(m.max_signal_rate),
        loss=m.loss, ema_decay=float(m.ema_decay), ema_warmup=bool(m.ema_warmup), ddpm_variance=m.ddpm_variance,
        data_range="points" if data_lib.is_toy2d(config) else config.data.range, example_shape=tuple(example_shape))


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
  s = config.sample
  choice("sample.sampler", s.sampler, SAMPLERS)
  check(isinstance(s.steps, int) and s.steps > 0, f"sample.steps={s.steps!r} must be a positive integer.")


def build_networks(config) -> nn.Module:
  """The eps-network a config describes (under its nn.policy): the U-Net for images, the MLP denoiser for toy
  2-D points."""
  m = config.model
  if m.network == "mlp":
    return policy.configure(MLPDenoiser(hidden=tuple(m.hidden), embedding_dim=m.embedding_dim), config)
  return policy.configure(UNet(widths=tuple(m.widths), block_depth=m.block_depth, bottleneck_width=m.bottleneck_width,
              bottleneck_depth=m.bottleneck_depth, embedding_dim=m.embedding_dim, conv_impl=m.conv_impl),
                          config)


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
  variables = network.init(key, probe, jnp.zeros((1,) + (1,) * (x.ndim - 1)), train=False)
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


def _apply(state, params, batch_stats, x_t, noise_rates, train: bool):
  """eps_hat (and the updated BN statistics when train) of the network at noise variance noise_rate^2."""
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  if train:
    eps_hat, mutated = state.network.apply(variables, x_t, noise_rates ** 2, train=True, mutable=["batch_stats"])
    return eps_hat, mutated.get("batch_stats", batch_stats)
  return state.network.apply(variables, x_t, noise_rates ** 2, train=False)


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

  def loss_fn(params):
    eps_hat, batch_stats = _apply(state, params, state.batch_stats, x_t, noise_rates, train=True)
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
  """n_loss of the EMA network in inference mode (the reference's test_step)."""
  eps, x_t, noise_rates = noised_batch(state, batch["x"], key)
  eps_hat = _apply(state, state.ema_params, state.ema_batch_stats, x_t, noise_rates, train=False)
  return {"n_loss": noise_loss(eps, eps_hat, state.hp.loss)}


# ----------------------------------------------------------------------------------------------------------
# Sampling.


def eps_fn(state: State, use_ema: bool = True):
  """The sampler's eps_fn(x_t, noise_rates, signal_rates): the EMA network (default) in inference mode."""
  params = state.ema_params if use_ema else state.params
  batch_stats = state.ema_batch_stats if use_ema else state.batch_stats
  return lambda x_t, noise_rates, signal_rates: _apply(state, params, batch_stats, x_t, noise_rates, train=False)


@functools.partial(jax.jit, static_argnames=("steps", "sampler"))
def _reverse(state: State, initial_noise, key, steps: int, sampler: str):
  schedule = state.hp.schedule_fn()
  if sampler == "ddim":
    x0_hat = samplers.ddim(eps_fn(state), initial_noise, schedule, steps)
  else:
    x0_hat = samplers.ddpm(eps_fn(state), initial_noise, key, schedule, steps, state.hp.ddpm_variance)
  return denormalize(state, x0_hat)


def generate(state: State, key: jax.Array, num: int, steps: int = 20, initial_noise=None,
             sampler: str = "ddim") -> jax.Array:
  """The reference's `generate`: reverse diffusion from N(0, I) (or the given `initial_noise` (num, *shape)).

  Returns images float32 (num, H, W, C) in [0, 1] or points (num, 2) in data coordinates. `key` draws the initial
  noise (when not given) and DDPM's per-step noise.
  """
  steps = samplers.check_steps(steps)
  choice("sampler", sampler, SAMPLERS)
  k_noise, k_sampler = jax.random.split(key)
  shape = (int(num),) + tuple(state.hp.example_shape)
  if initial_noise is None:
    initial_noise = jax.random.normal(k_noise, shape, jnp.float32)
  else:
    initial_noise = jnp.asarray(initial_noise, jnp.float32)
    check(initial_noise.shape == shape, f"initial_noise has shape {initial_noise.shape}; expected {shape}.")
  return _reverse(state, initial_noise, k_sampler, steps, sampler)


def sample(state: State, key: jax.Array, num: int, **options) -> jax.Array:
  """num samples (images in [0, 1] or toy points). Options: steps (20), sampler ("ddim" | "ddpm"), initial_noise."""
  options = supported_options("the diffusion family", options, SAMPLE_OPTIONS)
  return generate(state, key, num, options.get("steps", 20), options.get("initial_noise"),
                  options.get("sampler", "ddim"))


def parse_steps_sweep(value) -> tuple[int, ...]:
  """'1,2,3,5,20,100' (or a sequence of ints) -> (1, 2, 3, 5, 20, 100)."""
  try:
    items = [int(v) for v in (value.split(",") if isinstance(value, str) else value)]
  except (TypeError, ValueError):
    items = []
  check(bool(items) and all(v > 0 for v in items),
        f"steps_sweep={value!r} must be a comma-separated list of positive integers, e.g. '1,2,3,5,20,100'.")
  return tuple(items)


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
  """What sample.py writes: {"samples", "title" (the sampler and its steps), "ncols"?, "row_labels"?,
  "col_labels"?}.

  steps_sweep="1,2,3,5,20,100": the same `num` initial noises decoded with each step count, one row per count
  (ncols = num, rows labelled "K steps"). interpolate=N: `num` rows of N frames along the spherical path between two noises (ncols = N).
  Otherwise `num` samples with `steps` / `sampler`.
  """
  options = supported_options("the diffusion family", options, OUTPUT_OPTIONS)
  steps = options.get("steps", 20)
  sampler = options.get("sampler", "ddim")
  made_by = f"{str(sampler).upper()}, {steps} step" + "s" * (steps != 1)
  shape = tuple(state.hp.example_shape)
  if ("steps_sweep" in options or "interpolate" in options) and state.hp.data_range == "points":
    raise JaxgenError("steps_sweep and interpolate make image grids; toy2d runs support steps and sampler only.")
  check(not ("steps_sweep" in options and "interpolate" in options),
        "choose one of steps_sweep and interpolate, not both.")
  k_noise, k_sampler = jax.random.split(key)
  if "steps_sweep" in options:
    noise = jax.random.normal(k_noise, (int(num),) + shape, jnp.float32)
    sweep = parse_steps_sweep(options["steps_sweep"])
    rows = [generate(state, k_sampler, num, s, noise, sampler) for s in sweep]
    return {"samples": jnp.concatenate(rows), "ncols": int(num),
            "row_labels": [f"{s} step" + "s" * (s != 1) for s in sweep],
            "title": f"{str(sampler).upper()}: the same {int(num)} noises, one row per step count"}
  if "interpolate" in options:
    frames = options["interpolate"]
    check(isinstance(frames, int) and frames >= 2, f"interpolate={frames!r} must be an integer >= 2 (frames).")
    noise = interpolation_noises(k_noise, int(num), frames, shape)
    return {"samples": generate(state, k_sampler, num * frames, steps, noise, sampler), "ncols": frames,
            "col_labels": value_labels(np.linspace(0.0, 1.0, frames), "t=", 2),
            "title": f"{made_by}: spherical path between two noises per row"}
  return {"samples": generate(state, key, num, steps, None, sampler), "title": made_by}


save_figures = None
