"""Energy-based model trained by contrastive divergence with Langevin sampling and a replay buffer (REFERENCE.md §7).

**Sign convention.** Everywhere in jaxgen an *energy* E(x) is low for data and defines p(x) ∝ exp(−E(x)).
`EnergyNet` outputs E(x) directly; Langevin steps *against* ∇E. The reference notebook's network outputs a
*score* s(x) = −E(x) (high for data) and ascends it. Because the last layer is linear with a symmetric
(glorot-uniform) init, parametrising E instead of s is the same model: every update and every loss value below
equals the reference's with s = −E:

  cdiv = mean E(real) − mean E(fake)           (= reference mean s(fake) − mean s(real))
  reg  = α · mean(E(real)² + E(fake)²)          (α = 0.1; same value as the reference)
  loss = cdiv + reg
  metrics `real`, `fake` = mean ENERGY of the real / fake half; the reference logs mean scores = −these.

**Training step** (all inside one jitted `train_step`):
  real ← clip(real + N(0, 0.005²), data range)
  x0   ← per row: U(data range) with probability 0.05 (so the count is Binomial(B, 0.05), as the reference's
         np.random.binomial), otherwise a replay-buffer sample drawn uniformly with replacement
  fake ← langevin(E, x0; 60 steps, step size 10, noise 0.005, gradient clip 0.03, clip to the data range)
  Adam(1e-4) step on `loss`; the refined `fake` are written back into the buffer.

**Replay buffer** (`ReplayBuffer`, a leaf of State, so it is checkpointed): a fixed (capacity, *shape) array,
a fill level and a ring head. Writes go to the B ring positions after the head (the oldest entries once full),
so the buffer always holds the most recent `capacity` samples — the reference's newest-first list truncated to
8,192 holds the same set, and uniform draws from either are the same distribution. Initial fill: 128 U(range)
samples (the reference's). The buffer data is float32 (32 MiB for 8,192 MNIST images).

**Models.** `model.kind="conv"`: the reference net for images (Conv 16/5×5/s2, 32/3×3/s2, 64/3×3/s2,
64/3×3/s2, swish; Dense 64 swish; Dense 1; 76,993 parameters at 32×32×1). The strided convolutions are
computed by `jaxgen.nn.layers.Conv` as slices + matmuls (same parameters and function as `nn.Conv`): Langevin needs ∇ₓE,
the input gradient of strided convolutions, which XLA:CPU computes as slow input-dilated convolutions; the
slice formulation costs ~3x less CPU per Langevin step there (`model.conv_impl="lax"` keeps XLA's convolution). `model.kind="mlp"`: swish MLP for `toy2d/*`.

Toy data: `density_report` normalises exp(−E) on a grid over the data box (`jaxgen.metrics.density`) and
reports the test NLL, a fitted-Gaussian baseline and the KL from the true density; `save_energy_landscape`
writes the heat map.
"""
from __future__ import annotations

import os
import dataclasses
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct

from jaxgen import data as data_lib
from jaxgen.errors import JaxgenError, check, choice, supported_options
from jaxgen.nn import layers, policy
from jaxgen.samplers.langevin import REFERENCE_CHAIN_STEPS, langevin

BENCHMARK_CONFIGS = ["ebm_mnist"]
LOSS_KEYS = ["loss", "cdiv", "reg", "real", "fake"]
SAMPLE_OPTIONS = ("steps", "chain")


# ----------------------------------------------------------------------------------------------------------
# Energy networks.


def conv_impl_for(kernel_size: int, strides: int, impl: str) -> str:
  """The `jaxgen.nn.layers.Conv` formulation for one strided conv of the energy net.

  Langevin needs ∇ₓE, and the input gradient of an XLA strided convolution is an input-dilated convolution,
  slow on XLA:CPU; the layers' matmul formulations make it pads, adds and matmuls. "auto" uses space-to-depth
  for the 5x5/s2 layer on one channel (fewer, larger slices) and the matmul formulation for the 3x3 layers
  (the fastest mix measured for the reference net on CPU); "lax" is XLA's convolution.
  """
  if impl != "auto" or not layers.on_cpu():  # GPU/TPU: "auto" -> XLA's convolution (jaxgen.nn.layers)
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
  """Static settings of one EBM (hashable; lives in State as a non-pytree field)."""
  alpha: float                  # weight of the energy-magnitude regulariser
  real_noise: float             # std of the noise added to real examples
  fresh_prob: float             # probability that a Langevin start is fresh noise (reference 0.05)
  steps: int                    # Langevin steps per training step (reference 60)
  step_size: float              # (reference 10)
  noise_scale: float            # (reference 0.005)
  grad_clip: float | None       # per-element gradient bound (reference 0.03); None = off
  low: float                    # data range / box: samples are clipped to [low, high]
  high: float
  sample_steps: int             # default Langevin steps of `sample` (reference 1000)
  toy_name: str = ""            # toy2d/<name> -> name; "" for images
  unit_images: bool = False     # data.range == "unit": images already in [0, 1]
  density_resolution: int = 200  # grid side for the toy density in eval_step

  @property
  def clip_range(self) -> tuple[float, float]:
    return (self.low, self.high)


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


def make_net(config) -> nn.Module:
  m = config.model
  if m.kind == "mlp":
    return MLPEnergy(hidden=tuple(m.hidden))
  return EnergyNet(conv_features=tuple(m.conv_features), kernel_sizes=tuple(m.kernel_sizes),
                   dense_features=int(m.dense_features), conv_impl=m.get("conv_impl", "auto"))


def make_hparams(config) -> HParams:
  m, lv = config.model, config.model.langevin
  low, high = _data_range(config)
  grad_clip = lv.grad_clip
  return HParams(alpha=float(m.alpha), real_noise=float(m.real_noise), fresh_prob=float(m.buffer_fresh_prob),
                 steps=int(lv.steps), step_size=float(lv.step_size), noise_scale=float(lv.noise_scale),
                 grad_clip=None if grad_clip is None or grad_clip <= 0 else float(grad_clip),
                 low=low, high=high, sample_steps=int(config.sample.get("steps", 1000)),
                 toy_name=config.data.name.split("/", 1)[1] if data_lib.is_toy2d(config) else "",
                 unit_images=(not data_lib.is_toy2d(config)) and config.data.range == "unit",
                 density_resolution=int(m.get("density_resolution", 200)))


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
    choice("model.conv_impl", m.get("conv_impl", "auto"), ("auto", *layers.CONV_IMPLS))
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
  check(float(m.langevin.noise_scale) >= 0, f"model.langevin.noise_scale={m.langevin.noise_scale!r} must be >= 0.")
  check(float(m.alpha) >= 0, f"model.alpha={m.alpha!r} must be >= 0.")
  check(int(config.sample.get("steps", 1000)) >= 1, f"sample.steps={config.sample.get('steps')!r} must be >= 1.")


def init(config, key: jax.Array, example_batch: dict) -> State:
  """Params (Keras init), Adam state and the replay buffer (`model.buffer_init` U(range) samples)."""
  k_params, k_buffer = jax.random.split(key)
  hp = make_hparams(config)
  net = policy.configure(make_net(config), config)
  x = jnp.asarray(example_batch["x"], jnp.float32)
  params = net.init(k_params, x[:1])["params"]
  o = config.optim
  tx = optax.adam(float(o.learning_rate), b1=float(o.b1), b2=float(o.b2), eps=float(o.eps))
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
  fake = langevin(energy_fn(state), x0, k_langevin, steps=hp.steps, step_size=hp.step_size,
                  noise_scale=hp.noise_scale, grad_clip=hp.grad_clip, clip_range=hp.clip_range)
  fake = jax.lax.stop_gradient(fake)

  def loss_fn(params):
    return cd_loss(*_energies(state, params, real, fake), hp.alpha)

  grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
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
    from jaxgen.metrics import density
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


@functools.partial(jax.jit, static_argnames=("num", "steps", "chain"))
def _sample(state: State, key: jax.Array, num: int, steps: int, chain: tuple[int, ...] | None):
  hp = state.hp
  k_start, k_run = jax.random.split(key)
  shape = state.buffer.data.shape[1:]
  x0 = jax.random.uniform(k_start, (num,) + shape, jnp.float32, hp.low, hp.high)
  return langevin(energy_fn(state), x0, k_run, steps=steps, step_size=hp.step_size, noise_scale=hp.noise_scale,
                  grad_clip=hp.grad_clip, clip_range=hp.clip_range, return_chain=chain or False)


def _to_output(state: State, x: jax.Array) -> jax.Array:
  if state.hp.toy_name or state.hp.unit_images:
    return x
  return (x + 1.0) / 2.0      # [-1, 1] -> [0, 1]


def _parse_options(state: State, options: dict) -> tuple[int, bool]:
  options = supported_options("the ebm family", options, SAMPLE_OPTIONS)
  steps = options.get("steps")
  steps = state.hp.sample_steps if steps is None else steps
  check(isinstance(steps, (int, np.integer)) and steps >= 1, f"steps={steps!r} must be a positive integer.")
  chain = bool(options.get("chain", False))
  if chain and state.hp.toy_name:
    raise JaxgenError("option 'chain' is supported for images only; toy2d samples are points.")
  return int(steps), chain


def sample(state: State, key: jax.Array, num: int, **options) -> jax.Array:
  """Langevin from U(range) noise for `steps` (default config.sample.steps = 1000) updates.

  Returns images float32 NHWC in [0, 1] (num, H, W, C), or points (num, 2) for toy2d. With `chain=True`:
  the chain strip as images (num · K, H, W, C), row-major with rows = samples and K = len(chain_steps(steps))
  columns = the states at `chain_steps(steps)` (the reference figure's steps for steps=1000).
  """
  steps, chain = _parse_options(state, options)
  indices = chain_steps(steps) if chain else None
  out = _sample(state, key, int(num), steps, indices)
  if chain:                                     # (K, num, ...) -> (num, K, ...) -> (num·K, ...)
    out = jnp.swapaxes(out, 0, 1).reshape((-1,) + out.shape[2:])
  return _to_output(state, out)


def sample_outputs(state: State, config, key: jax.Array, num: int, options: dict) -> dict:
  """What sample.py writes: the samples, or with chain=True the strip with one column per chain step, each
  column labelled t = the number of Langevin updates behind it."""
  steps, chain = _parse_options(state, options)
  samples = sample(state, key, num, **options)
  out = {"samples": samples}
  if chain:
    out["ncols"] = len(chain_steps(steps))
    out["col_labels"] = [f"t={i + 1}" for i in chain_steps(steps)]
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
  from jaxgen.metrics import density
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


def save_energy_landscape(state: State, path: str, resolution: int = 256) -> np.ndarray:
  """Writes the normalised log-density log p(x) = −E(x) − log Z over the box as a PNG heat map; returns the grid
  ((resolution, resolution), axis 0 = y increasing, axis 1 = x)."""
  from jaxgen import viz
  from jaxgen.metrics import density
  grid = np.asarray(density.grid_log_density(energy_fn(state), density_box(state), resolution))
  modes = viz.toy_reference("toy2d/" + state.hp.toy_name)[1]
  viz.save_heatmap(grid[::-1], path, extent=density_box(state), label="log p(x)", modes=modes,  # row 0 = top
                   title=f"learned density, step {int(state.step)}")
  return grid


def save_figures(state: State, config, directory: str, step: int) -> None:
  """Protocol hook: on toy data, the energy landscape next to each sample grid (samples/energy_XXXXXX.png)."""
  if state.hp.toy_name:
    save_energy_landscape(state, os.path.join(directory, f"energy_{step:06d}.png"))
