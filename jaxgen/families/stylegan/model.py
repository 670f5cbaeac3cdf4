"""The stylegan family's hyperparameters, State, config checks and network construction."""
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct

from jaxgen.config import RENAMED_KEYS
from jaxgen.errors import JaxgenError, check, choice
from jaxgen.nn import policy, stylegan2, stylegan_compact

ARCHS = ("compact", "stylegan2_ada")
LOSSES = ("logistic", "wgan_gp")
# Old key -> new key: rejected with a "did you mean" (the shared renames plus this family's own).
RENAMED = {**RENAMED_KEYS, "sample.edit_layers": "sample.layer_weights"}
# Keys added with model.arch; a config without them (e.g. recorded by an earlier jaxgen) gets a clear error.
ADDED_KEYS = {"arch": "'compact'", "conv_clamp": "0.0", "ema_warmup": "True", "inference_only": "False"}


@dataclasses.dataclass(frozen=True)
class HParams:
  """What `train_step` needs besides the State's leaves (hashable, static under jit); built from config.model."""
  loss: str
  r1_gamma: float
  r1_subsample: int
  gp_weight: float
  n_critic: int
  style_mixing_prob: float
  ema_decay: float
  ema_warmup: bool
  w_avg_beta: float

  @classmethod
  def from_config(cls, config) -> "HParams":
    m = config.model
    return cls(loss=str(m.loss), r1_gamma=float(m.r1_gamma), r1_subsample=int(m.r1_subsample),
               gp_weight=float(m.gp_weight), n_critic=int(m.n_critic), style_mixing_prob=float(m.style_mixing_prob),
               ema_decay=float(m.ema_decay), ema_warmup=bool(m.ema_warmup), w_avg_beta=float(m.w_avg_beta))


@struct.dataclass
class State:
  step: jax.Array
  g_params: Any                  # {} for an inference-only (converted) run
  d_params: Any                  # {} for an inference-only run
  g_opt_state: Any
  d_opt_state: Any
  g_ema: Any                     # EMA of g_params: used for sampling
  w_avg: jax.Array               # (w_dim,) running average of mapped w: the truncation centre
  generator: Any = struct.field(pytree_node=False)       # StyleGenerator | StyleGAN2ADAGenerator
  discriminator: Any = struct.field(pytree_node=False)   # None for an inference-only run
  g_tx: Any = struct.field(pytree_node=False)
  d_tx: Any = struct.field(pytree_node=False)
  hp: HParams = struct.field(pytree_node=False)


def _check_renamed(config) -> None:
  for old, new in RENAMED.items():
    section, key = old.split(".")
    if key in config[section]:
      raise JaxgenError(f"config key {old} was renamed; did you mean {new}?")
  for key, value in ADDED_KEYS.items():
    check(key in config.model, f"config key model.{key} is missing; add it (model.{key} = {value} keeps the "
          f"behaviour of runs made before it existed).")


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Stylegan-specific checks; raises JaxgenError naming the bad value and what is allowed."""
  _check_renamed(config)
  m, d = config.model, config.data
  res = int(d.image_size)
  check(res >= 4 and res & (res - 1) == 0,
        f"data.image_size={res} is not allowed for stylegan; choose a power of two >= 4 (16, 32, 64, ...).")
  check(d.range == "symmetric", f"data.range={d.range!r} is not allowed for stylegan; use 'symmetric' ([-1, 1]).")
  choice("model.arch", m.arch, ARCHS)
  choice("model.loss", m.loss, LOSSES)
  check(int(m.mapping_layers) >= 1, f"model.mapping_layers={m.mapping_layers!r} must be >= 1.")
  c_dim = m.get("c_dim", 0)
  check(isinstance(c_dim, int) and c_dim >= 0, f"model.c_dim={c_dim!r} must be an integer >= 0.")
  check(c_dim == 0 or (m.arch == "stylegan2_ada" and m.inference_only),
        f"model.c_dim={c_dim} (a conditional generator) is supported for converted StyleGAN2-ADA generators only "
        "(model.arch='stylegan2_ada', model.inference_only=True); train with model.c_dim=0.")
  check(float(m.conv_clamp) >= 0, f"model.conv_clamp={m.conv_clamp!r} must be >= 0 (0: no clamping).")
  check(0.0 <= float(m.style_mixing_prob) <= 1.0, f"model.style_mixing_prob={m.style_mixing_prob!r} must be in [0, 1].")
  check(int(m.r1_subsample) >= 1 and config.train.batch_size % int(m.r1_subsample) == 0,
        f"model.r1_subsample={m.r1_subsample!r} must be >= 1 and divide train.batch_size={config.train.batch_size}.")
  check(float(m.r1_gamma) >= 0, f"model.r1_gamma={m.r1_gamma!r} must be >= 0.")
  check(int(m.n_critic) >= 1, f"model.n_critic={m.n_critic!r} must be >= 1.")
  check(0.0 <= float(m.ema_decay) < 1.0, f"model.ema_decay={m.ema_decay!r} must be in [0, 1).")
  group = min(int(m.mbstd_group), int(config.train.batch_size))
  check(config.train.batch_size % group == 0,
        f"train.batch_size={config.train.batch_size} must be divisible by the minibatch-stddev group "
        f"model.mbstd_group={m.mbstd_group}.")
  check_sample_settings(config.sample.to_dict())


def check_sample_settings(settings: dict) -> None:
  if "noise_mode" in settings:
    choice("sample.noise_mode", settings["noise_mode"], stylegan2.NOISE_MODES)
  if "alpha_units" in settings:
    choice("sample.alpha_units", settings["alpha_units"], ("std", "raw"))
  if "interp_space" in settings:
    choice("sample.interp_space", settings["interp_space"], ("w", "z"))


def build_networks(config):
  """(generator, discriminator) from a config: the generator of model.arch, jaxgen's residual discriminator."""
  m, d = config.model, config.data
  res = int(d.image_size)
  args = (res, int(d.channels), int(m.z_dim), int(m.w_dim), int(m.mapping_layers), float(m.mapping_lr_mul),
          int(m.channel_base), int(m.channel_max))
  if m.arch == "stylegan2_ada":
    gen = stylegan2.StyleGAN2ADAGenerator(stylegan2.Generator(*args, float(m.conv_clamp) or None,
                                                              int(m.get("c_dim", 0))))
  else:
    gen = stylegan_compact.StyleGenerator(stylegan_compact.Generator(*args))
  disc = stylegan_compact.Discriminator(res, int(m.channel_base), int(m.channel_max), int(m.mbstd_group))
  # model.dtype / model.conv_impl (jaxgen.nn.policy) on both networks; parameters stay float32.
  return type(gen)(policy.configure(gen.net, config)), policy.configure(disc, config)


def make_optimizer(config) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
  """(g_tx, d_tx): the same Adam(lr, b1, b2, eps) for both networks."""
  o = config.optim
  adam = lambda: optax.adam(float(o.learning_rate), b1=float(o.b1), b2=float(o.b2), eps=float(o.eps))
  return adam(), adam()


def init(config, key, example_batch) -> State:
  """A fresh State. model.inference_only (set by jaxgen.convert): only g_ema and w_avg, no discriminator/optimizers."""
  validate_config(config)
  gen, disc = build_networks(config)
  k_g, k_d = jax.random.split(key)
  g_params = gen.init(k_g)
  g_tx, d_tx = make_optimizer(config)
  w_avg = jnp.zeros((gen.w_dim,), jnp.float32)
  if config.model.inference_only:
    return inference_state(config, g_params, w_avg)
  hp = HParams.from_config(config)
  step = jnp.zeros((), jnp.int32)
  x = jnp.asarray(example_batch["x"][:2], jnp.float32)
  d_params = disc.init(k_d, x)["params"]
  return State(step, g_params, d_params, g_tx.init(g_params), d_tx.init(d_params), jax.tree.map(jnp.array, g_params),
               w_avg, gen, disc, g_tx, d_tx, hp)


def inference_state(config, g_ema, w_avg) -> State:
  """The State of an inference-only run (model.inference_only): generator parameters `g_ema` and `w_avg` (w_dim,)
  only; no discriminator, no optimizer state (what jaxgen.convert writes)."""
  gen, _ = build_networks(config)
  g_tx = d_tx = make_optimizer(config)[0]
  return State(jnp.zeros((), jnp.int32), {}, {}, (), (), g_ema, jnp.asarray(w_avg, jnp.float32), gen, None, g_tx,
               d_tx, HParams.from_config(config))
