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


def rates_at(schedule: Schedule, t, x: jnp.ndarray) -> Tuple[jnp.ndarray, jnp.ndarray]:
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
  noise_rates, signal_rates = rates_at(schedule, t, x_t)
  eps_hat = eps_fn(x_t, noise_rates, signal_rates)
  x0_hat = predict_x0(x_t, eps_hat, noise_rates, signal_rates)
  next_noise_rates, next_signal_rates = rates_at(schedule, t_next, x_t)
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
  noise_rates, signal_rates = rates_at(schedule, t, x_t)
  _, next_signal_rates = rates_at(schedule, t_next, x_t)
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


def check_refine(refine) -> int:
  """`refine` (fixed-point iterations per inversion step) as a Python int >= 0; JaxgenError otherwise."""
  if not isinstance(refine, int) or isinstance(refine, bool) or refine < 0:
    raise JaxgenError(f"refine={refine!r} must be an integer >= 0 (fixed-point iterations per inversion step).")
  return refine


def ddim_invert(eps_fn: EpsFn, x0: jnp.ndarray, schedule: Schedule, steps: int, refine: int = 0) -> jnp.ndarray:
  """DDIM inversion: the noise x_T that `ddim(eps_fn, x_T, schedule, steps)` maps (back) to the data x0.

  In the EDM variables sigma = noise_rate / signal_rate, x~ = x / signal_rate, `ddim`'s step k is Euler's method
  x~_{k+1} = x~_k + (sigma_{k+1} - sigma_k) eps_hat(x~_k, t_k) on its times t_k = 1 - k/steps, and its output (the
  last x0_hat) is the step to sigma_steps = 0. Inversion runs these steps backwards from x~_steps = x0: the
  reversed update x~_k = x~_{k+1} + (sigma_k - sigma_{k+1}) eps_hat(x~_{k+1}, t_k) takes eps at the point it has
  and the time it goes to (so the first step needs no prediction at noise 0, and for offset_cosine none below
  the schedule's range). Its error per step is O(step^2) where eps varies with x; `refine` > 0 fixed-point
  iterations x~_k <- x~_{k+1} + (sigma_k - sigma_{k+1}) eps_hat(x~_k, t_k) solve the implicit step exactly (they
  converge where |sigma_k - sigma_{k+1}| times eps_hat's Lipschitz constant is below 1). NFE: steps (1 + refine).

  x0: (n, ...) in the model's normalised data space. Returns x_T (n, ...), the VP state at t = 1.
  """
  steps, refine = check_steps(steps), check_refine(refine)
  t, _ = step_times(steps)
  noise, signal = schedule(t)
  sigmas = noise / signal
  sigmas_after = jnp.concatenate([sigmas[1:], jnp.zeros((1,), sigmas.dtype)])   # sigma_{k+1}; 0 after the last
  t_after = jnp.concatenate([t[1:], t[-1:]])          # the time of x~_{k+1}; the data's (sigma 0) taken as t_{N-1}

  def eps_tilde(x_tilde, t_k):
    noise_rates, signal_rates = rates_at(schedule, t_k, x_tilde)
    return eps_fn(signal_rates * x_tilde, noise_rates, signal_rates)

  def body(x_tilde, inputs):                                  # x~_{k+1} -> x~_k
    t_k, t_k_after, sigma_k, sigma_after = inputs
    x_k = x_tilde + (sigma_k - sigma_after) * eps_tilde(x_tilde, t_k_after)
    for _ in range(refine):
      x_k = x_tilde + (sigma_k - sigma_after) * eps_tilde(x_k, t_k)
    return x_k, None

  x_tilde, _ = jax.lax.scan(body, x0, (t, t_after, sigmas, sigmas_after), reverse=True)
  _, signal_T = rates_at(schedule, 1.0, x0)
  return signal_T * x_tilde
