"""Diffusion schedules: end points, monotonicity, variance preservation, q(x_t | x_0) moments, the reference grid."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import JaxgenError
from jaxgen.samplers import schedules
from jaxgen.samplers.diffusion import q_sample

ALL = {"linear": schedules.linear, "cosine": schedules.cosine, "offset_cosine": schedules.offset_cosine}


def _reference_linear_alpha_bars():
  """The reference notebook's `linear_diffusion_schedule` on times i/T, i = 0..999, in float64 NumPy."""
  t = np.arange(1000) / 1000
  betas = 0.0001 + t * (0.02 - 0.0001)
  return np.cumprod(1 - betas)


def test_endpoints():
  for name, (n0, s0, n1, s1) in {
      "cosine": (0.0, 1.0, np.sqrt(1 - _reference_linear_alpha_bars()[-1]), np.sqrt(_reference_linear_alpha_bars()[-1])),
      "offset_cosine": (np.sqrt(1 - 0.95 ** 2), 0.95, np.sqrt(1 - 0.02 ** 2), 0.02),
      "linear": (0.0, 1.0, np.sqrt(1 - _reference_linear_alpha_bars()[-1]),
                 np.sqrt(_reference_linear_alpha_bars()[-1])),
  }.items():
    noise, signal = ALL[name](jnp.array([0.0, 1.0]))
    np.testing.assert_allclose(np.asarray(noise), [n0, n1], atol=2e-6, err_msg=name)
    np.testing.assert_allclose(np.asarray(signal), [s0, s1], rtol=1e-5, atol=1e-7, err_msg=name)
  # The linear schedule's final signal rate: sqrt(abar_1000) = 6.36e-3.
  assert abs(float(schedules.linear(1.0)[1]) - 6.36e-3) < 1e-4


@pytest.mark.parametrize("name", list(ALL))
def test_monotone_and_variance_preserving(name):
  t = jnp.linspace(0.0, 1.0, 2001)
  noise, signal = (np.asarray(a, np.float64) for a in ALL[name](t))
  assert np.all(np.diff(signal) < 0), "signal rate must decrease strictly with t"
  assert np.all(np.diff(noise) > 0), "noise rate must increase strictly with t"
  np.testing.assert_allclose(signal ** 2 + noise ** 2, 1.0, atol=3e-6)   # all three schedules are VP


def test_linear_matches_reference_grid():
  """abar((i + 1)/T) is the reference's cumulative product abar_i; in between log abar is linear."""
  ref = _reference_linear_alpha_bars()
  i = np.array([0, 1, 9, 99, 499, 998, 999])
  abar = np.asarray(schedules.alpha_bar(schedules.linear, jnp.asarray((i + 1) / 1000, jnp.float32)), np.float64)
  np.testing.assert_allclose(abar, ref[i], rtol=2e-5)
  # Midway between two grid points: the geometric mean of the neighbours.
  mid = float(schedules.alpha_bar(schedules.linear, jnp.float32(500.5 / 1000)))
  np.testing.assert_allclose(mid, np.sqrt(ref[499] * ref[500]), rtol=2e-5)


def test_cosine_shape_and_clamped_end():
  """cosine: signal = cos(angle), angle linear in t from 0 to arccos(sqrt(abar_1000)) (the linear schedule's end),
  so signal(1) > 0 and log-SNR(1) = log(abar_1000 / (1 - abar_1000)) = -10.1, as for the linear schedule."""
  end = np.sqrt(_reference_linear_alpha_bars()[-1])
  t = np.array([0.0, 0.1, 0.5, 0.9, 0.999, 1.0])
  noise, signal = (np.asarray(a, np.float64) for a in schedules.cosine(jnp.asarray(t, jnp.float32)))
  np.testing.assert_allclose(signal, np.cos(t * np.arccos(end)), rtol=2e-5, atol=1e-7)
  np.testing.assert_allclose(noise, np.sin(t * np.arccos(end)), atol=2e-6)
  assert signal[-1] > 6e-3
  np.testing.assert_allclose(np.log(signal[-1] ** 2 / noise[-1] ** 2), -10.1, atol=0.02)


def test_offset_cosine_angles():
  """signal = cos(angle), angle linear in t from acos(max) to acos(min)."""
  t = np.array([0.0, 0.25, 0.5, 0.9])
  start, end = np.arccos(0.95), np.arccos(0.02)
  noise, signal = schedules.offset_cosine(jnp.asarray(t, jnp.float32))
  np.testing.assert_allclose(np.asarray(signal), np.cos(start + t * (end - start)), atol=2e-6)
  np.testing.assert_allclose(np.asarray(noise), np.sin(start + t * (end - start)), atol=2e-6)
  custom = schedules.get("offset_cosine", 0.1, 0.9)
  np.testing.assert_allclose(np.asarray(custom(jnp.array([0.0, 1.0]))[1]), [0.9, 0.1], atol=2e-6)


@pytest.mark.parametrize("name,t", [("linear", 0.3), ("cosine", 0.5), ("offset_cosine", 0.7), ("linear", 0.9)])
def test_q_sample_moments_match_closed_form(name, t):
  """For a fixed x0, x_t ~ N(signal x0, noise^2 I): empirical mean and variance over 200,000 draws."""
  schedule = ALL[name]
  n = 200_000
  x0 = jnp.broadcast_to(jnp.array([1.5, -0.5, 0.0]), (n, 3))
  eps = jax.random.normal(jax.random.PRNGKey(0), (n, 3))
  x_t = np.asarray(q_sample(x0, jnp.full((n,), t), eps, schedule), np.float64)
  noise, signal = (float(a) for a in schedule(jnp.float32(t)))
  mean_se = noise / np.sqrt(n)
  np.testing.assert_allclose(x_t.mean(0), signal * np.array([1.5, -0.5, 0.0]), atol=5 * mean_se)
  var_se = noise ** 2 * np.sqrt(2.0 / n)
  np.testing.assert_allclose(x_t.var(0), noise ** 2, atol=5 * var_se)


def test_get_and_errors():
  assert schedules.get("linear") is schedules.linear
  assert schedules.get("cosine") is schedules.cosine
  with pytest.raises(JaxgenError, match="quadratic"):
    schedules.get("quadratic")
  with pytest.raises(JaxgenError, match="min_signal_rate"):
    schedules.get("offset_cosine", 0.9, 0.5)
