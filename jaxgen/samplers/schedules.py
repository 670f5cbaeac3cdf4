"""Diffusion schedules as functions of continuous diffusion time t in [0, 1].

Every schedule maps an array of times `t` (any shape) to `(noise_rates, signal_rates)` of the same shape: the
amplitudes in the forward process

    x_t = signal_rate(t) * x_0 + noise_rate(t) * eps,      eps ~ N(0, I).

Time runs from t = 0 (data side) to t = 1 (noise side); signal rates decrease and noise rates increase with t.

All three (`linear`, `cosine`, `offset_cosine`) are variance preserving: signal^2 + noise^2 = 1, so
`alpha_bar(t) = signal_rate(t)**2` is the DDPM cumulative product abar_t. Their end points (signal at t = 0 and
t = 1): linear 1 and sqrt(abar_1000) = 6.38e-3; cosine the same (see `cosine`); offset_cosine 0.95 and 0.02.
No schedule reaches signal 0: the samplers start at t = 1 with an eps-prediction model, whose first x0 estimate
(x_t - noise eps_hat) / signal divides by signal_rate(1), so any error of eps_hat is multiplied by 1/signal_rate(1).

The linear-beta schedule of DDPM (beta from 1e-4 to 0.02 over T = 1000 steps) is made continuous as follows: the
reference evaluates betas on the grid t_i = i / T (i = 0..T-1) and takes abar_i = prod_{j<=i} (1 - beta_j). Here
abar(k / T) = prod_{j<k} (1 - beta_j) for k = 0..T, i.e. abar(0) = 1 (clean data, DDPM's x_0) and abar((i+1)/T)
is the reference's abar_i (DDPM's step t = i + 1); between grid points log(abar) is interpolated linearly (beta held
constant on each cell), so abar is continuous and strictly decreasing and any step count can use it: DDPM's
alpha_t / beta_t between two chosen times s < t are the ratios alpha = abar(t) / abar(s), beta = 1 - alpha.
"""
from typing import Callable, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.errors import JaxgenError

Schedule = Callable[[jnp.ndarray], Tuple[jnp.ndarray, jnp.ndarray]]

# DDPM linear beta schedule constants (Ho et al. 2020; the reference's `linear_diffusion_schedule`).
LINEAR_T = 1000
LINEAR_BETA_MIN = 1e-4
LINEAR_BETA_MAX = 0.02


def linear_betas(num_steps: int = LINEAR_T, beta_min: float = LINEAR_BETA_MIN,
                 beta_max: float = LINEAR_BETA_MAX) -> np.ndarray:
  """The reference's betas on the grid t_i = i / T, i = 0..T-1: beta_min + t_i (beta_max - beta_min). float64 (T,)."""
  t = np.arange(num_steps, dtype=np.float64) / num_steps
  return beta_min + t * (beta_max - beta_min)


def _linear_log_alpha_bar_grid(num_steps: int = LINEAR_T) -> np.ndarray:
  """log abar(k / T) for k = 0..T: the cumulative sum of log(1 - beta) with a leading 0. float64 (T + 1,)."""
  return np.concatenate([[0.0], np.cumsum(np.log1p(-linear_betas(num_steps)))])


_LINEAR_LOG_ABAR = _linear_log_alpha_bar_grid()


def linear(t: jnp.ndarray) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """DDPM's linear-beta schedule in continuous time: (sqrt(1 - abar(t)), sqrt(abar(t))).

  abar(k / T) is the product of the first k factors (1 - beta_j) of the reference's T = 1000 grid (see the module
  docstring); log abar is piecewise linear in t between grid points. VP: signal^2 + noise^2 = 1.
  """
  t = jnp.asarray(t, jnp.float32)
  # Linear interpolation on the uniform grid k / T by index arithmetic (as jnp.interp, clamped to [0, 1]; a
  # gather compiles and runs faster than interp's search).
  position = jnp.clip(t, 0.0, 1.0) * LINEAR_T
  k = jnp.clip(jnp.floor(position), 0, LINEAR_T - 1).astype(jnp.int32)
  grid = jnp.asarray(_LINEAR_LOG_ABAR, jnp.float32)
  log_abar = grid[k] + (position - k) * (grid[k + 1] - grid[k])
  signal_rates = jnp.exp(0.5 * log_abar)
  noise_rates = jnp.sqrt(-jnp.expm1(log_abar))
  return noise_rates, signal_rates


# The cosine schedule's signal rate at t = 1: the linear schedule's sqrt(abar_1000) = 6.38e-3 (log-SNR -10.1).
COSINE_END_SIGNAL_RATE = float(np.exp(0.5 * _LINEAR_LOG_ABAR[-1]))


def cosine(t: jnp.ndarray) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """The cosine schedule of Nichol & Dhariwal (2021) with its end point clamped: (sin(angle), cos(angle)). VP.

  angle = t arccos(COSINE_END_SIGNAL_RATE), so signal_rate(0) = 1 and signal_rate(1) = 6.38e-3, the linear DDPM
  schedule's final signal rate (both standard schedules end at the same noise level, log-SNR -10.1); in between
  signal^2 = abar follows the cosine shape. The unclamped cos(t pi/2) ends at signal cos(pi/2), which is -4.4e-8 in
  float32: the samplers' first step divides by it (DDIM's x0_hat, DDPM's sqrt(abar_t / abar_s)), so an eps error
  of 1e-3 moved 20-step DDIM samples by ~3e3. Improved DDPM clamps the same end for the same reason (beta_t <=
  0.999); here the clamp is on the angle, which keeps the schedule smooth and strictly monotone.
  """
  t = jnp.asarray(t, jnp.float32)
  angles = t * jnp.arccos(jnp.float32(COSINE_END_SIGNAL_RATE))
  return jnp.sin(angles), jnp.cos(angles)


def offset_cosine(t: jnp.ndarray, min_signal_rate: float = 0.02,
                  max_signal_rate: float = 0.95) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """The reference's schedule: angle = acos(max) + t (acos(min) - acos(max)); (sin(angle), cos(angle)). VP.

  signal_rate(0) = max_signal_rate (0.95), signal_rate(1) = min_signal_rate (0.02).
  """
  t = jnp.asarray(t, jnp.float32)
  start_angle = jnp.arccos(jnp.float32(max_signal_rate))
  end_angle = jnp.arccos(jnp.float32(min_signal_rate))
  angles = start_angle + t * (end_angle - start_angle)
  return jnp.sin(angles), jnp.cos(angles)


SCHEDULES = ("linear", "cosine", "offset_cosine")


def get(name: str, min_signal_rate: float = 0.02, max_signal_rate: float = 0.95) -> Schedule:
  """Returns the schedule called `name` (one of SCHEDULES); the signal-rate bounds apply to offset_cosine only."""
  if name == "linear":
    return linear
  if name == "cosine":
    return cosine
  if name == "offset_cosine":
    if not 0.0 < min_signal_rate < max_signal_rate < 1.0:
      raise JaxgenError(f"offset_cosine needs 0 < min_signal_rate < max_signal_rate < 1; got "
                        f"min_signal_rate={min_signal_rate!r}, max_signal_rate={max_signal_rate!r}.")
    return lambda t: offset_cosine(t, min_signal_rate, max_signal_rate)
  raise JaxgenError(f"schedule={name!r} is not a known schedule; choose one of {', '.join(map(repr, SCHEDULES))}.")


def alpha_bar(schedule: Schedule, t: jnp.ndarray) -> jnp.ndarray:
  """abar(t) = signal_rate(t)^2 (the DDPM cumulative product for these VP schedules)."""
  _, signal_rates = schedule(t)
  return signal_rates ** 2


def log_snr(schedule: Schedule, t: jnp.ndarray) -> jnp.ndarray:
  """lambda(t) = log(signal_rate^2 / noise_rate^2), the log signal-to-noise ratio; decreasing in t."""
  noise_rates, signal_rates = schedule(t)
  return 2.0 * (jnp.log(signal_rates) - jnp.log(noise_rates))


def time_at_log_snr(schedule: Schedule, lam: jnp.ndarray, iterations: int = 40) -> jnp.ndarray:
  """The time t in [0, 1] with log_snr(schedule, t) = lam, by bisection (any shape of lam; float32).

  Works for any schedule whose log-SNR decreases strictly in t (all of SCHEDULES); 40 halvings of [0, 1] reach
  float32's resolution of t. lam outside [log_snr(1), log_snr(0)] gives the nearer end point.
  """
  lam = jnp.asarray(lam, jnp.float32)

  def halve(_, bounds):
    lo, hi = bounds
    mid = 0.5 * (lo + hi)
    above = log_snr(schedule, mid) > lam         # still too little noise at mid: the root is later
    return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

  lo, hi = jax.lax.fori_loop(0, iterations, halve, (jnp.zeros_like(lam), jnp.ones_like(lam)))
  return 0.5 * (lo + hi)
