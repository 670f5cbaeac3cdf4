"""Style mixing (Karras et al. 2019, sec. 3.1): the image takes layers [0, crossover) of W+ from one latent
and layers [crossover, L) from another. Early layers carry coarse styles (pose, shape), late ones fine styles
(colour, stroke texture).
"""
import jax
import jax.numpy as jnp


def broadcast_layers(w: jax.Array, num_layers: int) -> jax.Array:
  """w (..., D) -> W+ (..., num_layers, D): the same w for every synthesis layer."""
  return jnp.broadcast_to(w[..., None, :], (*w.shape[:-1], num_layers, w.shape[-1]))


def style_mix(w_a: jax.Array, w_b: jax.Array, crossover) -> jax.Array:
  """W+ whose layers [0, crossover) come from w_a and [crossover, L) from w_b.

  w_a, w_b: (..., L, D) (broadcastable against each other). crossover: int, or an int array broadcastable to the
  leading batch shape (per-sample crossovers, traced values allowed). crossover 0 returns w_b, L returns w_a.
  """
  w_a, w_b = jnp.asarray(w_a), jnp.asarray(w_b)
  num_layers = max(w_a.shape[-2], w_b.shape[-2])
  crossover = jnp.asarray(crossover)[..., None, None]            # (..., 1, 1) against (..., L, D)
  take_a = jnp.arange(num_layers)[:, None] < crossover
  return jnp.where(take_a, w_a, w_b)


def random_crossover(key: jax.Array, batch: int, num_layers: int, prob: float) -> jax.Array:
  """Per-sample crossover points for style-mixing regularisation: with probability `prob` a point uniform in
  [1, num_layers), otherwise num_layers (no mixing). Returns int32 (batch,)."""
  k_mix, k_cut = jax.random.split(key)
  cut = jax.random.randint(k_cut, (batch,), 1, max(num_layers, 2))
  mix = jax.random.uniform(k_mix, (batch,)) < prob
  return jnp.where(mix & (num_layers > 1), cut, num_layers).astype(jnp.int32)
