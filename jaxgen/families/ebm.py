"""Energy-based model trained by contrastive divergence with Langevin sampling and a replay buffer.

**Sign convention.** Everywhere in jaxgen an *energy* E(x) is low for data and defines p(x) ∝ exp(−E(x)).
`EnergyNet` outputs E(x) directly; Langevin steps *against* ∇E. The reference notebook's network outputs a
*score* s(x) = −E(x) (high for data) and ascends it. Because the last layer is linear with a symmetric
(glorot-uniform) init, parametrising E instead of s is the same model: every update and every loss value below
equals the reference's with s = −E:

  cdiv = mean E(real) − mean E(fake)           (= reference mean s(fake) − mean s(real))
  reg  = α · mean(E(real)² + E(fake)²)          (reference α = 0.1)
  loss = cdiv + reg
  metrics `real`, `fake` = mean ENERGY of the real / fake half; the reference logs mean scores = −these.

The regulariser pulls every energy towards 0 (the density towards uniform on the box): E + α·E² is smallest at
E = −1/(2α), so real and fake energies are at most 1/α apart; α = 0.1 (10 nats) leaves the energy too smooth
for narrow modes, so the toy config uses α = 0.001.

**Training step** (all inside one jitted `train_step`):
  real ← clip(real + N(0, real_noise²), data range)
  x0   ← per row: U(data range) with probability `buffer_fresh_prob` (so the count is Binomial(B, p), as the
         reference's np.random.binomial), otherwise a replay-buffer sample drawn uniformly with replacement
  fake ← langevin(E, x0; `langevin.steps` steps of size η = `langevin.step_size`, clip to the data range;
         with `langevin.step_size_end` > 0 the step anneals geometrically from η to it over the chain)
  Adam step on `loss` (`jaxgen.nn.updates.apply_gradients`; `optim.decay="linear"` decays the learning rate
  to 0 over `train.num_steps`); the refined `fake` are written back into the buffer.

**Langevin kinds** (`model.langevin.kind`, see `jaxgen.samplers.langevin`):
  "sgld" (the reference): x ← x + σ·ξ; x ← x − η·clip(∇E) with σ = `noise_scale` chosen independently of η.
         The reference's η = 10, σ = 0.005 has the noise of a Langevin chain at temperature σ²/(2η) ≈ 1e-6:
         short-run, nearly noiseless gradient descent on E.
  "ula": σ = sqrt(2η), the Euler–Maruyama discretisation of the Langevin diffusion dx = −∇E dt + sqrt(2) dW,
         whose stationary law tends to exp(−E) as η → 0. The step must be small against the data's finest
         scale: on a well of std s the chain is stable only for η < 2s², and its variance is within a factor
         ~3 of s² for η ≤ s²/2 (the toy: s = 0.014, η = 1e-4).
`sample` runs the same update from U(range) noise for `sample.steps` steps; its step size may anneal
geometrically from `sample.step_size_start` down to the training chain's last step (`langevin.step_size_end`,
or η when that is unset: large early steps cross the box quickly, the last ones are the trained chain's), and
`sample.temperature` T scales the noise std by sqrt(T) ("ula": targets exp(−E/T)).

**Annealed training chain** (`langevin.step_size_end`, off in the reference): with the clipped update a
constant-step chain ends with pixels still jumping by up to η·clip (0.3 at η = 10); smaller final steps let them
settle, and sampling then runs the chain the energy was trained on (short-run MCMC, Nijkamp et al. 2019).

**Replay buffer** (`ReplayBuffer`, a checkpointed leaf of State): a fixed (capacity, *shape) ring whose writes
replace the oldest entries: the set of the reference's newest-first list (docs/reference.md §7).

**Models.** `model.kind="conv"`: the reference net (docs/reference.md §7; `conv_impl_for`: its CPU convolutions);
`model.kind="mlp"`: swish MLP for `toy2d/*`, whose density `density_report` measures (docs/design.md §11).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct

from jaxgen import data as data_lib
from jaxgen import viz
from jaxgen.configs import sample_options
from jaxgen.errors import JaxgenError, check, choice, supported_options
from jaxgen.metrics import classifier as clf_lib
from jaxgen.metrics import density
from jaxgen.nn import conv, layers, policy
from jaxgen.nn.updates import DECAYS, apply_gradients, learning_rate
from jaxgen.samplers.langevin import REFERENCE_CHAIN_STEPS, geometric_schedule, langevin, ula_noise

LOSS_KEYS = ("loss", "cdiv", "reg", "real", "fake")
SAMPLE_OPTIONS = sample_options.SAMPLE_OPTIONS["ebm"]


# ----------------------------------------------------------------------------------------------------------
# Energy networks.


def conv_impl_for(kernel_size: int, strides: int, impl: str) -> str:
  """The `jaxgen.nn.conv` formulation for one strided conv of the energy net.

  Langevin needs ∇ₓE, slow on XLA:CPU for strided convolutions (`jaxgen.nn.conv`). "auto" uses space-to-depth
  for the 5x5/s2 layer on one channel (fewer, larger slices) and the matmul formulation for the 3x3 layers (the
  fastest mix for the reference net on CPU); "lax" is XLA's convolution.
  """
  if impl != "auto" or not conv.on_cpu():  # GPU/TPU: "auto" -> XLA's convolution (jaxgen.nn.conv)
    return impl
  return "space_to_depth" if kernel_size > strides + 1 else "matmul"


class EnergyNet(nn.Module):
  """The reference energy network for images (N, H, W, C) in [−1, 1] -> energies (N,)."""
  conv_features: Sequence[int] = (16, 32, 64, 64)
  kernel_sizes: Sequence[int] = (5, 3, 3, 3)
  dense_features: int = 64
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for features, k in zip(self.conv_features, self.kernel_sizes):
      x = nn.swish(layers.Conv(features, (k, k), strides=2, padding="SAME",
                               impl=conv_impl_for(k, 2, self.conv_impl))(x))
    x = x.reshape(x.shape[0], -1)
    x = nn.swish(layers.Dense(self.dense_features)(x))
    return layers.Dense(1)(x)[:, 0]


class MLPEnergy(nn.Module):
  """Energy for 2-D points (N, 2) -> (N,): swish MLP."""
  hidden: Sequence[int] = (128, 128, 128)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for features in self.hidden:
      x = nn.swish(layers.Dense(features)(x))
    return layers.Dense(1)(x)[:, 0]


# ----------------------------------------------------------------------------------------------------------
# Replay buffer.


@struct.dataclass
class ReplayBuffer:
  """data: (capacity, *shape) float32; fill: int32 () entries in use; head: int32 () next write position."""
  data: jax.Array
  fill: jax.Array
  head: jax.Array


def replay_init(key: jax.Array, capacity: int, shape: Sequence[int], init_size: int,
                low: float, high: float) -> ReplayBuffer:
  """A buffer whose first `init_size` entries are U(low, high) (the reference: 128 noise images)."""
  data = jnp.zeros((capacity,) + tuple(shape), jnp.float32)
  data = data.at[:init_size].set(jax.random.uniform(key, (init_size,) + tuple(shape), jnp.float32, low, high))
  return ReplayBuffer(data=data, fill=jnp.asarray(init_size, jnp.int32),
                      head=jnp.asarray(init_size % capacity, jnp.int32))


def replay_draw(buffer: ReplayBuffer, key: jax.Array, batch: int, fresh_prob: float, low: float,
                high: float) -> tuple[jax.Array, jax.Array]:
  """Starting points for Langevin: (x0 (batch, *shape), fresh (batch,) bool).

  Row b is fresh U(low, high) noise where a Bernoulli(fresh_prob) coin says so — the number of fresh rows is
  Binomial(batch, fresh_prob), the reference's distribution — and otherwise a buffer entry drawn uniformly
  with replacement from the `fill` entries in use. Static shapes: both candidates are drawn for every row.
  """
  k_idx, k_new, k_coin = jax.random.split(key, 3)
  shape = buffer.data.shape[1:]
  idx = jax.random.randint(k_idx, (batch,), 0, buffer.fill)
  old = buffer.data[idx]
  new = jax.random.uniform(k_new, (batch,) + shape, jnp.float32, low, high)
  fresh = jax.random.bernoulli(k_coin, fresh_prob, (batch,))
  x0 = jnp.where(fresh.reshape((batch,) + (1,) * len(shape)), new, old)
  return x0, fresh


def replay_push(buffer: ReplayBuffer, x: jax.Array) -> ReplayBuffer:
  """Writes x (B, *shape) at the B ring positions from `head` (overwriting the oldest once full)."""
  capacity, batch = buffer.data.shape[0], x.shape[0]
  positions = (buffer.head + jnp.arange(batch, dtype=jnp.int32)) % capacity
  return ReplayBuffer(data=buffer.data.at[positions].set(x.astype(buffer.data.dtype)),
                      fill=jnp.minimum(buffer.fill + batch, capacity).astype(jnp.int32),
                      head=((buffer.head + batch) % capacity).astype(jnp.int32))


# ----------------------------------------------------------------------------------------------------------
# State and hyperparameters.


@dataclasses.dataclass(frozen=True)
class HParams:
  """Static settings of one EBM (hashable; lives in State as a non-pytree field). Built from the config only."""
  alpha: float                  # weight of the energy-magnitude regulariser
  real_noise: float             # std of the noise added to real examples
  fresh_prob: float             # probability that a Langevin start is fresh noise (reference 0.05)
  kind: str                     # "sgld": noise std = noise_scale, independent of the step (reference);
                                # "ula": noise std = sqrt(2·step size), the Langevin diffusion's discretisation
  steps: int                    # Langevin steps per training step (reference 60)
  step_size: float              # η of the training chain (reference 10), its first step when annealed
  step_size_end: float          # the training chain's last step (geometric anneal); = step_size when constant
  noise_scale: float            # noise std of the "sgld" kind (reference 0.005); unused by "ula"
  grad_clip: float | None       # per-element gradient bound (reference 0.03); None = off
  low: float                    # data range / box: samples are clipped to [low, high]
  high: float
  sample_steps: int             # default Langevin steps of `sample` (reference 1000)
  sample_step_size_start: float  # `sample` anneals η geometrically from this to step_size_end
  sample_temperature: float     # `sample` targets exp(−E/T): noise std × sqrt(T) (1 = the trained chain's noise)
  toy_name: str                 # toy2d/<name> -> name; "" for images
  unit_images: bool             # data.range == "unit": images already in [0, 1]
  density_resolution: int       # grid side for the toy density in eval_step (0 for images)

  @property
  def clip_range(self) -> tuple[float, float]:
    return (self.low, self.high)

  @classmethod
  def from_config(cls, config) -> "HParams":
    m, lv, smp = config.model, config.model.langevin, config.sample
    low, high = _data_range(config)
    grad_clip = lv.grad_clip
    toy = data_lib.is_toy2d(config)
    return cls(alpha=float(m.alpha), real_noise=float(m.real_noise), fresh_prob=float(m.buffer_fresh_prob),
               kind=lv.kind, steps=int(lv.steps), step_size=float(lv.step_size),
               step_size_end=step_size_end(lv), noise_scale=float(lv.noise_scale),
               grad_clip=None if grad_clip is None or grad_clip <= 0 else float(grad_clip),
               low=low, high=high, sample_steps=int(smp.steps),
               sample_step_size_start=float(smp.step_size_start), sample_temperature=float(smp.temperature),
               toy_name=config.data.name.split("/", 1)[1] if toy else "",
               unit_images=(not toy) and config.data.range == "unit",
               density_resolution=int(m.density_resolution) if toy else 0)


@struct.dataclass
class State:
  step: jax.Array
  params: Any
  opt_state: Any
  buffer: ReplayBuffer
  net: nn.Module = struct.field(pytree_node=False)
  tx: optax.GradientTransformation = struct.field(pytree_node=False)
  hp: HParams = struct.field(pytree_node=False)


def _data_range(config) -> tuple[float, float]:
  if data_lib.is_toy2d(config):
    box = float(config.model.box)
    return -box, box
  return (-1.0, 1.0) if config.data.range == "symmetric" else (0.0, 1.0)


def build_networks(config) -> nn.Module:
  """The energy network E(x) (B, ...) -> (B,) under the config's nn.policy: MLP for toy2d, conv net for images."""
  m = config.model
  if m.kind == "mlp":
    return policy.configure(MLPEnergy(hidden=tuple(m.hidden)), config)
  return policy.configure(EnergyNet(conv_features=tuple(m.conv_features), kernel_sizes=tuple(m.kernel_sizes),
                                    dense_features=int(m.dense_features), conv_impl=m.conv_impl), config)


def make_optimizer(config) -> optax.GradientTransformation:
  """Adam(lr, b1, b2, eps); optim.decay="linear" decays lr to 0 over train.num_steps."""
  o = config.optim
  lr = learning_rate(float(o.learning_rate), o.get("decay", "none"), int(config.train.num_steps))
  return optax.adam(lr, b1=float(o.b1), b2=float(o.b2), eps=float(o.eps))


def step_size_end(langevin_config) -> float:
  """The training chain's last step: `langevin.step_size_end` when > 0, else `langevin.step_size` (constant; also
  for configs recorded before the key existed)."""
  end = float(langevin_config.get("step_size_end", 0.0) or 0.0)
  return end if end > 0 else float(langevin_config.step_size)


def chain_schedule(hp: HParams, steps: int, step_size_start: float | None = None,
                   temperature: float = 1.0) -> tuple[jax.Array, jax.Array]:
  """(step sizes (steps,), noise stds (steps,)) of a Langevin chain.

  η_t anneals geometrically from `step_size_start` (None: hp.step_size, the training chain) to
  hp.step_size_end (constant when both equal: the reference). Noise std: hp.noise_scale ("sgld") or
  sqrt(2·η_t) ("ula"), times sqrt(temperature): the "ula" chain then targets exp(−E/T).
  """
  eta = geometric_schedule(hp.step_size if step_size_start is None else step_size_start, hp.step_size_end, steps)
  noise = ula_noise(eta) if hp.kind == "ula" else np.full((steps,), hp.noise_scale, np.float32)
  return jnp.asarray(eta), jnp.asarray(noise * np.float32(np.sqrt(temperature)))


def run_chain(state: State, x0: jax.Array, key: jax.Array, steps: int, step_size_start: float | None = None,
              temperature: float = 1.0, return_chain=False) -> jax.Array:
  """Langevin from x0 (B, ...) under the state's energy with `chain_schedule`'s step sizes and noise."""
  hp = state.hp
  eta, noise = chain_schedule(hp, steps, step_size_start, temperature)
  return langevin(energy_fn(state), x0, key, steps=steps, step_size=eta, noise_scale=noise,
                  grad_clip=hp.grad_clip, clip_range=hp.clip_range, return_chain=return_chain)


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Family-specific checks (JaxgenError naming the bad value)."""
  m = config.model
  choice("model.kind", m.get("kind"), ("conv", "mlp"))
  toy = data_lib.is_toy2d(config)
  if toy:
    check(m.kind == "mlp", f"model.kind={m.kind!r}: toy2d data needs model.kind='mlp'.")
    check(float(m.get("box", 0)) > 0, f"model.box={m.get('box')!r} must be > 0 (samples live in [-box, box]^2).")
  else:
    check(m.kind == "conv", f"model.kind={m.kind!r}: image data needs model.kind='conv'.")
    choice("model.conv_impl", m.conv_impl, ("auto", *conv.CONV_IMPLS))
    check(len(m.kernel_sizes) == len(m.conv_features),
          f"model.kernel_sizes={tuple(m.kernel_sizes)!r} needs one size per layer of "
          f"model.conv_features={tuple(m.conv_features)!r} ({len(m.conv_features)} values).")
    factor = 2 ** len(m.conv_features)
    check(int(config.data.image_size) % factor == 0,
          f"data.image_size={config.data.image_size!r} must be a multiple of {factor} for {len(m.conv_features)} "
          "stride-2 convolutions.")
  cap, init = int(m.buffer_size), int(m.buffer_init)
  check(cap >= config.train.batch_size,
        f"model.buffer_size={cap} must be at least train.batch_size={config.train.batch_size}.")
  check(1 <= init <= cap, f"model.buffer_init={init} must be in [1, model.buffer_size={cap}].")
  check(0.0 <= float(m.buffer_fresh_prob) <= 1.0, f"model.buffer_fresh_prob={m.buffer_fresh_prob!r} must be in [0, 1].")
  check(int(m.langevin.steps) >= 1, f"model.langevin.steps={m.langevin.steps!r} must be >= 1.")
  check(float(m.langevin.step_size) > 0, f"model.langevin.step_size={m.langevin.step_size!r} must be > 0.")
  choice("optim.decay", config.optim.get("decay", "none"), DECAYS)
  end = m.langevin.get("step_size_end", 0.0)
  check(isinstance(end, (int, float)) and end >= 0,
        f"model.langevin.step_size_end={end!r} must be a number >= 0 (0: a constant-step chain).")
  choice("model.langevin.kind", m.langevin.kind, ("sgld", "ula"))
  check(float(m.langevin.noise_scale) >= 0, f"model.langevin.noise_scale={m.langevin.noise_scale!r} must be >= 0.")
  check(float(m.alpha) >= 0, f"model.alpha={m.alpha!r} must be >= 0.")
  smp = config.sample
  check(int(smp.steps) >= 1, f"sample.steps={smp.steps!r} must be >= 1.")
  check(float(smp.step_size_start) > 0, f"sample.step_size_start={smp.step_size_start!r} must be > 0.")
  check(float(smp.temperature) >= 0, f"sample.temperature={smp.temperature!r} must be >= 0.")


def init(config, key: jax.Array, example_batch: dict) -> State:
  """Params (Keras init), Adam state and the replay buffer (`model.buffer_init` U(range) samples)."""
  k_params, k_buffer = jax.random.split(key)
  hp = HParams.from_config(config)
  net = build_networks(config)
  x = jnp.asarray(example_batch["x"], jnp.float32)
  params = net.init(k_params, x[:1])["params"]
  tx = make_optimizer(config)
  buffer = replay_init(k_buffer, int(config.model.buffer_size), x.shape[1:], int(config.model.buffer_init),
                       hp.low, hp.high)
  return State(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), buffer=buffer,
               net=net, tx=tx, hp=hp)


def energy_fn(state: State, params=None):
  """x (B, ...) -> energies (B,) of the state's network (params default to state.params)."""
  params = state.params if params is None else params
  return lambda x: state.net.apply({"params": params}, x)


def _energies(state, params, real, fake):
  e = state.net.apply({"params": params}, jnp.concatenate([real, fake], axis=0))
  return e[:real.shape[0]], e[real.shape[0]:]


def cd_loss(e_real: jax.Array, e_fake: jax.Array, alpha: float) -> tuple[jax.Array, dict]:
  """Contrastive divergence + energy-magnitude regulariser (energies (B,)); returns (loss, metrics)."""
  cdiv = jnp.mean(e_real) - jnp.mean(e_fake)
  reg = alpha * jnp.mean(e_real ** 2 + e_fake ** 2)
  loss = cdiv + reg
  return loss, {"loss": loss, "cdiv": cdiv, "reg": reg, "real": jnp.mean(e_real), "fake": jnp.mean(e_fake)}


def train_step(state: State, batch: dict, key: jax.Array) -> tuple[State, dict]:
  """One CD step: noisy reals, Langevin-refined replay samples, Adam update, buffer write-back."""
  hp = state.hp
  k_real, k_draw, k_langevin = jax.random.split(key, 3)
  real = batch["x"].astype(jnp.float32)
  real = jnp.clip(real + hp.real_noise * jax.random.normal(k_real, real.shape, real.dtype), hp.low, hp.high)
  x0, _ = replay_draw(state.buffer, k_draw, real.shape[0], hp.fresh_prob, hp.low, hp.high)
  fake = jax.lax.stop_gradient(run_chain(state, x0, k_langevin, hp.steps))

  def loss_fn(params):
    return cd_loss(*_energies(state, params, real, fake), hp.alpha)

  grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
  params, opt_state = apply_gradients(state.tx, state.params, state.opt_state, grads)
  state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                        buffer=replay_push(state.buffer, fake))
  return state, {k: v.astype(jnp.float32) for k, v in metrics.items()}


def eval_step(state: State, batch: dict, key: jax.Array) -> dict:
  """The reference's test_step: fakes = U(range) noise, no Langevin; reports cdiv, real, fake.

  For toy2d also `nll`: mean negative log-likelihood (nats) of the batch under exp(−E) normalised on a
  `density_resolution`² grid over the box.
  """
  hp = state.hp
  real = batch["x"].astype(jnp.float32)
  fake = jax.random.uniform(key, real.shape, jnp.float32, hp.low, hp.high)
  e_real, e_fake = _energies(state, state.params, real, fake)
  metrics = {"cdiv": jnp.mean(e_real) - jnp.mean(e_fake), "real": jnp.mean(e_real), "fake": jnp.mean(e_fake)}
  if hp.toy_name:
    box = (hp.low, hp.high, hp.low, hp.high)
    grid = density.grid_log_density(energy_fn(state), box, hp.density_resolution)
    metrics["nll"] = density.grid_nll(grid, box, real)
  return {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}


# ----------------------------------------------------------------------------------------------------------
# Sampling.


def chain_steps(steps: int) -> tuple[int, ...]:
  """Chain-strip indices: the reference's (0, 1, 3, 5, 10, 30, 50, 100, 300, 999) below `steps`, ending at
  the final state steps − 1 (index i = the state after i + 1 updates)."""
  kept = [i for i in REFERENCE_CHAIN_STEPS if i < steps - 1]
  return tuple(kept + [steps - 1])


@dataclasses.dataclass(frozen=True)
class SampleOptions:
  """The resolved options of one `sample` call (static under jit)."""
  steps: int
  chain: tuple[int, ...] | None      # chain-strip indices, or None for the final states
  step_size_start: float
  temperature: float


@functools.partial(jax.jit, static_argnames=("num", "opts"))
def _sample(state: State, key: jax.Array, num: int, opts: SampleOptions):
  hp = state.hp
  k_start, k_run = jax.random.split(key)
  shape = state.buffer.data.shape[1:]
  x0 = jax.random.uniform(k_start, (num,) + shape, jnp.float32, hp.low, hp.high)
  return run_chain(state, x0, k_run, opts.steps, opts.step_size_start, opts.temperature,
                   return_chain=opts.chain or False)


def _to_output(state: State, x: jax.Array) -> jax.Array:
  if state.hp.toy_name or state.hp.unit_images:
    return x
  return (x + 1.0) / 2.0      # [-1, 1] -> [0, 1]


def _parse_options(state: State, options: dict) -> SampleOptions:
  options = supported_options("the ebm family", options, SAMPLE_OPTIONS)
  hp = state.hp
  steps = options.get("steps", hp.sample_steps)
  check(isinstance(steps, (int, np.integer)) and steps >= 1, f"steps={steps!r} must be a positive integer.")
  chain = bool(options.get("chain", False))
  if chain and hp.toy_name:
    raise JaxgenError("option 'chain' is supported for images only; toy2d samples are points.")
  start = options.get("step_size_start", hp.sample_step_size_start)
  check(isinstance(start, (int, float)) and start > 0, f"step_size_start={start!r} must be a number > 0.")
  temperature = options.get("temperature", hp.sample_temperature)
  check(isinstance(temperature, (int, float)) and temperature >= 0,
        f"temperature={temperature!r} must be a number >= 0.")
  return SampleOptions(steps=int(steps), chain=chain_steps(int(steps)) if chain else None,
                       step_size_start=float(start), temperature=float(temperature))


def sample(state: State, key: jax.Array, num: int, **options) -> jax.Array:
  """Langevin from U(range) noise: `steps` updates (default config.sample.steps) whose step size anneals
  geometrically from `step_size_start` to the training chain's last step, at `temperature` (noise std × sqrt(T)).

  Returns images float32 NHWC in [0, 1] (num, H, W, C), or points (num, 2) for toy2d. With `chain=True`:
  the chain strip as images (num · K, H, W, C), row-major with rows = samples and K = len(chain_steps(steps))
  columns = the states at `chain_steps(steps)` (the reference figure's steps for steps=1000).
  """
  opts = _parse_options(state, options)
  out = _sample(state, key, int(num), opts)
  if opts.chain:                                # (K, num, ...) -> (num, K, ...) -> (num·K, ...)
    out = jnp.swapaxes(out, 0, 1).reshape((-1,) + out.shape[2:])
  return _to_output(state, out)


def sample_outputs(state: State, config, key: jax.Array, num: int, options: dict) -> dict:
  """What sample.py writes: the samples, or with chain=True the strip with one column per chain step, each
  column labelled t = the number of Langevin updates behind it; "title" names the sampler and its steps."""
  opts = _parse_options(state, options)
  made_by = f"Langevin, {opts.steps} step{'s' * (opts.steps != 1)} from uniform noise" + (
      f", T={opts.temperature:g}" if opts.temperature != 1.0 else "")
  out = {"samples": sample(state, key, num, **options), "title": made_by}
  if opts.chain:
    out["ncols"] = len(opts.chain)
    out["col_labels"] = [f"t={i + 1}" for i in opts.chain]
    out["title"] = f"{made_by}: one chain per row"
  return out


# ----------------------------------------------------------------------------------------------------------
# Toy-data density.


def density_box(state: State) -> tuple[float, float, float, float]:
  return (state.hp.low, state.hp.high, state.hp.low, state.hp.high)


def density_report(state: State, config=None, resolution: int = 400, num_kl_samples: int = 100_000,
                   key: jax.Array | None = None) -> dict:
  """Grid-normalised density of a toy2d EBM against the held-out test split.

  Returns {"nll": test NLL of exp(−E)/Z (nats/point), "gaussian_nll": NLL of a full-covariance Gaussian fitted
  to the train split, "kl": KL(p_true ‖ p_model) (see `jaxgen.metrics.density.kl_to_true`), "log_z"}.
  """
  check(bool(state.hp.toy_name), "density_report needs a toy2d EBM (data.name='toy2d/<name>').")
  cfg = ml_collections.ConfigDict({"data": {"name": "toy2d/" + state.hp.toy_name}})
  test = data_lib.load_split(cfg, "test")["x"]
  train = data_lib.load_split(cfg, "train")["x"]
  box = density_box(state)
  grid = density.grid_log_density(energy_fn(state), box, resolution)
  key = jax.random.PRNGKey(0) if key is None else key
  return {
      "nll": float(density.grid_nll(grid, box, test)),
      "gaussian_nll": float(density.gaussian_nll(train, test)),
      "kl": float(density.kl_to_true(grid, box, state.hp.toy_name, key, num_kl_samples)),
      "log_z": float(density.grid_log_normalizer(energy_fn(state), box, resolution)),
  }


ENERGY_MAP_AREA = 0.25  # the energy map's colours span the highest quarter of the box's log p (the rest: one colour)


def save_energy_landscape(state: State, path: str, resolution: int = 256) -> np.ndarray:
  """Writes the normalised log-density log p(x) = −E(x) − log Z over the box as a PNG heat map; returns the grid
  ((resolution, resolution), axis 0 = y increasing, axis 1 = x).

  The colours show log p relative to its maximum, from 0 down to the level above which lies the highest
  ENERGY_MAP_AREA of the box: far from the data log p falls by hundreds of nats, and a scale that reached down
  there would melt the modes into one disc."""
  grid = np.asarray(density.grid_log_density(energy_fn(state), density_box(state), resolution))
  modes = viz.toy_reference("toy2d/" + state.hp.toy_name)[1]
  relative = grid - np.nanmax(grid)
  floor = min(float(np.nanpercentile(relative, 100 * (1 - ENERGY_MAP_AREA))), -1.0)
  viz.save_heatmap(relative[::-1], path, extent=density_box(state), modes=modes,            # row 0 = top
                   label=f"log p(x) − max log p (nats; below {floor:.3g}: {100 * (1 - ENERGY_MAP_AREA):g}% of the box)",
                   title=f"learned density, step {int(state.step)}", vmin=floor, vmax=0.0)
  return grid


def buffer_class_histogram(state: State, config, num: int = 1000, classifier=None) -> dict:
  """How the replay buffer's newest `num` entries (images) spread over the classes of jaxgen's classifier for
  the data set (`jaxgen.metrics.classifier`; trained and cached on first use).

  Returns {"step", "num", "histogram": C fractions of argmax labels, "label_entropy": nats,
  "max_label_entropy": log C, "confidence": fraction with max prob > 0.9}. A buffer that covers every class
  evenly has label_entropy ≈ max_label_entropy. `classifier`: any object with `probabilities(images in [0, 1])
  -> (N, C)` to use instead.
  """
  check(not state.hp.toy_name, "buffer_class_histogram needs an image EBM; toy2d buffers hold points.")
  d = config.data
  clf = classifier or clf_lib.get_classifier(d.name, image_size=d.image_size, channels=d.channels, pad=d.pad,
                                             data_dir=d.data_dir, seed=0)
  buf = state.buffer
  n = min(int(num), int(buf.fill))
  idx = (int(buf.head) - 1 - np.arange(n)) % buf.data.shape[0]          # newest first
  probs = clf.probabilities(np.asarray(_to_output(state, buf.data[idx])))
  return {"step": int(state.step), "num": n, "histogram": clf_lib.label_histogram(probs).round(4).tolist(),
          "label_entropy": clf_lib.label_entropy(probs), "max_label_entropy": float(np.log(probs.shape[-1])),
          "confidence": clf_lib.confidence(probs)}


def save_figures(state: State, config, directory: str, step: int) -> None:
  """Protocol hook, at every sample grid: on toy data the energy landscape (samples/energy_XXXXXX.png); on a data
  set with a jaxgen classifier, one line of `buffer_class_histogram` appended to samples/buffer_classes.jsonl."""
  if state.hp.toy_name:
    save_energy_landscape(state, os.path.join(directory, f"energy_{step:06d}.png"))
  elif config.data.name in clf_lib.CLASSIFIER_DATASETS:
    line = buffer_class_histogram(state, config)
    with open(os.path.join(directory, "buffer_classes.jsonl"), "a") as f:
      f.write(json.dumps(line) + "\n")
