"""jaxgen.nn.updates: the optimizer step and EMA every family uses, against hand-computed values."""
import chex
import jax.numpy as jnp
import numpy as np
import optax

from jaxgen.nn import updates


def test_apply_gradients_is_one_sgd_step():
  params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
  grads = {"w": jnp.array([0.5, 1.0]), "b": jnp.array(-1.0)}
  tx = optax.sgd(0.1)
  new, _ = updates.apply_gradients(tx, params, tx.init(params), grads)
  chex.assert_trees_all_close(new, {"w": jnp.array([0.95, -2.1]), "b": jnp.array(0.6)}, rtol=1e-6)


def test_apply_gradients_threads_adam_state():
  params = {"w": jnp.array([1.0])}
  tx = optax.adam(0.1)
  state = tx.init(params)
  for _ in range(3):
    params, state = updates.apply_gradients(tx, params, state, {"w": jnp.array([2.0])})
  # Adam with a constant gradient moves by lr every step (bias-corrected m/sqrt(v) = 1 up to eps).
  np.testing.assert_allclose(params["w"], [1.0 - 0.3], rtol=1e-5)
  assert int(state[0].count) == 3


def test_ema_update_exact_value():
  ema = {"a": jnp.array([1.0, 10.0])}
  new = updates.ema_update(ema, {"a": jnp.array([3.0, 0.0])}, 0.9)
  chex.assert_trees_all_close(new, {"a": jnp.array([0.9 * 1 + 0.1 * 3, 0.9 * 10])}, rtol=1e-6)
  # decay 1 keeps the average, decay 0 copies the parameters.
  np.testing.assert_allclose(updates.ema_update(ema, {"a": jnp.array([3.0, 0.0])}, 1.0)["a"], [1.0, 10.0])
  np.testing.assert_allclose(updates.ema_update(ema, {"a": jnp.array([3.0, 0.0])}, 0.0)["a"], [3.0, 0.0])


def test_ema_decay_warmup():
  assert updates.ema_decay(5, 0.999, False) == 0.999
  np.testing.assert_allclose(float(updates.ema_decay(0, 0.999, True)), 0.1)
  np.testing.assert_allclose(float(updates.ema_decay(90, 0.999, True)), 91 / 100)
  np.testing.assert_allclose(float(updates.ema_decay(100_000, 0.999, True)), 0.999)
