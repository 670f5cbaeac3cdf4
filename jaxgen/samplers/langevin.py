"""Langevin dynamics (SGLD / ULA) as a pure function over `lax.scan`.

Sign convention (one for the whole library, jaxgen.families.ebm): an **energy** E(x) is low where data is likely,
p(x) ∝ exp(−E(x)), and the sampler steps *against* ∇E (the reference ascends its score s = −E: the same update).

One step of the reference's update, for x of shape (B, ...):

  x ← x + noise_scale · z,           z ~ N(0, I)
  x ← clip(x, lo, hi)                (clip_range = (lo, hi); None skips the clip)
  g ← ∇ₓ Σ_b E(x_b)
  g ← clip(g, −grad_clip, grad_clip) (per element; None skips the clip)
  x ← x − step_size · g
  x ← clip(x, lo, hi)

With grad_clip=None, clip_range=None and noise_scale = sqrt(2·step_size) (`ula_noise`) this is the unadjusted
Langevin algorithm (Euler–Maruyama for dx = −∇E dt + sqrt(2) dW) whose stationary law approaches exp(−E) as
step_size → 0; for E = ‖x − μ‖²/(2σ²) and r = step_size/σ² the chain is linear, stable for r < 2, and its
stationary variance is (1 − r)²·2σ²/(2 − r) (checked against that recursion in `tests/test_langevin.py`).
step_size and noise_scale may also be per-step schedules of shape (steps,), e.g. `geometric_schedule` for
annealed Langevin (large steps first to cross between modes, then the small steps that resolve them).
The reference's setting is short-run, nearly noiseless gradient descent, not a sampler of exp(−E) (see the EBM).
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

EnergyFn = Callable[[jax.Array], jax.Array]

# The steps the reference notebook shows in its chain figure (indices into its per-step list: entry i is
# the state after i + 1 updates, so 999 is the final state of a 1000-step run).
REFERENCE_CHAIN_STEPS = (0, 1, 3, 5, 10, 30, 50, 100, 300, 999)


def langevin_step(energy_fn: EnergyFn, x: jax.Array, key: jax.Array, *, step_size: float, noise_scale: float,
                  grad_clip: float | None = None, clip_range: tuple[float, float] | None = None) -> jax.Array:
  """One SGLD update of x (B, ...) for `energy_fn: (B, ...) -> (B,)` (see the module docstring)."""
  x = x + noise_scale * jax.random.normal(key, x.shape, x.dtype)
  if clip_range is not None:
    x = jnp.clip(x, clip_range[0], clip_range[1])
  grad = jax.grad(lambda y: jnp.sum(energy_fn(y)))(x)
  if grad_clip is not None:
    grad = jnp.clip(grad, -grad_clip, grad_clip)
  x = x - step_size * grad
  if clip_range is not None:
    x = jnp.clip(x, clip_range[0], clip_range[1])
  return x


def _per_step(value, steps: int, name: str) -> jax.Array:
  """A scalar or a (steps,) schedule -> float32 (steps,)."""
  v = jnp.asarray(value, jnp.float32)
  if v.ndim == 0:
    return jnp.full((steps,), v)
  if v.shape != (steps,):
    raise ValueError(f"{name} has shape {v.shape}; expected a scalar or ({steps},) for steps={steps}.")
  return v


def geometric_schedule(start: float, end: float, steps: int) -> np.ndarray:
  """(steps,) float32 from `start` to `end` (both > 0) with a constant ratio: start·(end/start)^(t/(steps−1))."""
  if steps == 1:
    return np.asarray([end], np.float32)
  t = np.arange(steps) / (steps - 1)
  return (start * (end / start) ** t).astype(np.float32)


def ula_noise(step_size) -> np.ndarray:
  """The unadjusted Langevin algorithm's noise std for step size η (scalar or schedule): sqrt(2·η)."""
  return np.sqrt(2.0 * np.asarray(step_size, np.float64)).astype(np.float32)


def _chain_indices(return_chain, steps: int) -> tuple[int, ...] | None:
  if return_chain is False or return_chain is None:
    return None
  if return_chain is True:
    return tuple(range(steps))
  indices = tuple(int(i) for i in return_chain)
  bad = [i for i in indices if not 0 <= i < steps]
  if bad or not indices:
    raise ValueError(f"return_chain={return_chain!r}: indices must be non-empty and in [0, {steps}) for steps={steps}.")
  return indices


def langevin(energy_fn: EnergyFn, x0: jax.Array, key: jax.Array, *, steps: int, step_size: float,
             noise_scale: float, grad_clip: float | None = None, clip_range: tuple[float, float] | None = None,
             return_chain: bool | Sequence[int] = False):
  """Runs `steps` Langevin updates from x0 and returns the final state (or the chain).

  Args:
    energy_fn: the ENERGY, (B, ...) -> (B,), parameters closed over; ∇ of its batch sum: samples are independent.
    x0: (B, ...) starting points. key: raw uint32 PRNG key, split once per step. steps: updates (static).
    step_size, noise_scale: the update's η and noise standard deviation (reference: 10 and 0.005): scalars,
      or (steps,) arrays giving the value at each step (entry t is used by update t + 1).
    grad_clip: per-element bound on the energy gradient (reference: 0.03), or None.
    clip_range: (lo, hi) range x is clipped to after the noise and after the step (reference: (−1, 1)), or None.
    return_chain: False -> the final state (B, ...). True -> every state, (steps, B, ...). A tuple of step
      indices (static) -> (len(indices), B, ...), where index i is the state after i + 1 updates (the
      reference's per-step list), e.g. `REFERENCE_CHAIN_STEPS` for a 1000-step run.

  Step sizes that sample exp(−E) (ULA: noise_scale = ula_noise(step_size), no clips): with σ the scale of the
  narrowest feature of the density (a mode's std), η must stay below 2σ² (the chain is unstable above), and
  η = r·σ² leaves the stationary variance (1 − r)²·2/(2 − r) times too small (r = 0.5: 0.33×, r = 0.01:
  0.985×); so end near η = 0.01·σ² and start larger (`geometric_schedule`) to reach the modes from far away.
  Chains do not cross between well-separated modes: the weight of each mode comes from where chains start.
  Worked example (an 8-Gaussian mixture, run by tests/test_api.py): docs/design.md §9.
  """
  steps = int(steps)
  if steps < 1:
    raise ValueError(f"steps={steps!r} must be at least 1.")
  indices = _chain_indices(return_chain, steps)
  keys = jax.random.split(key, steps)
  schedule = (keys, _per_step(step_size, steps, "step_size"), _per_step(noise_scale, steps, "noise_scale"))
  update = lambda x, s: langevin_step(energy_fn, x, s[0], step_size=s[1], noise_scale=s[2],
                                      grad_clip=grad_clip, clip_range=clip_range)

  if indices is None:
    x, _ = lax.scan(lambda x, s: (update(x, s), None), x0, schedule)
    return x
  if return_chain is True:
    _, chain = lax.scan(lambda x, s: (update(x, s),) * 2, x0, schedule)
    return chain

  # Keep only the requested states: slot j of `chain` takes x when the step counter equals indices[j].
  wanted = jnp.asarray(np.asarray(indices, np.int32))

  def body(carry, inputs):
    x, chain = carry
    t, s = inputs
    x = update(x, s)
    hit = (wanted == t).reshape((-1,) + (1,) * x.ndim)
    chain = jnp.where(hit, x[None], chain)
    return (x, chain), None

  chain0 = jnp.zeros((len(indices),) + x0.shape, x0.dtype)
  (_, chain), _ = lax.scan(body, (x0, chain0), (jnp.arange(steps, dtype=jnp.int32), schedule))
  return chain


__all__ = ["langevin", "langevin_step", "geometric_schedule", "ula_noise", "REFERENCE_CHAIN_STEPS"]
