"""Fast deterministic solvers of the probability-flow ODE for any eps-prediction model and any VP schedule of
`jaxgen.samplers.schedules`, over `lax.scan`: DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++") and Heun's
second-order method in the EDM parameterisation (Karras et al. 2022, "Elucidating the design space"); and the
registry of every reverse sampler (`SAMPLERS`, `reverse`) with its number of network evaluations (`nfe`).

In the EDM variables of a VP process x_t = signal_rate x0 + noise_rate eps,

    sigma = noise_rate / signal_rate,    x~ = x_t / signal_rate = x0 + sigma eps,

the probability-flow ODE is  dx~/dsigma = eps_hat(x~, sigma)  (EDM eq. 4 with s(t) = 1; DDIM's eq. 14), and the
data prediction is D = x~ - sigma eps_hat. DDIM is Euler's method on it (first order); Heun adds a trapezoidal
corrector (second order); DPM-Solver++ integrates the linear part exactly in lambda = log(signal / noise) =
-log sigma (half the log-SNR) and extrapolates D linearly over the previous step (second order).

Time grids. The solvers evaluate the network at `steps` times from t = 1 down to T_MIN = 1e-3 (DPM-Solver's end time
for continuous-time models) and end with a first-order step to sigma = 0, i.e. they return D at their last
evaluation, the data prediction x0_hat that `ddim` and `ddpm` return too (docs/reference.md §8, quirk #8).
DPM-Solver++: times uniform in lambda (the DPM-Solver paper's "logSNR" spacing for pixel-space models); Heun: EDM's
sigma_i = (sigma_max^(1/rho) + i/(steps-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho with rho = 7 between
sigma(1) and sigma(T_MIN). `schedules.time_at_log_snr` maps both back to times, so any monotone schedule works.

    eps_fn(x_t, noise_rates, signal_rates) -> eps_hat       # x_t (n, ...), rates (n, 1, ..., 1)
"""
from typing import Optional

import jax
import jax.numpy as jnp

from jaxgen.errors import JaxgenError, choice
from jaxgen.samplers import schedules
from jaxgen.samplers.diffusion import EpsFn, check_steps, ddim, ddpm, predict_x0, rates_at
from jaxgen.samplers.schedules import Schedule

T_MIN = 1e-3        # the last evaluation time of the solvers (DPM-Solver's epsilon for continuous-time models)
EDM_RHO = 7.0       # EDM's time-step exponent
SAMPLERS = ("ddim", "ddpm", "dpm_solver_2m", "heun")


def log_snr_times(schedule: Schedule, steps: int, t_min: float = T_MIN) -> jnp.ndarray:
  """DPM-Solver++'s grid: `steps` times from 1 to t_min, uniform in log-SNR. float32 (steps,), decreasing."""
  lam_start, lam_end = schedules.log_snr(schedule, jnp.float32(1.0)), schedules.log_snr(schedule, jnp.float32(t_min))
  fractions = jnp.arange(steps, dtype=jnp.float32) / max(steps - 1, 1)
  t = schedules.time_at_log_snr(schedule, lam_start + fractions * (lam_end - lam_start))
  return _pin_ends(t, t_min)


def karras_times(schedule: Schedule, steps: int, t_min: float = T_MIN, rho: float = EDM_RHO) -> jnp.ndarray:
  """EDM's grid: `steps` times from 1 to t_min with sigma^(1/rho) uniform. float32 (steps,), decreasing."""
  def sigma(t):
    noise, signal = schedule(jnp.float32(t))
    return noise / signal
  fractions = jnp.arange(steps, dtype=jnp.float32) / max(steps - 1, 1)
  root_max, root_min = sigma(1.0) ** (1.0 / rho), sigma(t_min) ** (1.0 / rho)
  sigmas = (root_max + fractions * (root_min - root_max)) ** rho
  return _pin_ends(schedules.time_at_log_snr(schedule, -2.0 * jnp.log(sigmas)), t_min)


def _pin_ends(t: jnp.ndarray, t_min: float) -> jnp.ndarray:
  """The grid with its first time exactly 1 and (for two or more times) its last exactly t_min."""
  t = t.at[0].set(1.0)
  return t.at[-1].set(t_min) if t.shape[0] > 1 else t


def _sigma(schedule: Schedule, t, x):
  """(sigma, noise_rates, signal_rates) at scalar time t, shaped (n, 1, ..., 1) for x (n, ...)."""
  noise_rates, signal_rates = rates_at(schedule, t, x)
  return noise_rates / signal_rates, noise_rates, signal_rates


def dpm_solver_2m(eps_fn: EpsFn, x_T: jnp.ndarray, schedule: Schedule, steps: int,
                  times: Optional[jnp.ndarray] = None) -> jnp.ndarray:
  """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2: data prediction, multistep), `steps` network evaluations.

  With h_i = lambda_i - lambda_{i-1}, r_i = h_{i-1} / h_i and the data predictions x0_i = D(x_i, t_i):

      x_i = (noise_i / noise_{i-1}) x_{i-1} - signal_i (exp(-h_i) - 1) D_i,
      D_i = x0_{i-1} for the first step,  (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2} after it;

  then the step to sigma = 0 (exp(-h) = 0) returns x0 at the last time. `times` (steps,) overrides the log-SNR
  grid. x_T: (n, ...) at t = 1. Returns x0_hat, shape of x_T.
  """
  steps = check_steps(steps)
  t = log_snr_times(schedule, steps) if times is None else jnp.asarray(times, jnp.float32)

  def body(carry, inputs):
    x, x0_prev, h_prev = carry
    t_i, t_next, first = inputs
    sigma, noise_rates, signal_rates = _sigma(schedule, t_i, x)
    sigma_next, next_noise_rates, next_signal_rates = _sigma(schedule, t_next, x)
    x0 = predict_x0(x, eps_fn(x, noise_rates, signal_rates), noise_rates, signal_rates)
    h = jnp.log(sigma / sigma_next)                                  # lambda_next - lambda (> 0)
    half_inverse_r = jnp.where(first, 0.0, h / (2.0 * jnp.where(first, 1.0, h_prev)))
    d = x0 + half_inverse_r * (x0 - x0_prev)
    x_next = next_noise_rates / noise_rates * x - next_signal_rates * jnp.expm1(-h) * d
    return (x_next, x0, h), None

  inputs = (t[:-1], t[1:], jnp.arange(steps - 1) == 0)
  (x, _, _), _ = jax.lax.scan(body, (x_T, jnp.zeros_like(x_T), jnp.ones(x_T.shape[:1] + (1,) * (x_T.ndim - 1))),
                              inputs)
  noise_rates, signal_rates = rates_at(schedule, t[-1], x)
  return predict_x0(x, eps_fn(x, noise_rates, signal_rates), noise_rates, signal_rates)


def heun(eps_fn: EpsFn, x_T: jnp.ndarray, schedule: Schedule, steps: int,
         times: Optional[jnp.ndarray] = None) -> jnp.ndarray:
  """Heun's method on dx~/dsigma = eps_hat in the EDM variables (Karras et al. 2022, Algorithm 1 without churn).

  From sigma_i to sigma_{i+1}: d = eps_hat(x~_i, sigma_i), x~' = x~_i + (sigma_{i+1} - sigma_i) d,
  x~_{i+1} = x~_i + (sigma_{i+1} - sigma_i) (d + eps_hat(x~', sigma_{i+1})) / 2; the last step, to sigma = 0, is
  Euler's (x~ - sigma d = x0_hat). `steps` times (EDM's rho = 7 grid unless `times` (steps,) is given), so
  2 steps - 1 network evaluations. x_T: (n, ...) at t = 1. Returns x0_hat, shape of x_T.
  """
  steps = check_steps(steps)
  t = karras_times(schedule, steps) if times is None else jnp.asarray(times, jnp.float32)

  def eps_tilde(x_tilde, t_i):
    sigma, noise_rates, signal_rates = _sigma(schedule, t_i, x_tilde)
    return eps_fn(signal_rates * x_tilde, noise_rates, signal_rates), sigma

  def body(x_tilde, inputs):
    t_i, t_next = inputs
    d, sigma = eps_tilde(x_tilde, t_i)
    sigma_next = _sigma(schedule, t_next, x_tilde)[0]
    x_euler = x_tilde + (sigma_next - sigma) * d
    d_next, _ = eps_tilde(x_euler, t_next)
    return x_tilde + (sigma_next - sigma) * 0.5 * (d + d_next), None

  _, signal_T = rates_at(schedule, 1.0, x_T)
  x_tilde, _ = jax.lax.scan(body, x_T / signal_T, (t[:-1], t[1:]))
  d, sigma = eps_tilde(x_tilde, t[-1])
  return x_tilde - sigma * d


def nfe(sampler: str, steps: int) -> int:
  """Network (eps_fn) evaluations of `sampler` with `steps`: steps, or 2 steps - 1 for Heun. With classifier-free
  guidance each evaluation is one batched pass over twice the samples (`jaxgen.samplers.guidance`)."""
  choice("sampler", sampler, SAMPLERS)
  steps = check_steps(steps)
  return 2 * steps - 1 if sampler == "heun" else steps


def steps_for_nfe(sampler: str, budget: int) -> int:
  """The most steps whose `nfe` is within `budget` (>= 1): budget, or (budget + 1) // 2 for Heun."""
  choice("sampler", sampler, SAMPLERS)
  budget = check_steps(budget)
  return (budget + 1) // 2 if sampler == "heun" else budget


def reverse(sampler: str, eps_fn: EpsFn, x_T: jnp.ndarray, schedule: Schedule, steps: int,
            key: Optional[jax.Array] = None, ddpm_variance: str = "posterior") -> jnp.ndarray:
  """x0_hat from x_T (n, ...) with the sampler called `sampler` (one of SAMPLERS); `key` only for "ddpm"."""
  choice("sampler", sampler, SAMPLERS)
  if sampler == "ddim":
    return ddim(eps_fn, x_T, schedule, steps)
  if sampler == "dpm_solver_2m":
    return dpm_solver_2m(eps_fn, x_T, schedule, steps)
  if sampler == "heun":
    return heun(eps_fn, x_T, schedule, steps)
  if key is None:
    raise JaxgenError("sampler='ddpm' is ancestral: pass a key for its per-step noise.")
  return ddpm(eps_fn, x_T, key, schedule, steps, ddpm_variance)
