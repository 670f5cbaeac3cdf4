"""Sinusoidal embedding of a scalar (the `sinusoidal_embedding` of the keras.io DDIM example)."""
import math

import jax.numpy as jnp
import numpy as np


def sinusoidal_embedding(x: jnp.ndarray, dim: int = 32, min_frequency: float = 1.0,
                         max_frequency: float = 1000.0, dtype=jnp.float32) -> jnp.ndarray:
  """concat[sin(2 pi f x), cos(2 pi f x)] over dim/2 frequencies f log-spaced from min to max frequency.

  x: (..., 1), e.g. the noise variance noise_rate^2 of shape (B, 1, 1, 1) or (B, 1). Returns (..., dim) in
  `dtype`: the first dim/2 entries are the sines, the rest the cosines (the reference's channel order). The angles
  (up to 2 pi max_frequency x) are always computed in float32 from a float32 x: a bfloat16 angle would be off by
  radians.
  """
  if dim % 2:
    raise ValueError(f"sinusoidal_embedding: dim={dim} must be even (sines and cosines).")
  # Constants computed in float64 and rounded once to float32 (the float32 exp of the reference adds ~2e-3 rad
  # of error to the largest angles).
  frequencies = np.exp(np.linspace(math.log(min_frequency), math.log(max_frequency), dim // 2))
  angular_speeds = jnp.asarray(2.0 * math.pi * frequencies, jnp.float32)
  x = jnp.asarray(x, jnp.float32)
  return jnp.concatenate([jnp.sin(angular_speeds * x), jnp.cos(angular_speeds * x)], axis=-1).astype(dtype)
