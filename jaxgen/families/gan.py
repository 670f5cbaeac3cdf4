"""Generative adversarial networks: DCGAN, WGAN (weight clipping), WGAN-GP, and their conditional variants.

`config.model.objective` picks the game (docs/reference.md §4–§6, §9):

  "bce"      DCGAN (Radford et al., 2016) as the reference notebook trains it: ONE forward pass
             fake = G(z); l_r = D(x); l_f = D(fake) (two D calls: separate BatchNorm batch statistics), then
               d_loss = ½·[BCE(l_r, 1 + ε·u) + BCE(l_f, 0 − ε·u')]     label noise ε = model.label_noise (0.1)
               g_loss = BCE(l_f, 1)                                    non-saturating generator loss
             and a simultaneous update of D (∂d_loss/∂θ_D) and G (∂g_loss/∂θ_G). BCE is computed from logits
             (log-sigmoid; the reference's clipped probabilities differ past a logit of ±15.4, §4).
  "wgan_gp"  WGAN-GP (Gulrajani et al., 2017): n_critic critic updates, each with fresh latents on the same real
             batch (the reference; `model.critic_data="split"` gives each update its own slice of the batch, as
             the paper's Algorithm 1), minimising
               c_loss = mean C(G(z)) − mean C(x) + λ·GP,    GP = mean_b (‖∇_x̂ C(x̂)‖₂ − 1)²,
               x̂ = x + α·(G(z) − x),  α ~ U[0,1] per example (paper; `gp_alpha_dist="normal"`: the notebook's N(0,1));
             then one generator update on g_loss = −mean C(G(z)). All inside one jitted `train_step` (lax.scan).
  "wgan"     WGAN (Arjovsky et al., 2017): as wgan_gp without the penalty; after every critic update the critic's
             parameters are clipped to [−c, c] (c = model.clip_value, 0.01).

`model.num_classes > 0` makes any of them conditional (§6: one-hot label to G's latent and as K critic channels).
Images use data.range "symmetric" ([−1, 1], tanh output); `toy2d/*` data uses the MLPs of the paper's toy code.

The generator runs in training mode in every critic and generator update, as the reference (§5).

Sampling can move the samples by discriminator optimal transport (`discriminator_optimal_transport`, options dot_*).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct

from jaxgen import data as data_lib
from jaxgen.configs import sample_options
from jaxgen.data import preprocess
from jaxgen.errors import JaxgenError, check, choice, supported_options
from jaxgen.nn import gan_nets, policy
from jaxgen.nn import updates

OBJECTIVES = ("bce", "wgan", "wgan_gp")
SAMPLE_OPTIONS = sample_options.SAMPLE_OPTIONS["gan"]
RENAMED_OPTIONS = sample_options.RENAMED_OPTIONS["gan"]
# Main metrics for the progress bar, in order of preference (the reference's names).
LOSS_KEYS = ("d_loss", "c_loss", "g_loss")


# ----------------------------------------------------------------------------------------------------------
# Losses: pure functions of logits / critic scores.


def bce_with_logits(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Elementwise −t·log σ(l) − (1 − t)·log(1 − σ(l)), stable for any real target t (noisy labels leave [0, 1])."""
  return -targets * jax.nn.log_sigmoid(logits) - (1.0 - targets) * jax.nn.log_sigmoid(-logits)


def noisy_labels(key: jax.Array, batch: int, noise: float) -> tuple[jax.Array, jax.Array]:
  """The reference's label noise: real targets 1 + noise·U[0,1), fake targets 0 − noise·U[0,1), one per example."""
  k_real, k_fake = jax.random.split(key)
  return (1.0 + noise * jax.random.uniform(k_real, (batch,)),
          0.0 - noise * jax.random.uniform(k_fake, (batch,)))


def discriminator_loss(real_logits, fake_logits, real_targets=1.0, fake_targets=0.0) -> jax.Array:
  """DCGAN d_loss = ½·(mean BCE(real_logits, real_targets) + mean BCE(fake_logits, fake_targets)) (the reference's ½)."""
  return 0.5 * (jnp.mean(bce_with_logits(real_logits, real_targets)) +
                jnp.mean(bce_with_logits(fake_logits, fake_targets)))


def generator_loss_bce(fake_logits: jax.Array) -> jax.Array:
  """Non-saturating generator loss mean BCE(D(G(z)), 1) = mean −log σ(l)."""
  return jnp.mean(bce_with_logits(fake_logits, 1.0))


def critic_wasserstein_loss(real_scores: jax.Array, fake_scores: jax.Array) -> jax.Array:
  """c_wass_loss = mean C(G(z)) − mean C(x) (the negated Wasserstein-1 estimate)."""
  return jnp.mean(fake_scores) - jnp.mean(real_scores)


def generator_loss_wasserstein(fake_scores: jax.Array) -> jax.Array:
  """g_loss = −mean C(G(z))."""
  return -jnp.mean(fake_scores)


def interpolation_weights(key: jax.Array, batch: int, ndim: int, dist: str = "uniform") -> jax.Array:
  """Per-example weights α of shape (batch, 1, ..., 1) (ndim axes in all) for x̂ = x + α·(x̃ − x).

  dist "uniform": α ~ U[0, 1] (Gulrajani et al., Algorithm 1); "normal": α ~ N(0, 1) (the notebook's tf.random.normal).
  """
  shape = (batch,) + (1,) * (ndim - 1)
  if dist == "uniform":
    return jax.random.uniform(key, shape)
  if dist == "normal":
    return jax.random.normal(key, shape)
  raise JaxgenError(f"gp_alpha_dist={dist!r} is not allowed; choose 'uniform' (paper) or 'normal' (notebook).")


def gradient_penalty(critic_fn, real: jax.Array, fake: jax.Array, key: jax.Array,
                     alpha_dist: str = "uniform") -> jax.Array:
  """WGAN-GP penalty mean_b (‖∇_x̂ C(x̂_b)‖₂ − 1)² at x̂ = real + α·(fake − real), one α per example.

  critic_fn: (B, ...) -> (B,) scores, each depending on its own example only (no batch norm; dropout is fine),
    so ∇_x̂ Σ_b C(x̂_b) holds every example's own input gradient. real, fake: (B, ...). key: draws α.
  The norm is over all non-batch axes; the tiny 1e-12 under the square root keeps its gradient finite at 0.
  """
  alpha = interpolation_weights(key, real.shape[0], real.ndim, alpha_dist).astype(real.dtype)
  x_hat = real + alpha * (fake - real)
  grads = jax.grad(lambda x: jnp.sum(critic_fn(x)))(x_hat)
  norms = jnp.sqrt(jnp.sum(jnp.square(grads).reshape(grads.shape[0], -1), axis=-1) + 1e-12)
  return jnp.mean(jnp.square(norms - 1.0))


def clip_weights(params, clip_value: float):
  """WGAN weight clipping: every critic parameter clipped to [−c, c]."""
  return jax.tree.map(lambda p: jnp.clip(p, -clip_value, clip_value), params)


def discriminator_optimal_transport(critic_fn, x: jax.Array, k_eff: float, step_size: float, num_steps: int,
                                    delta: float = 1e-6) -> jax.Array:
  """Discriminator optimal transport (DOT, Tanaka 2019, target space): each sample x moves to
      y* = argmin_y ‖y − x‖₂ − C(y) / K_eff,
  found by num_steps gradient-descent steps of size step_size from y = x (lax.fori_loop; ‖·‖ smoothed as
  √(‖y − x‖² + δ)).

  A sample moves only where the critic rises faster than K_eff per unit of distance, and stops where the rise
  falls below K_eff, so the result is a stationary point rather than a travel budget: with K_eff below the
  slope of a WGAN-GP critic on its transport paths (≈ 1 from the gradient penalty), samples stranded between
  modes (|∇C| ≈ 1) move into the modes, where the critic is flat, and samples already inside a mode stay — also
  in a mode the generator over-fills (a valley of C), which plain gradient ascent on C would empty. A critic whose
  slope inside the modes exceeds K_eff moves their samples too (configs/wgan_gp_toy2d.py measures both cases).
  critic_fn: (B, ...) -> (B,) scores, each depending on its own example only; x: (B, ...) generator outputs in
  data space (2-D points, or images in [−1, 1]). Returns y*, shaped like x.
  """
  def objective(y):
    distance = jnp.sqrt(jnp.sum(jnp.square(y - x).reshape(x.shape[0], -1), axis=-1) + delta)
    return jnp.sum(distance - critic_fn(y) / k_eff)

  grad = jax.grad(objective)
  return jax.lax.fori_loop(0, num_steps, lambda _, y: y - step_size * grad(y), x)


# ----------------------------------------------------------------------------------------------------------
# State and hyperparameters.


@dataclasses.dataclass(frozen=True)
class HParams:
  """What `train_step` and `sample` need besides the State's leaves (hashable, static under jit)."""
  objective: str
  latent_dim: int
  num_classes: int
  n_critic: int
  gp_weight: float
  gp_alpha_dist: str
  clip_value: float
  label_noise: float
  critic_data: str
  toy: bool

  @classmethod
  def from_config(cls, config) -> "HParams":
    m = config.model
    return cls(objective=m.objective, latent_dim=int(m.latent_dim), num_classes=int(m.num_classes),
               n_critic=int(m.n_critic), gp_weight=float(m.gp_weight), gp_alpha_dist=m.gp_alpha_dist,
               clip_value=float(m.clip_value), label_noise=float(m.label_noise), critic_data=m.critic_data,
               toy=data_lib.is_toy2d(config))


@struct.dataclass
class State:
  """Both players' parameters, BatchNorm statistics and optimizer states, and update counters.

  step: train_step calls; g_updates / d_updates: generator / critic (discriminator) optimizer updates so far.
  """
  step: jax.Array
  g_params: Any
  g_batch_stats: Any
  d_params: Any
  d_batch_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  g_updates: jax.Array
  d_updates: jax.Array
  generator: nn.Module = struct.field(pytree_node=False)
  critic: nn.Module = struct.field(pytree_node=False)
  g_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  d_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  hp: HParams = struct.field(pytree_node=False)


def validate_config(config: ml_collections.ConfigDict) -> None:
  """GAN-specific checks; raises JaxgenError naming the bad value and what is allowed."""
  choice("model.objective", config.model.objective, OBJECTIVES)
  check(int(config.model.latent_dim) > 0, f"model.latent_dim={config.model.latent_dim!r} "
        "must be a positive integer.")
  k = int(config.model.num_classes)
  check(k >= 0, f"model.num_classes={k!r} must be >= 0 (0: unconditional).")
  if k:
    n = data_lib.num_classes(config)
    check(n > 0 or str(config.data.name).startswith("folder:"),
          f"model.num_classes={k} needs labelled data; data.name={config.data.name!r} has no labels"
          + (" (CelebA: set data.label to an attribute, e.g. 'Blond_Hair')." if "celeb_a" in config.data.name else "."))
    check(n == 0 or k == n, f"model.num_classes={k} does not match the {n} classes of data.name={config.data.name!r}; "
          f"set model.num_classes={n}.")
  n_critic = config.model.n_critic
  check(isinstance(n_critic, int) and n_critic >= 1, f"model.n_critic={n_critic!r} must be an integer >= 1.")
  check(float(config.model.gp_weight) >= 0, "model.gp_weight must be >= 0.")
  choice("model.gp_alpha_dist", config.model.gp_alpha_dist, ("uniform", "normal"))
  choice("model.critic_data", config.model.critic_data, ("same", "split"))
  if config.model.critic_data == "split":
    check(config.train.batch_size % n_critic == 0, f"model.critic_data='split' needs train.batch_size="
          f"{config.train.batch_size} divisible by model.n_critic={n_critic}.")
  check(float(config.model.clip_value) > 0, "model.clip_value must be > 0.")
  choice("optim.name", config.optim.name, ("adam", "rmsprop"))
  choice("optim.decay", config.optim.decay, ("none", "linear"))
  if data_lib.is_toy2d(config):
    return
  size = int(config.data.image_size)
  check(gan_nets.num_blocks(size) is not None,
        f"data.image_size={size} is not allowed for the GAN family: it must be 4·2^k with k >= 1 "
        "(8, 16, 32, 64, 128, ...), because the generator starts from a 4x4 map and doubles it k times.")
  check(config.data.range == "symmetric",
        f"data.range={config.data.range!r} is not allowed for the GAN family: the generator ends in tanh, so use "
        "'symmetric' ([-1, 1]).")


def build_networks(config) -> tuple[nn.Module, nn.Module]:
  """(generator, critic) for the config's data (toy2d points or data.image_size × data.channels images)."""
  return _networks(config, None)


def _networks(config, image_shape) -> tuple[nn.Module, nn.Module]:
  """(generator, critic) under the config's nn.policy: MLPs for toy2d data, else for images of `image_shape`
  (H, W, C) (None: the config's) the reference's DCGAN nets ("bce", docs/reference.md §4) or WGAN-GP nets
  ("wgan", "wgan_gp", §5: critic with biases, no normalisation, model.critic_second_slope; generator output bias)."""
  m = config.model
  objective = config.model.objective
  if data_lib.is_toy2d(config):
    hidden = tuple(config.model.mlp_hidden)
    return (policy.configure(gan_nets.MLPGenerator(hidden=hidden, out_dim=2), config),
            policy.configure(gan_nets.MLPCritic(hidden=hidden), config))
  size = int(image_shape[0]) if image_shape is not None else int(config.data.image_size)
  channels = int(image_shape[-1]) if image_shape is not None else int(config.data.channels)
  n = gan_nets.num_blocks(size)
  check(n is not None, f"data.image_size={size} is not allowed for the GAN family: it must be 4·2^k with k >= 1.")
  g_features = gan_nets.adapt_features(m.g_features, n, "generator")
  d_features = gan_nets.adapt_features(m.d_features, n, "critic")
  momentum = float(config.model.bn_momentum)
  dropout = float(config.model.dropout)
  wasserstein = objective != "bce"
  generator = gan_nets.Generator(features=g_features, channels=channels, final_bias=wasserstein,
                                 bn_momentum=momentum)
  if wasserstein:
    second = float(config.model.critic_second_slope)
    slopes = tuple(second if i == 1 else 0.2 for i in range(n))
    critic = gan_nets.ConvCritic(features=d_features, batch_norm=False, use_bias=True, slopes=slopes,
                                 dropout=dropout, dropout_from=1)
  else:
    critic = gan_nets.ConvCritic(features=d_features, batch_norm=True, use_bias=False, slopes=(0.2,) * n,
                                 dropout=dropout, dropout_from=0, bn_momentum=momentum)
  return policy.configure(generator, config), policy.configure(critic, config)


def learning_rate(optim: ml_collections.ConfigDict, num_updates: int) -> optax.ScalarOrSchedule:
  """optim.learning_rate, constant (optim.decay="none", the reference) or decayed linearly to 0 over num_updates
  optimizer updates (optim.decay="linear", as the WGAN-GP paper's CIFAR-10 ResNet runs): sharper final modes."""
  return updates.learning_rate(float(optim.learning_rate), optim.decay, num_updates)


def make_optimizer(config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
  """(g_tx, d_tx): Adam(lr, b1, b2, eps) as Keras (default), or RMSProp(lr) as the WGAN paper. For
  optim.decay="linear" each decays over its updates in the whole run: train.num_steps for the generator,
  train.num_steps · n_critic for a Wasserstein critic."""
  num_steps = int(config.train.num_steps)
  n_critic = 1 if config.model.objective == "bce" else int(config.model.n_critic)
  return _optimizer(config.optim, num_steps), _optimizer(config.optim, num_steps * n_critic)


def _optimizer(optim: ml_collections.ConfigDict, num_updates: int) -> optax.GradientTransformation:
  lr = learning_rate(optim, num_updates)
  if optim.name == "rmsprop":
    return optax.rmsprop(lr, decay=0.9, eps=1e-7)
  return optax.adam(lr, b1=optim.b1, b2=optim.b2, eps=optim.eps)


def init(config: ml_collections.ConfigDict, key: jax.Array, example_batch: dict) -> State:
  """Initial State from the shapes of example_batch["x"] ((B, H, W, C) images or (B, 2) points)."""
  validate_config(config)
  hp = HParams.from_config(config)
  x = jnp.asarray(example_batch["x"][:2], jnp.float32)
  generator, critic = _networks(config, None if hp.toy else x.shape[1:])
  k_g, k_d, k_drop = jax.random.split(key, 3)
  z = jnp.zeros((x.shape[0], hp.latent_dim), jnp.float32)
  onehot = jnp.zeros((x.shape[0], hp.num_classes), jnp.float32) if hp.num_classes else None
  g_vars = generator.init(k_g, z, onehot, train=False)
  d_vars = critic.init({"params": k_d, "dropout": k_drop}, x, onehot, train=False)
  g_tx, d_tx = make_optimizer(config)
  zero = lambda: jnp.zeros((), jnp.int32)    # distinct buffers: the loop donates the State
  return State(
      step=zero(), g_params=g_vars["params"], g_batch_stats=dict(g_vars.get("batch_stats", {})),
      d_params=d_vars["params"], d_batch_stats=dict(d_vars.get("batch_stats", {})),
      g_opt_state=g_tx.init(g_vars["params"]), d_opt_state=d_tx.init(d_vars["params"]),
      g_updates=zero(), d_updates=zero(), generator=generator, critic=critic, g_tx=g_tx, d_tx=d_tx, hp=hp)


# ----------------------------------------------------------------------------------------------------------
# Network application helpers (training mode threads BatchNorm statistics through).


def _onehot(hp: HParams, labels):
  if not hp.num_classes:
    return None
  return jax.nn.one_hot(labels, hp.num_classes, dtype=jnp.float32)


def _generate_train(state: State, g_params, g_stats, z, onehot):
  """G(z) in training mode: returns (fake, updated batch_stats)."""
  if not g_stats:
    return state.generator.apply({"params": g_params}, z, onehot, train=True), g_stats
  fake, new = state.generator.apply({"params": g_params, "batch_stats": g_stats}, z, onehot, train=True,
                                    mutable=["batch_stats"])
  return fake, new["batch_stats"]


def _critic_train(state: State, d_params, d_stats, x, onehot, key):
  """C(x) or D(x) in training mode (dropout on with `key`): returns (scores (B,), updated batch_stats)."""
  if not d_stats:
    return state.critic.apply({"params": d_params}, x, onehot, train=True, rngs={"dropout": key}), d_stats
  out, new = state.critic.apply({"params": d_params, "batch_stats": d_stats}, x, onehot, train=True,
                                rngs={"dropout": key}, mutable=["batch_stats"])
  return out, new["batch_stats"]


def _latents(hp: HParams, key, num):
  return jax.random.normal(key, (num, hp.latent_dim), jnp.float32)


# ----------------------------------------------------------------------------------------------------------
# Training steps.


def _bce_step(state: State, x, labels, key):
  """DCGAN: one forward pass, simultaneous D and G updates (docs/reference.md §4)."""
  hp = state.hp
  k_z, k_noise, k_drop_r, k_drop_f = jax.random.split(key, 4)
  batch = x.shape[0]
  onehot = _onehot(hp, labels)
  z = _latents(hp, k_z, batch)
  real_t, fake_t = noisy_labels(k_noise, batch, hp.label_noise)

  def losses(g_params, d_params):
    fake, g_stats = _generate_train(state, g_params, state.g_batch_stats, z, onehot)
    real_logits, d_stats = _critic_train(state, d_params, state.d_batch_stats, x, onehot, k_drop_r)
    fake_logits, d_stats = _critic_train(state, d_params, d_stats, fake, onehot, k_drop_f)
    d_loss = discriminator_loss(real_logits, fake_logits, real_t, fake_t)
    g_loss = generator_loss_bce(fake_logits)
    return (d_loss, g_loss), (g_stats, d_stats, real_logits, fake_logits)

  (d_loss, g_loss), pullback, (g_stats, d_stats, real_logits, fake_logits) = jax.vjp(
      losses, state.g_params, state.d_params, has_aux=True)
  one, zero = jnp.ones((), d_loss.dtype), jnp.zeros((), d_loss.dtype)
  _, d_grads = pullback((one, zero))          # ∂d_loss/∂θ_D
  g_grads, _ = pullback((zero, one))          # ∂g_loss/∂θ_G
  d_params, d_opt = updates.apply_gradients(state.d_tx, state.d_params, state.d_opt_state, d_grads)
  g_params, g_opt = updates.apply_gradients(state.g_tx, state.g_params, state.g_opt_state, g_grads)
  real_acc = jnp.mean((real_logits > 0).astype(jnp.float32))     # BinaryAccuracy at p = 0.5, clean labels
  fake_acc = jnp.mean((fake_logits < 0).astype(jnp.float32))
  metrics = {"d_loss": d_loss, "d_real_acc": real_acc, "d_fake_acc": fake_acc,
             "d_acc": 0.5 * (real_acc + fake_acc), "g_loss": g_loss,
             "g_acc": jnp.mean((fake_logits > 0).astype(jnp.float32))}
  new_state = state.replace(
      step=state.step + 1, g_params=g_params, g_batch_stats=g_stats,
      d_params=d_params, d_batch_stats=d_stats,
      g_opt_state=g_opt, d_opt_state=d_opt, g_updates=state.g_updates + 1, d_updates=state.d_updates + 1)
  return new_state, metrics


def _wasserstein_step(state: State, x, labels, key):
  """n_critic critic updates (lax.scan) then one generator update (docs/reference.md §5, §6)."""
  hp = state.hp
  k_critic, k_gz, k_gdrop = jax.random.split(key, 3)
  if hp.critic_data == "split":   # each critic update gets its own slice of the batch (paper, Algorithm 1)
    xs = x.reshape((hp.n_critic, x.shape[0] // hp.n_critic) + x.shape[1:])
    ls = labels.reshape(hp.n_critic, -1) if labels is not None else None
  else:                           # the reference: the same real batch for every critic update
    xs = jnp.broadcast_to(x, (hp.n_critic,) + x.shape)
    ls = jnp.broadcast_to(labels, (hp.n_critic,) + labels.shape) if labels is not None else None

  def critic_update(carry, inputs):
    d_params, d_opt, g_stats, count = carry
    key, real, lab = inputs
    k_z, k_drop_f, k_drop_r, k_drop_gp, k_alpha = jax.random.split(key, 5)
    onehot = _onehot(hp, lab)
    fake, g_stats = _generate_train(state, state.g_params, g_stats, _latents(hp, k_z, real.shape[0]), onehot)
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(d_params):
      fake_scores, _ = _critic_train(state, d_params, {}, fake, onehot, k_drop_f)
      real_scores, _ = _critic_train(state, d_params, {}, real, onehot, k_drop_r)
      wass = critic_wasserstein_loss(real_scores, fake_scores)
      if hp.objective == "wgan_gp":
        critic_fn = lambda images: _critic_train(state, d_params, {}, images, onehot, k_drop_gp)[0]
        gp = gradient_penalty(critic_fn, real, fake, k_alpha, hp.gp_alpha_dist)
      else:
        gp = jnp.zeros((), wass.dtype)
      return wass + hp.gp_weight * gp, (wass, gp)

    (c_loss, (wass, gp)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
    d_params, d_opt = updates.apply_gradients(state.d_tx, d_params, d_opt, grads)
    if hp.objective == "wgan":
      d_params = clip_weights(d_params, hp.clip_value)
    metrics = {"c_loss": c_loss, "c_wass_loss": wass, "c_gp": gp}
    return (d_params, d_opt, g_stats, count + 1), metrics

  keys = jax.random.split(k_critic, hp.n_critic)
  carry = (state.d_params, state.d_opt_state, state.g_batch_stats, state.d_updates)
  (d_params, d_opt, g_stats, d_count), c_metrics = jax.lax.scan(
      critic_update, carry, (keys, xs, ls) if ls is not None else (keys, xs, None))

  # Generator update: fresh latents, the updated critic (dropout on, as the reference's training=True).
  num = xs.shape[1]
  g_onehot = _onehot(hp, ls[-1]) if ls is not None else None
  z = _latents(hp, k_gz, num)

  def g_loss_fn(g_params):
    fake, new_stats = _generate_train(state, g_params, g_stats, z, g_onehot)
    scores, _ = _critic_train(state, d_params, {}, fake, g_onehot, k_gdrop)
    return generator_loss_wasserstein(scores), new_stats

  (g_loss, g_stats), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(state.g_params)
  g_params, g_opt = updates.apply_gradients(state.g_tx, state.g_params, state.g_opt_state, g_grads)
  metrics = {k: v[-1] for k, v in c_metrics.items()}    # the last critic update's values, as the reference logs
  metrics["g_loss"] = g_loss
  new_state = state.replace(
      step=state.step + 1, g_params=g_params, g_batch_stats=g_stats,
      d_params=d_params, d_opt_state=d_opt, g_opt_state=g_opt, g_updates=state.g_updates + 1, d_updates=d_count)
  return new_state, metrics


def train_step(state: State, batch: dict, key: jax.Array) -> tuple[State, dict]:
  """One training step: DCGAN's simultaneous update, or n_critic critic updates + one generator update.

  batch: {"x": (B, H, W, C) in [−1, 1] or (B, 2), "label": (B,) int32 for conditional models}.
  Metrics (the reference's names): bce → d_loss, d_real_acc, d_fake_acc, d_acc, g_loss, g_acc;
  wgan/wgan_gp → c_loss, c_wass_loss, c_gp (of the last critic update), g_loss.
  """
  hp = state.hp
  x = jnp.asarray(batch["x"], jnp.float32)
  labels = None
  if hp.num_classes:
    if "label" not in batch:
      raise JaxgenError(f"model.num_classes={hp.num_classes} needs labelled batches, but the batch has no 'label'.")
    labels = jnp.asarray(batch["label"], jnp.int32)
  if hp.objective == "bce":
    return _bce_step(state, x, labels, key)
  return _wasserstein_step(state, x, labels, key)


# ----------------------------------------------------------------------------------------------------------
# Sampling.


@functools.partial(jax.jit, static_argnames=("num", "dot_steps"))
def _generate(state: State, key: jax.Array, num: int, labels, truncated_z, dot_steps: int = 0,
              dot_step_size=0.0, dot_k=1.0):
  """G(z) in inference mode for `sample`'s options (truncated_z > 0: the truncation trick of BigGAN); with
  dot_steps > 0 moved by `discriminator_optimal_transport` under the critic in inference mode."""
  hp = state.hp
  z_normal = jax.random.normal(key, (num, hp.latent_dim), jnp.float32)
  t = jnp.maximum(truncated_z, 1e-3)
  z_trunc = jax.random.truncated_normal(key, -t, t, (num, hp.latent_dim), jnp.float32)
  z = jnp.where(truncated_z > 0, z_trunc, z_normal)
  variables = {"params": state.g_params}
  if state.g_batch_stats:
    variables["batch_stats"] = state.g_batch_stats
  onehot = _onehot(hp, labels)
  out = state.generator.apply(variables, z, onehot, train=False)
  if dot_steps:
    d_vars = {"params": state.d_params}
    if state.d_batch_stats:
      d_vars["batch_stats"] = state.d_batch_stats
    critic_fn = lambda x: state.critic.apply(d_vars, x, onehot, train=False)
    out = discriminator_optimal_transport(critic_fn, out, dot_k, dot_step_size, dot_steps)
    if not hp.toy:
      out = jnp.clip(out, -1.0, 1.0)          # the generator's tanh range
  if hp.toy:
    return out
  return preprocess.symmetric_to_unit(out)


def _check_options(state: State, options: dict, allowed=SAMPLE_OPTIONS) -> dict:
  options = supported_options("the GAN family", options, allowed, renamed=RENAMED_OPTIONS)
  hp = state.hp
  if options.get("label") is not None or options.get("class_grid"):
    what = "label" if options.get("label") is not None else "class_grid"
    check(hp.num_classes > 0, f"{what} needs a conditional GAN (model.num_classes > 0); this model is unconditional.")
  if options.get("label") is not None:
    label = options["label"]
    check(isinstance(label, int) and 0 <= label < hp.num_classes,
          f"label={label!r} is not allowed; choose an integer in [0, {hp.num_classes - 1}].")
  steps = options.get("dot_steps")
  if steps is not None:
    check(isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0,
          f"dot_steps={steps!r} must be an integer >= 0 (0: the generator's samples as they are).")
  if steps:
    for name, meaning in (("dot_step_size", "the gradient-descent step, in data units"),
                          ("dot_k", "K_eff, the critic slope above which a sample moves")):
      value = options.get(name)
      check(isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
            f"{name}={value!r} must be a number > 0 when dot_steps={steps} ({meaning}).")
  return options


def _dot(options: dict) -> tuple[int, jax.Array, jax.Array]:
  """(dot_steps, dot_step_size, dot_k) of checked options; dot_steps = 0 when DOT is off."""
  steps = int(options.get("dot_steps") or 0)
  if not steps:
    return 0, jnp.float32(0.0), jnp.float32(1.0)
  return steps, jnp.float32(options["dot_step_size"]), jnp.float32(options["dot_k"])


def _labels(state, key, num, label):
  hp = state.hp
  if not hp.num_classes:
    return None
  if label is not None:
    return jnp.full((num,), label, jnp.int32)
  return jax.random.randint(key, (num,), 0, hp.num_classes, jnp.int32)


def sample(state: State, key: jax.Array, num: int, **options) -> jax.Array:
  """num samples: images (num, H, W, C) float32 in [0, 1], or (num, 2) points for toy2d.

  label: class for a conditional model (default: labels drawn uniformly). truncated_z=t: sample z from N(0, I)
  truncated to [−t, t] per coordinate. dot_steps=N, dot_step_size=η, dot_k=K: move each sample by
  discriminator optimal transport (`discriminator_optimal_transport`; 0 steps: the generator's own samples).
  """
  options = _check_options(state, options, tuple(o for o in SAMPLE_OPTIONS if o != "class_grid"))  # grid: outputs
  k_label, k_z = jax.random.split(key)
  labels = _labels(state, k_label, num, options.get("label"))
  return _generate(state, k_z, int(num), labels, jnp.float32(options.get("truncated_z") or 0.0), *_dot(options))


OBJECTIVE_NAMES = {"bce": "DCGAN", "wgan": "WGAN", "wgan_gp": "WGAN-GP"}


def samples_title(state: State, options: dict) -> str:
  """What made the samples of checked `options`, for the plot title: the game, the truncation, the class and
  whether discriminator optimal transport moved them, e.g. "WGAN-GP + DOT 50 steps (η=0.01, K=1)" or
  "WGAN-GP generator, no DOT"."""
  hp = state.hp
  name = ("conditional " if hp.num_classes else "") + OBJECTIVE_NAMES.get(hp.objective, hp.objective)
  extras = ([f"z truncated to ±{options['truncated_z']:g}"] if options.get("truncated_z") else []) + (
      [f"class {options['label']}"] if options.get("label") is not None else [])
  steps = int(options.get("dot_steps") or 0)
  dot = (f" + DOT {steps} step{'s' * (steps != 1)} (η={options['dot_step_size']:g}, K={options['dot_k']:g})"
         if steps else " generator, no DOT")
  return name + dot + "".join(f", {e}" for e in extras)


def sample_outputs(state: State, config, key: jax.Array, num: int, options: dict) -> dict:
  """What sample.py writes: {"samples", "labels" (conditional models), "ncols", "row_labels" (class_grid),
  "title" (`samples_title`)}.

  class_grid=True: one row per class (labelled "class k"), the same latents in every row (column j shares z_j),
  num // K columns.
  """
  options = _check_options(state, options)
  hp = state.hp
  truncated_z = jnp.float32(options.get("truncated_z") or 0.0)
  if options.get("class_grid"):
    cols = max(1, num // hp.num_classes)
    k = hp.num_classes
    labels = jnp.repeat(jnp.arange(k, dtype=jnp.int32), cols)
    # Same latent key for every row: generate cols latents once per class by reusing the key.
    rows = [_generate(state, key, cols, labels[i * cols:(i + 1) * cols], truncated_z, *_dot(options))
            for i in range(k)]
    return {"samples": jnp.concatenate(rows), "labels": labels, "ncols": cols,
            "row_labels": [f"class {i}" for i in range(k)],
            "title": samples_title(state, options) + ", the same z in every row"}
  k_label, k_z = jax.random.split(key)
  labels = _labels(state, k_label, num, options.get("label"))
  out = {"samples": _generate(state, k_z, int(num), labels, truncated_z, *_dot(options)),
         "title": samples_title(state, options)}
  if labels is not None:
    out["labels"] = labels
  return out


eval_step = None
save_figures = None
