"""The stylegan family's losses and train step.

Losses  "logistic": non-saturating logistic, D: softplus(D(G(z))) + softplus(-D(x)) + R1;
        R1 = gamma/2 * E_x ||grad_x D(x)||^2 on batch / `r1_subsample` reals per step (amortised, see d_loss).
        "wgan_gp": the GAN family's WGAN-GP critic objective (W-distance + gp_weight * gradient penalty).
        D runs on the reals and on the fakes in two separate calls (as StyleGAN2 does), so its minibatch-stddev
        groups never mix real and generated images.
Training  `n_critic` D updates, then one G update with style-mixing regularisation (probability
        `style_mixing_prob`); running average of w (the truncation centre); EMA of G's parameters (for sampling).
Departures from StyleGAN2 (docs/reference.md §11): R1 and the adversarial loss share one Adam step (amortised R1 on
a batch slice instead of lazy R1); no path-length regularisation.
"""
import jax
import jax.numpy as jnp

from jaxgen.errors import JaxgenError
from jaxgen.families.gan import gradient_penalty
from jaxgen.families.stylegan.model import State
from jaxgen.latent.mixing import broadcast_layers, random_crossover, style_mix
from jaxgen.nn.updates import apply_gradients, ema_decay, ema_update

LOSS_KEYS = ("d_loss", "g_loss")


def r1_penalty(d_fn, real: jax.Array, gamma: float) -> jax.Array:
  """R1 (Mescheder et al. 2018): gamma/2 * E_x ||grad_x D(x)||^2 over real images x (B, H, W, C)."""
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(real)
  return 0.5 * gamma * jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))


def generate_mixed(gen, params, key, batch: int, mixing_prob: float):
  """Training-time fakes with style-mixing regularisation. Returns (images (B,R,R,C), w of the first latents)."""
  k_z, k_mix, k_noise = jax.random.split(key, 3)
  z = jax.random.normal(k_z, (2, batch, gen.z_dim))
  w = gen.mapping(params, z.reshape(2 * batch, gen.z_dim)).reshape(2, batch, gen.w_dim)
  cut = random_crossover(k_mix, batch, gen.num_layers, mixing_prob)
  ws = style_mix(broadcast_layers(w[0], gen.num_layers), broadcast_layers(w[1], gen.num_layers), cut)
  return gen.synthesis(params, ws, k_noise, "random"), w[0]


def d_loss(d_params, state: State, g_params, real, key):
  """The discriminator's loss and metrics (d_adv, r1 | gp, d_real, d_fake) for reals (B, R, R, C)."""
  hp = state.hp
  k_fake, k_gp = jax.random.split(key)
  d_fn = lambda x: state.discriminator.apply({"params": d_params}, x)
  fake, _ = generate_mixed(state.generator, g_params, k_fake, real.shape[0], hp.style_mixing_prob)
  fake = jax.lax.stop_gradient(fake)
  l_real, l_fake = d_fn(real), d_fn(fake)
  if hp.loss == "logistic":
    adv = jnp.mean(jax.nn.softplus(l_fake)) + jnp.mean(jax.nn.softplus(-l_real))
    reg_name = "r1"
    # Amortised R1: on batch / r1_subsample reals each step (an unbiased estimate of E||grad D||^2 at 1/r1_subsample
    # of the cost), in place of StyleGAN2's lazy R1 on every r1_subsample-th step: the same saving with a static
    # program (a lax.cond around the double backward is far slower on XLA:CPU).
    reg = r1_penalty(d_fn, real[:real.shape[0] // hp.r1_subsample], hp.r1_gamma)
  else:
    adv = jnp.mean(l_fake) - jnp.mean(l_real)
    reg_name = "gp"
    reg = hp.gp_weight * gradient_penalty(d_fn, real, fake, k_gp)
  metrics = {"d_adv": adv, reg_name: reg, "d_real": jnp.mean(l_real), "d_fake": jnp.mean(l_fake)}
  return adv + reg, metrics


def g_loss(g_params, state: State, d_params, batch: int, key):
  """The generator's loss on style-mixed fakes, and the mapped w of the batch (for w_avg)."""
  fake, w = generate_mixed(state.generator, g_params, key, batch, state.hp.style_mixing_prob)
  logits = state.discriminator.apply({"params": d_params}, fake)
  loss = jnp.mean(jax.nn.softplus(-logits)) if state.hp.loss == "logistic" else -jnp.mean(logits)
  return loss, w


def train_step(state: State, batch, key):
  """`n_critic` discriminator updates, then one generator update, EMA and w_avg updates."""
  if state.discriminator is None:
    raise JaxgenError("this run is inference-only (model.inference_only, e.g. converted from a pretrained pickle): "
                      "it has no discriminator or optimizer state to train; train a new run from a config instead.")
  real = batch["x"].astype(jnp.float32)
  hp = state.hp
  k_d, k_g = jax.random.split(key)
  d_params, d_opt_state = state.d_params, state.d_opt_state
  # A static Python loop, not lax.scan: convolutions inside XLA:CPU loop/cond bodies run an order of magnitude
  # slower than at top level, and n_critic is a small constant.
  for k in jax.random.split(k_d, hp.n_critic):
    (loss, d_metrics), grads = jax.value_and_grad(d_loss, has_aux=True)(d_params, state, state.g_params, real, k)
    d_params, d_opt_state = apply_gradients(state.d_tx, d_params, d_opt_state, grads)

  (gl, w), grads = jax.value_and_grad(g_loss, has_aux=True)(state.g_params, state, d_params, real.shape[0], k_g)
  g_params, g_opt_state = apply_gradients(state.g_tx, state.g_params, state.g_opt_state, grads)
  g_ema = ema_update(state.g_ema, g_params, ema_decay(state.step + 1, hp.ema_decay, hp.ema_warmup))
  w_mean = jnp.mean(w, axis=0)
  w_avg = jnp.where(state.step == 0, w_mean, hp.w_avg_beta * state.w_avg + (1 - hp.w_avg_beta) * w_mean)
  new = state.replace(step=state.step + 1, g_params=g_params, d_params=d_params, g_opt_state=g_opt_state,
                      d_opt_state=d_opt_state, g_ema=g_ema, w_avg=w_avg)
  return new, {"d_loss": loss, "g_loss": gl, **d_metrics}
