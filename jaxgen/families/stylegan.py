"""Style-based GAN (StyleGAN2, Karras et al. 2020), small enough for CPU data and scalable by config.

Generator
  mapping    z (B, z_dim) --normalise--> `mapping_layers` equalised dense layers (lr x0.01) --> w (B, w_dim)
  synthesis  W+ (B, L, w_dim), L = 2 log2(R) - 2 styles for an R x R image:
             learned constant 4x4 -> StyleLayer(w_0) -> toRGB(w_1)
             per doubling r = 8..R: [up x2 -> StyleLayer(w_i)] -> StyleLayer(w_{i+1}); rgb = up(rgb) + toRGB(w_{i+2})
             StyleLayer = modulated 3x3 conv with weight demodulation -> noise * learned per-channel scale -> bias
             -> lrelu(0.2)*sqrt(2); toRGB = modulated 1x1 conv without demodulation (skip generator).
Discriminator  residual: fromRGB 1x1 -> per halving [conv3x3, down, conv3x3] + (down, 1x1) skip, summed / sqrt(2)
             -> 4x4: minibatch stddev, conv3x3, dense, dense 1.
Losses       "logistic": non-saturating logistic, D: softplus(D(G(z))) + softplus(-D(x)) + R1;
             R1 = gamma/2 * E_x ||grad_x D(x)||^2 on batch / `r1_subsample` reals per step (amortised, see _d_loss).
             "wgan_gp": the GAN family's WGAN-GP critic objective (W-distance + gp_weight * gradient penalty;
             as in StyleGAN1's WGAN-GP runs, the minibatch-stddev channel couples examples within a group).
Training     style-mixing regularisation (probability `style_mixing_prob`), running average of w for truncation,
             EMA of the generator's parameters (used for sampling).

Pure generator functions for the latent tools (`jaxgen.latent`):
  gen = state.generator
  w = gen.mapping(params, z)                         (B, z_dim) -> (B, w_dim)
  x = gen.synthesis(params, w_plus, key, "random")   (B, L, w_dim) -> (B, R, R, C) in the data range [-1, 1]
Departures from StyleGAN2, for size: bilinear up/downsampling in place of the [1,3,3,1] FIR transposed convolution
(same filter up to edges); the discriminator's 3x3 convs run after each 2x2 average-pooling; R1 and the adversarial
loss share one Adam step (amortised R1 on a batch slice instead of lazy R1); no path-length regularisation.
"""
import dataclasses
import functools
import math
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct

from jaxgen.errors import JaxgenError, check, choice, supported_options
from jaxgen.latent import directions as directions_lib
from jaxgen.latent import edits as edits_lib
from jaxgen.latent.mixing import broadcast_layers, random_crossover, style_mix
from jaxgen.latent.truncation import truncate
from jaxgen.nn import policy
from jaxgen.nn.modulated import (SQRT2, EqualConv2D, EqualDense, MappingNetwork, StyleLayer, ToRGB, downsample2x,
                                 lrelu_gain, minibatch_stddev, upsample2x)

BENCHMARK_CONFIGS = ["stylegan_celeba"]
LOSS_KEYS = ["d_loss", "g_loss"]
LOSSES = ("logistic", "wgan_gp")
NOISE_MODES = ("random", "const", "none")
# Settings read from config.sample (the loop passes config.sample to `sample`; sample_outputs reads them too).
SAMPLE_SETTINGS = ("truncation", "noise_mode", "pca_samples", "boundary_samples", "edit_layers", "alpha_units",
                   "interp_space")
# Options sample.py may pass that this family implements in `sample_outputs`.
OUTPUT_OPTIONS = ("truncation", "interpolate", "direction", "alphas", "mix_crossover")
# Data sets whose classes jaxgen's classifier (jaxgen.metrics.classifier) can label: boundary:LABEL directions.
CLASSIFIED_DATA = ("digits", "tfds/mnist", "tfds/fashion_mnist", "tfds/cifar10")


# ------------------------------------------------------------------------------------------------- architecture

def num_ws(resolution: int) -> int:
  """Styles consumed by the synthesis network of an R x R image: 2 log2(R) - 2 (R=32 -> 8, R=64 -> 10)."""
  return 2 * int(math.log2(resolution)) - 2


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
  """Feature maps at resolution `res`: min(channel_base // res, channel_max) (StyleGAN2's rule)."""
  return max(1, min(channel_base // res, channel_max))


def resolutions(resolution: int) -> list:
  return [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]


def noise_shapes(resolution: int) -> list:
  """(H, W) of each StyleLayer's noise input: 4x4 once, then two per resolution 8..R."""
  return [(4, 4)] + [(r, r) for r in resolutions(resolution)[1:] for _ in range(2)]


class Synthesis(nn.Module):
  """W+ (B, L, w_dim) -> images (B, R, R, channels), linear output (data range [-1, 1])."""
  resolution: int
  channels: int
  channel_base: int
  channel_max: int

  @nn.compact
  def __call__(self, ws: jax.Array, noise: Optional[tuple] = None) -> jax.Array:
    ch = functools.partial(channels_at, channel_base=self.channel_base, channel_max=self.channel_max)
    noise = noise if noise is not None else (None,) * len(noise_shapes(self.resolution))
    const = self.param("const", nn.initializers.normal(1.0), (4, 4, ch(4)))
    x = jnp.broadcast_to(const, (ws.shape[0], 4, 4, ch(4))).astype(ws.dtype)
    x = StyleLayer(ch(4), name="b4_conv")(x, ws[:, 0], noise[0])
    img = ToRGB(self.channels, name="b4_torgb")(x, ws[:, 1])
    i, n = 1, 1
    for res in resolutions(self.resolution)[1:]:
      x = StyleLayer(ch(res), upsample=True, name=f"b{res}_conv0")(x, ws[:, i], noise[n])
      x = StyleLayer(ch(res), name=f"b{res}_conv1")(x, ws[:, i + 1], noise[n + 1])
      img = upsample2x(img) + ToRGB(self.channels, name=f"b{res}_torgb")(x, ws[:, i + 2])
      i, n = i + 2, n + 2
    return img


class Generator(nn.Module):
  """Mapping + synthesis; `map` and `synthesize` are the two entry points (use via `StyleGenerator`)."""
  resolution: int
  channels: int
  z_dim: int
  w_dim: int
  mapping_layers: int
  mapping_lr_mul: float
  channel_base: int
  channel_max: int

  def setup(self):
    self.mapping_net = MappingNetwork(self.w_dim, self.mapping_layers, lr_mul=self.mapping_lr_mul)
    self.synthesis_net = Synthesis(self.resolution, self.channels, self.channel_base, self.channel_max)

  def map(self, z):
    return self.mapping_net(z)

  def synthesize(self, ws, noise=None):
    return self.synthesis_net(ws, noise)

  def __call__(self, z):
    return self.synthesize(broadcast_layers(self.map(z), num_ws(self.resolution)))


@dataclasses.dataclass(frozen=True)
class StyleGenerator:
  """Pure generator functions over a params pytree: what `jaxgen.latent` tools and samplers call. Hashable."""
  net: Generator

  @property
  def num_layers(self) -> int:
    return num_ws(self.net.resolution)

  @property
  def z_dim(self) -> int:
    return self.net.z_dim

  @property
  def w_dim(self) -> int:
    return self.net.w_dim

  def mapping(self, params, z: jax.Array) -> jax.Array:
    """z (B, z_dim) -> w (B, w_dim)."""
    return self.net.apply({"params": params}, z, method=Generator.map)

  def noise(self, key: Optional[jax.Array], batch: int, mode: str = "random") -> Optional[tuple]:
    """Per-layer noise maps: "random" (B, H, W, 1) per sample, "const" one map per layer shared by the batch
    (fixed by `key`: edits and interpolations keep the same stochastic detail), "none" (noise off)."""
    choice("noise_mode", mode, NOISE_MODES)
    if mode == "none" or key is None:
      return None
    keys = jax.random.split(key, len(noise_shapes(self.net.resolution)))
    rows = batch if mode == "random" else 1
    return tuple(jnp.broadcast_to(jax.random.normal(k, (rows, h, w, 1)), (batch, h, w, 1))
                 for k, (h, w) in zip(keys, noise_shapes(self.net.resolution)))

  def synthesis(self, params, w_plus: jax.Array, key: Optional[jax.Array] = None, noise_mode: str = "random"):
    """W+ (B, L, w_dim) -> images (B, R, R, C) in [-1, 1] (unclipped); key None or noise_mode "none": no noise."""
    noise = self.noise(key, w_plus.shape[0], noise_mode)
    return self.net.apply({"params": params}, w_plus, noise, method=Generator.synthesize)


class Discriminator(nn.Module):
  """Residual discriminator (StyleGAN2 'resnet'): images (B, R, R, C) -> logits (B,)."""
  resolution: int
  channel_base: int
  channel_max: int
  mbstd_group: int = 4

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    ch = functools.partial(channels_at, channel_base=self.channel_base, channel_max=self.channel_max)
    x = lrelu_gain(EqualConv2D(ch(self.resolution), 1, name="fromrgb")(x))
    for res in reversed(resolutions(self.resolution)[1:]):
      skip = EqualConv2D(ch(res // 2), 1, use_bias=False, name=f"b{res}_skip")(downsample2x(x))
      x = lrelu_gain(EqualConv2D(ch(res), 3, name=f"b{res}_conv0")(x))
      x = lrelu_gain(EqualConv2D(ch(res // 2), 3, name=f"b{res}_conv1")(downsample2x(x)))
      x = (skip + x) / SQRT2
    x = minibatch_stddev(x, self.mbstd_group)
    x = lrelu_gain(EqualConv2D(ch(4), 3, name="b4_conv")(x))
    x = lrelu_gain(EqualDense(ch(4), name="b4_fc")(x.reshape(x.shape[0], -1)))
    return EqualDense(1, name="b4_out")(x)[:, 0]


# ---------------------------------------------------------------------------------------------------- state

@struct.dataclass
class State:
  step: jax.Array
  g_params: Any
  d_params: Any
  g_opt_state: Any
  d_opt_state: Any
  g_ema: Any                     # EMA of g_params: used for sampling
  w_avg: jax.Array               # (w_dim,) running average of mapped w: the truncation centre
  generator: StyleGenerator = struct.field(pytree_node=False)
  discriminator: Discriminator = struct.field(pytree_node=False)
  g_tx: Any = struct.field(pytree_node=False)
  d_tx: Any = struct.field(pytree_node=False)
  hp: Any = struct.field(pytree_node=False)     # FrozenConfigDict of config.model


def validate_config(config: ml_collections.ConfigDict) -> None:
  m, d = config.model, config.data
  res = int(d.image_size)
  check(res >= 4 and res & (res - 1) == 0,
        f"data.image_size={res} is not allowed for stylegan; choose a power of two >= 4 (16, 32, 64, ...).")
  check(d.range == "symmetric", f"data.range={d.range!r} is not allowed for stylegan; use 'symmetric' ([-1, 1]).")
  choice("model.loss", m.loss, LOSSES)
  check(int(m.mapping_layers) >= 1, f"model.mapping_layers={m.mapping_layers!r} must be >= 1.")
  check(0.0 <= float(m.style_mixing_prob) <= 1.0, f"model.style_mixing_prob={m.style_mixing_prob!r} must be in [0, 1].")
  check(int(m.r1_subsample) >= 1 and config.train.batch_size % int(m.r1_subsample) == 0,
        f"model.r1_subsample={m.r1_subsample!r} must be >= 1 and divide train.batch_size={config.train.batch_size}.")
  check(float(m.r1_gamma) >= 0, f"model.r1_gamma={m.r1_gamma!r} must be >= 0.")
  check(int(m.critic_steps) >= 1, f"model.critic_steps={m.critic_steps!r} must be >= 1.")
  check(0.0 <= float(m.ema_decay) < 1.0, f"model.ema_decay={m.ema_decay!r} must be in [0, 1).")
  group = min(int(m.mbstd_group), int(config.train.batch_size))
  check(config.train.batch_size % group == 0,
        f"train.batch_size={config.train.batch_size} must be divisible by the minibatch-stddev group "
        f"model.mbstd_group={m.mbstd_group}.")
  _check_sample_settings(config.sample.to_dict())


def _check_sample_settings(settings: dict) -> None:
  if "noise_mode" in settings:
    choice("sample.noise_mode", settings["noise_mode"], NOISE_MODES)
  if "alpha_units" in settings:
    choice("sample.alpha_units", settings["alpha_units"], ("std", "raw"))
  if "interp_space" in settings:
    choice("sample.interp_space", settings["interp_space"], ("w", "z"))


def build(config):
  """(StyleGenerator, Discriminator) from a config."""
  m = config.model
  gen = StyleGenerator(Generator(int(config.data.image_size), int(config.data.channels), int(m.z_dim), int(m.w_dim),
                                 int(m.mapping_layers), float(m.mapping_lr_mul), int(m.channel_base),
                                 int(m.channel_max)))
  disc = Discriminator(int(config.data.image_size), int(m.channel_base), int(m.channel_max), int(m.mbstd_group))
  return StyleGenerator(policy.configure(gen.net, config)), policy.configure(disc, config)


def _adam(o) -> optax.GradientTransformation:
  return optax.adam(float(o.lr), b1=float(o.b1), b2=float(o.b2), eps=float(o.eps))


def init(config, key, example_batch) -> State:
  validate_config(config)
  gen, disc = build(config)
  k_g, k_d = jax.random.split(key)
  x = jnp.asarray(example_batch["x"][:2], jnp.float32)
  g_params = gen.net.init(k_g, jnp.zeros((2, gen.z_dim)))["params"]
  d_params = disc.init(k_d, x)["params"]
  g_tx, d_tx = _adam(config.optim), _adam(config.optim)
  w_avg = jnp.zeros((gen.w_dim,), jnp.float32)
  return State(jnp.zeros((), jnp.int32), g_params, d_params, g_tx.init(g_params), d_tx.init(d_params),
               jax.tree.map(jnp.array, g_params), w_avg, gen, disc, g_tx, d_tx,
               ml_collections.FrozenConfigDict(config.model))


# ---------------------------------------------------------------------------------------------------- losses

def r1_penalty(d_fn, real: jax.Array, gamma: float) -> jax.Array:
  """R1 (Mescheder et al. 2018): gamma/2 * E_x ||grad_x D(x)||^2 over real images x (B, H, W, C)."""
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(real)
  return 0.5 * gamma * jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))


def generate_mixed(gen: StyleGenerator, params, key, batch: int, mixing_prob: float):
  """Training-time fakes with style-mixing regularisation. Returns (images (B,R,R,C), w of the first latents)."""
  k_z, k_mix, k_noise = jax.random.split(key, 3)
  z = jax.random.normal(k_z, (2, batch, gen.z_dim))
  w = gen.mapping(params, z.reshape(2 * batch, gen.z_dim)).reshape(2, batch, gen.w_dim)
  cut = random_crossover(k_mix, batch, gen.num_layers, mixing_prob)
  ws = style_mix(broadcast_layers(w[0], gen.num_layers), broadcast_layers(w[1], gen.num_layers), cut)
  return gen.synthesis(params, ws, k_noise, "random"), w[0]


def _d_loss(d_params, state: State, g_params, real, key):
  hp = state.hp
  k_fake, k_gp = jax.random.split(key)
  d_fn = lambda x: state.discriminator.apply({"params": d_params}, x)
  fake, _ = generate_mixed(state.generator, g_params, k_fake, real.shape[0], hp.style_mixing_prob)
  fake = jax.lax.stop_gradient(fake)
  logits = d_fn(jnp.concatenate([real, fake]))
  l_real, l_fake = jnp.split(logits, 2)
  if hp.loss == "logistic":
    adv = jnp.mean(jax.nn.softplus(l_fake)) + jnp.mean(jax.nn.softplus(-l_real))
    reg_name = "r1"
    # Amortised R1: on batch / r1_subsample reals each step (an unbiased estimate of E||grad D||^2 at 1/r1_subsample
    # of the cost), in place of StyleGAN2's lazy R1 on every r1_subsample-th step: the same saving with a static
    # program, where a lax.cond around the double backward runs ~25x slower on XLA:CPU.
    reg = r1_penalty(d_fn, real[:real.shape[0] // hp.r1_subsample], hp.r1_gamma)
  else:
    from jaxgen.families.gan import gradient_penalty
    adv = jnp.mean(l_fake) - jnp.mean(l_real)
    reg_name = "gp"
    reg = hp.gp_weight * gradient_penalty(d_fn, real, fake, k_gp)
  metrics = {"d_adv": adv, reg_name: reg, "d_real": jnp.mean(l_real), "d_fake": jnp.mean(l_fake)}
  return adv + reg, metrics


def _g_loss(g_params, state: State, d_params, batch: int, key):
  fake, w = generate_mixed(state.generator, g_params, key, batch, state.hp.style_mixing_prob)
  logits = state.discriminator.apply({"params": d_params}, fake)
  loss = jnp.mean(jax.nn.softplus(-logits)) if state.hp.loss == "logistic" else -jnp.mean(logits)
  return loss, w


def train_step(state: State, batch, key):
  """`critic_steps` discriminator updates, then one generator update, EMA and w_avg updates."""
  real = batch["x"].astype(jnp.float32)
  k_d, k_g = jax.random.split(key)

  def d_update(carry, k):
    d_params, d_opt_state = carry
    (loss, m), grads = jax.value_and_grad(_d_loss, has_aux=True)(d_params, state, state.g_params, real, k)
    updates, d_opt_state = state.d_tx.update(grads, d_opt_state, d_params)
    return (optax.apply_updates(d_params, updates), d_opt_state), {"d_loss": loss, **m}

  # A static Python loop, not lax.scan: convolutions inside XLA:CPU loop/cond bodies run an order of magnitude
  # slower than at top level, and critic_steps is a small constant.
  carry = (state.d_params, state.d_opt_state)
  for k in jax.random.split(k_d, state.hp.critic_steps):
    carry, d_metrics = d_update(carry, k)
  d_params, d_opt_state = carry

  (g_loss, w), grads = jax.value_and_grad(_g_loss, has_aux=True)(state.g_params, state, d_params, real.shape[0], k_g)
  updates, g_opt_state = state.g_tx.update(grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, updates)

  step = state.step + 1
  decay = jnp.minimum(state.hp.ema_decay, (1.0 + step) / (10.0 + step))   # warm-up as tf.train.ExponentialMovingAverage
  g_ema = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, state.g_ema, g_params)
  w_avg = jnp.where(state.step == 0, jnp.mean(w, axis=0),
                    state.hp.w_avg_beta * state.w_avg + (1 - state.hp.w_avg_beta) * jnp.mean(w, axis=0))
  new = state.replace(step=step, g_params=g_params, d_params=d_params, g_opt_state=g_opt_state,
                      d_opt_state=d_opt_state, g_ema=g_ema, w_avg=w_avg)
  return new, {"d_loss": d_metrics.pop("d_loss"), "g_loss": g_loss, **d_metrics}


# ---------------------------------------------------------------------------------------------------- sampling

def to_unit(x: jax.Array) -> jax.Array:
  """[-1, 1] images -> [0, 1], clipped."""
  return jnp.clip((x + 1.0) * 0.5, 0.0, 1.0)


@functools.partial(jax.jit, static_argnames=("generator",))
def _map(generator, params, z):
  return generator.mapping(params, z)


@functools.partial(jax.jit, static_argnames=("generator", "noise_mode"))
def _render(generator, params, w_plus, key, noise_mode):
  return to_unit(generator.synthesis(params, w_plus, key, noise_mode))


def render(state: State, w_plus: jax.Array, key, noise_mode: str = "random", chunk: int = 256) -> jax.Array:
  """EMA synthesis of W+ (N, L, D) -> images (N, R, R, C) in [0, 1], in chunks of `chunk` (memory)."""
  # "const" noise must be the same map in every chunk; "random" noise differs per sample, hence per chunk.
  outs = [_render(state.generator, state.g_ema, w_plus[i:i + chunk],
                  key if noise_mode == "const" else jax.random.fold_in(key, i), noise_mode)
          for i in range(0, w_plus.shape[0], chunk)]
  return jnp.concatenate(outs)


def map_z(state: State, z: jax.Array, chunk: int = 4096) -> jax.Array:
  return jnp.concatenate([_map(state.generator, state.g_ema, z[i:i + chunk]) for i in range(0, z.shape[0], chunk)])


def sample(state: State, key, num: int, truncation: float = 1.0, noise_mode: str = "random", **settings):
  """num images (num, R, R, C) in [0, 1]: z ~ N(0, I) -> EMA mapping -> truncation (psi) -> synthesis.

  Other config.sample settings (`SAMPLE_SETTINGS`) are accepted and used by `sample_outputs` only.
  """
  supported_options("stylegan `sample`", settings, SAMPLE_SETTINGS, f" (and {', '.join(OUTPUT_OPTIONS)} in sample.py)")
  _check_sample_settings({"noise_mode": noise_mode, **settings})
  k_z, k_noise = jax.random.split(key)
  w = map_z(state, jax.random.normal(k_z, (num, state.generator.z_dim)))
  w = truncate(w, state.w_avg, float(truncation))
  return render(state, broadcast_layers(w, state.generator.num_layers), k_noise, noise_mode)


def sample_latents(state: State, key, num: int) -> jax.Array:
  """num mapped w (num, w_dim) from the EMA mapping network, for PCA / boundary fitting."""
  return map_z(state, jax.random.normal(key, (num, state.generator.z_dim)))


def _classifier(config):
  """jaxgen's own classifier for the run's labelled data set (trained on first use, cached on disk)."""
  from jaxgen.metrics.classifier import get_classifier
  d = config.data
  return get_classifier(dataset=d.name, image_size=int(d.image_size), channels=int(d.channels), pad=int(d.pad),
                        data_dir=d.get("data_dir", ""), seed=0)


def find_direction(state: State, config, key, spec: str, settings: Optional[dict] = None):
  """'pca:K' -> (unit direction (D,), std of w along it, description); 'boundary:LABEL' likewise (InterFaceGAN).

  pca:K     K-th principal component (0-based) of `sample.pca_samples` mapped w.
  boundary:LABEL  unit normal of a logistic-regression boundary between mapped w whose synthesised image the
            data set's classifier calls class LABEL and the others (`sample.boundary_samples` samples, no
            truncation) - InterFaceGAN with a classifier as the labeller.
  """
  kind, _, arg = str(spec).partition(":")
  settings = config.sample.to_dict() if settings is None else settings
  if kind == "pca":
    try:
      k = int(arg)
    except ValueError:
      raise JaxgenError(f"direction={spec!r} is not allowed; write 'pca:K' with K an integer >= 0.") from None
    w = sample_latents(state, key, int(settings.get("pca_samples", 10000)))
    check(0 <= k < min(w.shape), f"direction={spec!r}: K must be in [0, {min(w.shape) - 1}].")
    pca = directions_lib.pca_directions(w, k + 1)
    return pca.components[k], pca.std[k], (f"PC{k}: {float(pca.explained_variance_ratio[k]):.1%} of the variance")
  if kind == "boundary":
    name = config.data.name
    if name not in CLASSIFIED_DATA:
      raise JaxgenError(
          f"direction={spec!r} labels generated images with jaxgen's own class classifier, which exists for "
          f"data.name in {', '.join(CLASSIFIED_DATA)}; there is no attribute classifier offline for {name!r} "
          f"(e.g. CelebA attributes). Use direction='pca:K', or fit `jaxgen.latent.directions.linear_boundary` on "
          f"your own (w, attribute label) pairs.")
    try:
      label = int(arg)
    except ValueError:
      raise JaxgenError(f"direction={spec!r} is not allowed; write 'boundary:LABEL' with LABEL a class 0-9.") from None
    check(0 <= label <= 9, f"direction={spec!r}: LABEL must be a class 0-9.")
    w, labels = labelled_latents(state, config, key, int(settings.get("boundary_samples", 4000)))
    check(bool(np.any(labels == label)) and bool(np.any(labels != label)),
          f"direction={spec!r}: the classifier found no generated sample of class {label} (or only those); "
          f"train longer or raise sample.boundary_samples.")
    b = directions_lib.linear_boundary(w, labels == label)
    std = jnp.std(w @ b.normal)
    return b.normal, std, f"boundary digit {label}: balanced train accuracy {float(b.accuracy):.3f}"
  raise JaxgenError(f"direction={spec!r} is not allowed; choose 'pca:K' or 'boundary:LABEL'.")


def labelled_latents(state: State, config, key, num: int):
  """(w (num, w_dim), class labels (num,)): mapped samples and the classifier's argmax on their images."""
  k_w, k_noise = jax.random.split(key)
  w = sample_latents(state, k_w, num)
  images = render(state, broadcast_layers(w, state.generator.num_layers), k_noise, "random")
  probs = _classify(config, images)
  return w, np.asarray(jnp.argmax(probs, axis=-1))


def _classify(config, images_unit):
  """Classifier class probabilities (N, classes) for images in [0, 1] (N, R, R, C)."""
  return _classifier(config).probabilities(np.asarray(images_unit))


def sample_outputs(state: State, config, key, num: int, options: dict) -> dict:
  """What sample.py writes for the user's options (see OUTPUT_OPTIONS):

  truncation=psi       every output below uses w_avg + psi (w - w_avg) (default config.sample.truncation).
  interpolate=N        num rows of N frames: lerp in W between two samples (slerp in Z if sample.interp_space='z').
  direction=SPEC       num rows x len(alphas) columns: w + alpha * d on the layers of sample.edit_layers, alpha in
                       standard deviations of w along d (sample.alpha_units='std') or raw units ('raw').
                       SPEC 'pca:K' | 'boundary:LABEL'; two specs joined by ',' give one rows x columns grid
                       composing both directions on the first sample.
  alphas='lo:hi:n'     the alpha values (default '-4:4:7').
  mix_crossover=L      style mixing: an (n+1) x (n+1) grid, n = floor(sqrt(num)): first column sources A, first row
                       sources B, cell (i, j) = layers [0, L) from A_i and [L, num_layers) from B_j.
  Returns {"samples": (M, R, R, C) in [0, 1], "ncols": int}.
  """
  supported_options("stylegan", options, tuple(OUTPUT_OPTIONS) + tuple(SAMPLE_SETTINGS))
  settings = {**config.sample.to_dict(), **{k: v for k, v in options.items() if k in SAMPLE_SETTINGS}}
  _check_sample_settings(settings)
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

  if not modes:
    return {"samples": sample(state, key, num, **{**settings, "truncation": psi})}

  # Edits and interpolations share one noise map per layer so that only the latent changes along a row.
  frames_mode = "const" if noise_mode == "random" else noise_mode
  if "interpolate" in options:
    frames = int(options["interpolate"])
    check(frames >= 2, f"interpolate={frames} is not allowed; choose at least 2 frames.")
    from jaxgen.latent import interpolate as interp
    z = jax.random.normal(k_z, (2, num, gen.z_dim))
    t = jnp.linspace(0.0, 1.0, frames)
    if settings.get("interp_space", "w") == "z":
      zs = jax.vmap(lambda ti: interp.slerp(z[0], z[1], ti), out_axes=1)(t)          # (num, frames, z_dim)
      w = map_z(state, zs.reshape(-1, gen.z_dim))
    else:
      w0, w1 = map_z(state, z[0]), map_z(state, z[1])
      w = jax.vmap(lambda ti: interp.lerp(w0, w1, ti), out_axes=1)(t).reshape(-1, gen.w_dim)
    images = render(state, broadcast_layers(trunc(w), num_layers), k_noise, frames_mode)
    return {"samples": images, "ncols": frames}

  if "mix_crossover" in options:
    cross = int(options["mix_crossover"])
    check(0 <= cross <= num_layers, f"mix_crossover={cross} is not allowed; choose 0..{num_layers}.")
    n = max(1, math.isqrt(num))
    w = trunc(map_z(state, jax.random.normal(k_z, (2 * n, gen.z_dim))))
    wa, wb = broadcast_layers(w[:n], num_layers), broadcast_layers(w[n:], num_layers)
    mixed = style_mix(wa[:, None], wb[None, :], cross).reshape(n * n, num_layers, gen.w_dim)
    images = render(state, jnp.concatenate([wa, wb, mixed]), k_noise, frames_mode)
    a, b, cells = images[:n], images[n:2 * n], images[2 * n:].reshape(n, n, *images.shape[1:])
    top = jnp.concatenate([jnp.ones_like(a[:1]), b])                                  # blank corner, then B
    rows = jnp.concatenate([a[:, None], cells], axis=1)                               # A_i, then its mixes
    return {"samples": jnp.concatenate([top, rows.reshape(-1, *images.shape[1:])]), "ncols": n + 1}

  alphas = edits_lib.parse_alphas(options.get("alphas", "-4:4:7"))
  weights = edits_lib.layer_weights(num_layers, settings.get("edit_layers"))
  specs = str(options["direction"]).split(",")
  check(len(specs) in (1, 2), f"direction={options['direction']!r}: give one direction or two joined by ','.")
  dirs = []
  for i, spec in enumerate(specs):
    d, std, _ = find_direction(state, config, jax.random.fold_in(k_dir, i), spec.strip(), settings)
    dirs.append(d * (std if settings.get("alpha_units", "std") == "std" else 1.0))
  w = broadcast_layers(trunc(map_z(state, jax.random.normal(k_z, (num, gen.z_dim)))), num_layers)
  if len(dirs) == 1:
    edited = edits_lib.sweep(w, dirs[0], alphas, weights)                             # (num, A, L, D)
  else:
    edited = edits_lib.grid(w[0], dirs[0], dirs[1], alphas, alphas, weights)          # (A, A, L, D)
  images = render(state, edited.reshape(-1, num_layers, gen.w_dim), k_noise, frames_mode)
  return {"samples": images, "ncols": len(alphas)}


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
