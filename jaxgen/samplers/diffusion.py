"""Reverse diffusion as pure functions over `lax.scan` (docs/design.md §4, docs/reference.md §8): `ddim` (the
reference's deterministic steps) and `ddpm` (ancestral), for any schedule of `jaxgen.samplers.schedules` and any

    eps_fn(x_t, noise_rates, signal_rates) -> eps_hat          # same shape as x_t: (n, ...), rates (n, 1, ..., 1)

Both return the last prediction of the clean data, x0_hat at t = 1/steps (the reference's `reverse_diffusion`
returns it, quirk #8): with the offset-cosine schedule t = 0 still carries noise rate sqrt(1 - 0.95^2) ~ 0.31, and
for DDPM with abar(0) = 1 (the linear schedule) the last ancestral step's mean *is* x0_hat and its posterior
variance is 0, so nothing is lost.
"""
from typing import Callable, Tuple

import jax
import jax.numpy as jnp

from jaxgen.errors import JaxgenError
from jaxgen.samplers.schedules import Schedule

EpsFn = Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]


def _rates(schedule: Schedule, t, x: jnp.ndarray) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """Schedule rates at scalar time `t`, shaped (n, 1, ..., 1) for `x` of shape (n, ...)."""
  shape = (x.shape[0],) + (1,) * (x.ndim - 1)
  noise_rates, signal_rates = schedule(jnp.full(shape, t, jnp.float32))
  return noise_rates, signal_rates


def check_steps(steps) -> int:
  """`steps` as a Python int (NumPy integers too; static under jit); JaxgenError unless a positive integer."""
  steps = int(steps) if isinstance(steps, jnp.integer) else steps
  if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
    raise JaxgenError(f"steps={steps!r} must be a positive integer (the number of reverse diffusion steps).")
  return steps


def step_times(steps: int) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """(t, t_next) for each of `steps` reverse steps: t_k = 1 - k/steps, t_next = t_k - 1/steps. float32 (steps,)."""
  step_size = 1.0 / steps
  t = 1.0 - jnp.arange(steps, dtype=jnp.float32) * step_size
  return t, t - step_size


def q_sample(x0: jnp.ndarray, t: jnp.ndarray, eps: jnp.ndarray, schedule: Schedule) -> jnp.ndarray:
  """The forward process q(x_t | x_0): x_t = signal_rate(t) x0 + noise_rate(t) eps.

  x0, eps: (n, ...); t: (n,) times in [0, 1] (or already broadcastable to x0).
  """
  t = jnp.asarray(t, jnp.float32)
  if t.ndim == 1:
    t = t.reshape((-1,) + (1,) * (x0.ndim - 1))
  noise_rates, signal_rates = schedule(t)
  return signal_rates * x0 + noise_rates * eps


def predict_x0(x_t, eps_hat, noise_rates, signal_rates):
  """x0_hat = (x_t - noise_rate eps_hat) / signal_rate (the reference's `denoise`)."""
  return (x_t - noise_rates * eps_hat) / signal_rates


def ddim_step(eps_fn: EpsFn, x_t: jnp.ndarray, t, t_next, schedule: Schedule):
  """One deterministic DDIM step from time t to t_next < t. Returns (x_{t_next}, x0_hat, eps_hat)."""
  noise_rates, signal_rates = _rates(schedule, t, x_t)
  eps_hat = eps_fn(x_t, noise_rates, signal_rates)
  x0_hat = predict_x0(x_t, eps_hat, noise_rates, signal_rates)
  next_noise_rates, next_signal_rates = _rates(schedule, t_next, x_t)
  x_next = next_signal_rates * x0_hat + next_noise_rates * eps_hat
  return x_next, x0_hat, eps_hat


def ddim(eps_fn: EpsFn, x_T: jnp.ndarray, schedule: Schedule, steps: int, return_all: bool = False):
  """Deterministic reverse diffusion (DDIM with η = 0, the reference's `reverse_diffusion`) over `lax.scan`.

  eps_fn(x_t, noise_rates, signal_rates) -> ε̂: x_t (n, ...), rates (n, 1, ..., 1); e.g. a trained run's
  `jaxgen.families.diffusion.eps_fn(run.state)` (its EMA network). x_T: the starting noise, N(0, I) of shape
  (n, ...). schedule: t in [0, 1] -> (noise_rates, signal_rates) (`jaxgen.samplers.schedules`, or a run's
  `run.state.hp.schedule_fn()`). steps: static positive int (1 is a single denoising step; 20 is the
  reference's). Returns the last x0_hat, shape of x_T, in the model's data space (for a diffusion run the
  normalised one: `diffusion.denormalize(run.state, x0)` gives images in [0, 1]); with `return_all`, also the
  stacked (x0_hats, xs) of every step, each (steps, n, ...). The same x_T always gives the same output.
  """
  steps = check_steps(steps)

  def body(x, times):
    t, t_next = times
    x_next, x0_hat, _ = ddim_step(eps_fn, x, t, t_next, schedule)
    return x_next, (x0_hat, x_next) if return_all else x0_hat

  _, out = jax.lax.scan(body, x_T, step_times(steps))
  if return_all:
    return out[0][-1], out
  return out[-1]


def ddpm_step(eps_fn: EpsFn, x_t: jnp.ndarray, t, t_next, key: jax.Array, schedule: Schedule,
              variance: str = "posterior"):
  """One ancestral DDPM step from time t to t_next < t. Returns (x_{t_next}, x0_hat, eps_hat).

  alpha = abar(t)/abar(t_next), beta = 1 - alpha; x_next = (x_t - beta/sqrt(1 - abar(t)) eps_hat)/sqrt(alpha)
  + sigma z with sigma^2 = beta (1 - abar(t_next))/(1 - abar(t)) ("posterior") or beta ("beta").
  """
  noise_rates, signal_rates = _rates(schedule, t, x_t)
  _, next_signal_rates = _rates(schedule, t_next, x_t)
  eps_hat = eps_fn(x_t, noise_rates, signal_rates)
  abar_t, abar_next = signal_rates ** 2, next_signal_rates ** 2
  alpha = abar_t / abar_next
  beta = 1.0 - alpha
  mean = (x_t - beta / noise_rates * eps_hat) / jnp.sqrt(alpha)
  if variance == "posterior":
    sigma2 = beta * (1.0 - abar_next) / (noise_rates ** 2)
  elif variance == "beta":
    sigma2 = beta
  else:
    raise JaxgenError(f"variance={variance!r} is not allowed; choose 'posterior' or 'beta'.")
  z = jax.random.normal(key, x_t.shape, x_t.dtype)
  x_next = mean + jnp.sqrt(jnp.maximum(sigma2, 0.0)) * z
  return x_next, predict_x0(x_t, eps_hat, noise_rates, signal_rates), eps_hat


def ddpm(eps_fn: EpsFn, x_T: jnp.ndarray, key: jax.Array, schedule: Schedule, steps: int,
         variance: str = "posterior"):
  """Ancestral sampling (Ho et al. 2020) over `lax.scan`, `steps` equal steps from t = 1 to 0.

  eps_fn, x_T (N(0, I) noise (n, ...)) and schedule as `ddim`; key: a raw PRNG key for the per-step noise (split
  once per step); steps: static positive int (ancestral sampling wants more than DDIM, e.g. 100-1000);
  variance: "posterior" (σ² = β̃, the posterior's) or "beta" (σ² = β). Returns the last x0_hat (at t = 1/steps),
  shape of x_T, in the model's data space as `ddim`. With abar(0) = 1 this equals the last ancestral step's
  output (its posterior variance is 0).
  """
  steps = check_steps(steps)
  if variance not in ("posterior", "beta"):
    raise JaxgenError(f"variance={variance!r} is not allowed; choose 'posterior' or 'beta'.")
  t, t_next = step_times(steps)

  def body(x, inputs):
    t, t_next, step_key = inputs
    x_next, x0_hat, _ = ddpm_step(eps_fn, x, t, t_next, step_key, schedule, variance)
    return x_next, x0_hat

  _, x0_hats = jax.lax.scan(body, x_T, (t, t_next, jax.random.split(key, steps)))
  return x0_hats[-1]
