"""The parameter updates every family's `train_step` shares (docs/design.md §2, "Shared conventions"): one
optimizer step, one EMA step and the learning-rate schedules, so there is one place that says what an update is.
"""
from typing import Any

import jax.numpy as jnp
import optax

PyTree = Any


def apply_gradients(tx: optax.GradientTransformation, params: PyTree, opt_state: PyTree,
                    grads: PyTree) -> tuple[PyTree, PyTree]:
  """One optimizer step: (params + tx's update of `grads`, the new optimizer state). Shapes follow `params`."""
  updates, opt_state = tx.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state


def ema_update(ema: PyTree, params: PyTree, decay) -> PyTree:
  """Exponential moving average, leaf by leaf: ema ← decay·ema + (1 − decay)·params.

  `decay` in [0, 1] may be a traced scalar (e.g. from `ema_decay`). This is optax's `incremental_update`
  with step size 1 − decay.
  """
  return optax.incremental_update(params, ema, step_size=1.0 - decay)


def ema_decay(step, decay: float, warmup: bool = False):
  """The EMA decay at update `step` (0-based): `decay`, or min(decay, (1 + step)/(10 + step)) with `warmup`.

  Without warmup the initial parameters keep weight decay^n after n updates (0.999^1000 = 0.37), which
  dominates short runs; the warmup (as in TensorFlow's ExponentialMovingAverage with num_updates) lets the
  average follow the early parameters and reach `decay` after ≈ 9/(1 − decay) updates.
  """
  if not warmup:
    return decay
  step = jnp.asarray(step, jnp.float32)
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


DECAYS = ("none", "linear")


def learning_rate(value: float, decay: str = "none", num_updates: int = 1) -> optax.ScalarOrSchedule:
  """The learning rate of `optim.decay`: `value` constant ("none") or decayed linearly to 0 over `num_updates`
  optimizer updates ("linear", as the WGAN-GP paper's CIFAR-10 runs). The schedule reads the optimizer's own
  update count, which is checkpointed with its state, so a resumed run continues the same schedule."""
  if decay == "linear":
    return optax.linear_schedule(float(value), 0.0, max(int(num_updates), 1))
  if decay != "none":
    raise ValueError(f"optim.decay={decay!r}; choose one of {DECAYS}")
  return float(value)


__all__ = ["apply_gradients", "ema_update", "ema_decay", "learning_rate", "DECAYS"]
