"""Langevin sampler: scan == Python-loop twin, clipping in closed form, Gaussian-target moments of the discrete
chain (constant and annealed step sizes) against its exact recursion."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.samplers.langevin import REFERENCE_CHAIN_STEPS, geometric_schedule, langevin, ula_noise


def _mlp_energy(key, dim=6):
  k1, k2 = jax.random.split(key)
  w1 = jax.random.normal(k1, (dim, 16)) / np.sqrt(dim)
  w2 = jax.random.normal(k2, (16,)) / 4.0
  return lambda x: jnp.tanh(x.reshape(x.shape[0], -1) @ w1) @ w2 + 0.5 * jnp.sum(x.reshape(x.shape[0], -1) ** 2, -1)


def _loop_twin(energy_fn, x0, key, steps, step_size, noise_scale, grad_clip, clip_range):
  """The reference's update written as a plain Python loop over steps, with the sampler's key schedule."""
  keys = jax.random.split(key, steps)
  grad_fn = jax.jit(jax.grad(lambda y: jnp.sum(energy_fn(y))))
  x, states = x0, []
  for t in range(steps):
    x = x + noise_scale * jax.random.normal(keys[t], x.shape, x.dtype)
    x = jnp.clip(x, *clip_range)
    g = jnp.clip(grad_fn(x), -grad_clip, grad_clip)
    x = jnp.clip(x - step_size * g, *clip_range)
    states.append(x)
  return x, states


def test_scan_equals_python_loop_twin():
  energy = _mlp_energy(jax.random.PRNGKey(0))
  x0 = jax.random.uniform(jax.random.PRNGKey(1), (5, 2, 3), minval=-1, maxval=1)
  key = jax.random.PRNGKey(2)
  kw = dict(steps=25, step_size=0.5, noise_scale=0.05, grad_clip=0.03, clip_range=(-1.0, 1.0))
  final = jax.jit(lambda x, k: langevin(energy, x, k, **kw))(x0, key)
  twin_final, twin_states = _loop_twin(energy, x0, key, 25, 0.5, 0.05, 0.03, (-1.0, 1.0))
  np.testing.assert_allclose(final, twin_final, atol=1e-6)
  assert float(jnp.max(jnp.abs(final - x0))) > 0.1          # it actually moved

  chain = langevin(energy, x0, key, return_chain=(0, 3, 24), **kw)
  assert chain.shape == (3,) + x0.shape
  for row, t in zip(chain, (0, 3, 24)):
    np.testing.assert_allclose(row, twin_states[t], atol=1e-6)
  full = langevin(energy, x0, key, return_chain=True, **kw)
  assert full.shape == (25,) + x0.shape
  np.testing.assert_allclose(full, np.stack(twin_states), atol=1e-6)


def test_gradient_and_range_clipping_closed_form():
  # E(x) = a/2 ||x - m||^2, so grad = a (x - m). Noise off: one step is exactly
  #   y = clip(x0, lo, hi);  x1 = clip(y - eta * clip(a (y - m), -c, c), lo, hi).
  a, eta, c, lo, hi = 2.0, 10.0, 0.03, -1.0, 1.0
  m = np.array([0.0, 0.0, 0.0, 0.0, 0.9], np.float32)
  energy = lambda x: 0.5 * a * jnp.sum((x - m) ** 2, -1)
  x0 = np.array([[1.7, 0.01, -0.005, -1.3, 0.5]], np.float32)
  x1 = langevin(energy, jnp.asarray(x0), jax.random.PRNGKey(0), steps=1, step_size=eta, noise_scale=0.0,
                grad_clip=c, clip_range=(lo, hi))
  y = np.clip(x0, lo, hi)
  g = a * (y - m)
  expected = np.clip(y - eta * np.clip(g, -c, c), lo, hi)
  np.testing.assert_allclose(x1, expected, atol=1e-6)
  # Entry by entry: 1.7 -> clip 1 -> grad 2 clipped to .03 -> 1 - .3 = .7; .01 -> grad .02 unclipped -> .01 - .2;
  # -1.3 -> clip -1 -> grad -2 -> clipped -.03 -> -1 + .3 = -.7; .5 -> grad -.8 -> -.03 -> .5 + .3 = .8.
  np.testing.assert_allclose(x1[0], [0.7, -0.19, 0.095, -0.7, 0.8], atol=1e-6)
  # Without the clips the same step is plain gradient descent and leaves the range.
  x1_raw = langevin(energy, jnp.asarray(x0), jax.random.PRNGKey(0), steps=1, step_size=eta, noise_scale=0.0)
  np.testing.assert_allclose(x1_raw, x0 - eta * a * (x0 - m), rtol=1e-6)


def test_reference_setting_stays_in_range_and_moves_at_most_step_times_clip():
  energy = lambda x: -50.0 * jnp.sum(x, axis=(1, 2, 3))           # pushes every pixel up with gradient -50
  x0 = jax.random.uniform(jax.random.PRNGKey(0), (4, 8, 8, 1), minval=-1, maxval=1)
  chain = langevin(energy, x0, jax.random.PRNGKey(1), steps=10, step_size=10.0, noise_scale=0.005, grad_clip=0.03,
                   clip_range=(-1.0, 1.0), return_chain=True)
  assert float(chain.min()) >= -1.0 and float(chain.max()) <= 1.0
  steps = jnp.diff(jnp.concatenate([x0[None], chain]), axis=0)
  assert float(jnp.max(jnp.abs(steps))) <= 0.3 + 5 * 0.005 * 6     # 10 * 0.03 plus the noise
  np.testing.assert_allclose(chain[-1], 1.0, atol=1e-6)            # 7 steps of +0.3 saturate at the top


def _gaussian_moments_exact(mu, sigma, x0, step_sizes, noise_scales):
  """Mean and variance per coordinate of the sampler's chain on E(x) = ||x − mu||² / (2 sigma²), from x0 fixed.

  One update (noise, then a gradient step at the noised point) is linear: x' = mu + (1 − r_t)(x + n_t z − mu)
  with r_t = eta_t / sigma², so m' = mu + (1 − r_t)(m − mu) and v' = (1 − r_t)² (v + n_t²) exactly.
  """
  m, v = np.asarray(x0, np.float64), 0.0
  for eta, n in zip(step_sizes, noise_scales):
    r = eta / sigma ** 2
    m, v = mu + (1 - r) * (m - mu), (1 - r) ** 2 * (v + n ** 2)
  return m, v


def test_gaussian_target_moments_match_the_discrete_chain():
  # Proper ULA (noise sqrt(2 eta), no clipping) on N(mu, sigma² I). For this update order the stationary variance
  # is v = (1 − r)² · 2 sigma² / (2 − r), r = eta / sigma² (-> sigma² as eta -> 0). At r = 0.1 it is 0.2132, 15 %
  # below sigma² = 0.25 and 19 % below 2 sigma² / (2 − r) = 0.2632 (the gradient-first order): 100,000 variance
  # samples (50,000 chains x 2 coordinates) give a relative standard error sqrt(2/1e5) = 0.45 %, so a 5-sigma band
  # (2.2 %) accepts only the exact discrete law.
  mu = np.array([1.0, -2.0])
  sigma, eta, n, steps = 0.5, 0.025, 50_000, 200
  energy = lambda x: jnp.sum((x - mu) ** 2, -1) / (2 * sigma ** 2)
  x = langevin(energy, jnp.zeros((n, 2)), jax.random.PRNGKey(3), steps=steps, step_size=eta,
               noise_scale=float(np.sqrt(2 * eta)))
  x = np.asarray(x, np.float64)
  r = eta / sigma ** 2
  v_exact = (1 - r) ** 2 * 2 * sigma ** 2 / (2 - r)
  _, v_recursion = _gaussian_moments_exact(mu, sigma, [0.0, 0.0], [eta] * steps, [np.sqrt(2 * eta)] * steps)
  np.testing.assert_allclose(v_recursion, v_exact, rtol=1e-10)     # 200 steps: at the fixed point
  band = 5 * np.sqrt(2 / (2 * n))
  assert abs(v_exact - sigma ** 2) / v_exact > 3 * band and abs(v_exact - 2 * sigma ** 2 / (2 - r)) / v_exact > 3 * band
  np.testing.assert_allclose(x.var(0).mean(), v_exact, rtol=band)
  np.testing.assert_allclose(x.mean(0), mu, atol=5 * np.sqrt(v_exact / n))
  assert abs(np.corrcoef(x.T)[0, 1]) < 5 / np.sqrt(n)


def test_annealed_schedule_moments_match_the_discrete_chain():
  # A geometric step-size schedule with ULA noise, 30 steps from x0 = 0: far from stationary, so the transient mean
  # and variance (exact recursion) test that step t uses schedule entry t.
  mu, sigma, n = np.array([1.0, -2.0]), 0.5, 40_000
  etas = geometric_schedule(0.05, 0.002, 30)
  noises = ula_noise(etas)
  np.testing.assert_allclose(etas[[0, -1]], [0.05, 0.002], rtol=1e-6)
  np.testing.assert_allclose(etas[1:] / etas[:-1], (0.002 / 0.05) ** (1 / 29), rtol=1e-5)
  np.testing.assert_allclose(noises, np.sqrt(2 * etas), rtol=1e-6)
  energy = lambda x: jnp.sum((x - mu) ** 2, -1) / (2 * sigma ** 2)
  x = np.asarray(langevin(energy, jnp.zeros((n, 2)), jax.random.PRNGKey(4), steps=30, step_size=jnp.asarray(etas),
                          noise_scale=jnp.asarray(noises)), np.float64)
  m_exact, v_exact = _gaussian_moments_exact(mu, sigma, [0.0, 0.0], etas.astype(np.float64),
                                             noises.astype(np.float64))
  # Reversed schedule (small steps first) ends elsewhere: the test can tell the order of the schedule apart.
  m_rev, v_rev = _gaussian_moments_exact(mu, sigma, [0.0, 0.0], etas[::-1].astype(np.float64),
                                         noises[::-1].astype(np.float64))
  band = 5 * np.sqrt(2 / (2 * n))
  assert abs(v_rev - v_exact) / v_exact > 3 * band
  np.testing.assert_allclose(x.var(0).mean(), v_exact, rtol=band)
  np.testing.assert_allclose(x.mean(0), m_exact, atol=5 * np.sqrt(v_exact / n))
  with pytest.raises(ValueError, match="step_size"):
    langevin(energy, jnp.zeros((2, 2)), jax.random.PRNGKey(0), steps=5, step_size=jnp.ones(4), noise_scale=0.1)


def test_return_chain_validation_and_reference_steps():
  energy = lambda x: jnp.sum(x ** 2, -1)
  x0 = jnp.ones((2, 3))
  with pytest.raises(ValueError):
    langevin(energy, x0, jax.random.PRNGKey(0), steps=5, step_size=0.1, noise_scale=0.0, return_chain=(5,))
  assert REFERENCE_CHAIN_STEPS == (0, 1, 3, 5, 10, 30, 50, 100, 300, 999)
