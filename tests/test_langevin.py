"""Langevin sampler: scan == Python-loop twin, clipping in closed form, Gaussian-target moments."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.samplers.langevin import REFERENCE_CHAIN_STEPS, langevin


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


def test_gaussian_target_moments():
  # E(x) = ||x - mu||^2 / (2 sigma^2): proper ULA (noise sqrt(2 eta), no clipping) targets N(mu, sigma^2).
  # For this update (noise, then gradient step at the noised point) the exact stationary variance is
  #   v = (1 - r)^2 * 2 sigma^2 / (2 - r),  r = eta / sigma^2   (-> sigma^2 as eta -> 0).
  mu = jnp.array([1.0, -2.0])
  sigma, eta, n = 0.5, 0.005, 4000
  energy = lambda x: jnp.sum((x - mu) ** 2, -1) / (2 * sigma ** 2)
  x = langevin(energy, jnp.zeros((n, 2)), jax.random.PRNGKey(3), steps=800, step_size=eta,
               noise_scale=float(np.sqrt(2 * eta)))
  x = np.asarray(x, np.float64)
  r = eta / sigma ** 2
  v_exact = (1 - r) ** 2 * 2 * sigma ** 2 / (2 - r)
  var = x.var(0)
  np.testing.assert_allclose(x.mean(0), mu, atol=4 * sigma / np.sqrt(n))
  np.testing.assert_allclose(var, v_exact, rtol=4 * np.sqrt(2 / n))   # ~9% band around the discrete law
  np.testing.assert_allclose(var, sigma ** 2, rtol=0.1)                 # and the target itself
  assert abs(np.corrcoef(x.T)[0, 1]) < 0.06


def test_return_chain_validation_and_reference_steps():
  energy = lambda x: jnp.sum(x ** 2, -1)
  x0 = jnp.ones((2, 3))
  with pytest.raises(ValueError):
    langevin(energy, x0, jax.random.PRNGKey(0), steps=5, step_size=0.1, noise_scale=0.0, return_chain=(5,))
  assert REFERENCE_CHAIN_STEPS == (0, 1, 3, 5, 10, 30, 50, 100, 300, 999)
