"""Interpolation between latents: linear (lerp), spherical (slerp) and the sin/cos quarter circle.

All take a, b of shape (..., D) (broadcastable) and t of shape (T,) or a scalar, and return (T, ..., D) for
vector t (one frame per t) or (..., D) for scalar t.
"""
from __future__ import annotations

import jax.numpy as jnp


def _frames(t, a):
  t = jnp.asarray(t, jnp.float32)
  return t.reshape(t.shape + (1,) * jnp.ndim(a)) if t.ndim else t


def lerp(a, b, t):
  """(1 − t)·a + t·b: the VAE `morph_faces` interpolation (t = 0 gives a, t = 1 gives b)."""
  a, b = jnp.asarray(a), jnp.asarray(b)
  t = _frames(t, a)
  return (1.0 - t) * a + t * b


def slerp(a, b, t, eps: float = 1e-7):
  """Spherical interpolation along the great circle from a to b (Shoemake), per vector over the last axis:
  sin((1 − t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b with cos Ω = â·b̂; falls back to lerp when a ∥ b."""
  a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
  t = _frames(t, a)
  na = jnp.linalg.norm(a, axis=-1, keepdims=True)
  nb = jnp.linalg.norm(b, axis=-1, keepdims=True)
  cos = jnp.clip(jnp.sum(a * b, axis=-1, keepdims=True) / jnp.maximum(na * nb, eps), -1.0, 1.0)
  omega = jnp.arccos(cos)
  so = jnp.sin(omega)
  small = so < 1e-4
  safe = jnp.where(small, 1.0, so)
  wa = jnp.where(small, 1.0 - t, jnp.sin((1.0 - t) * omega) / safe)
  wb = jnp.where(small, t, jnp.sin(t * omega) / safe)
  return wa * a + wb * b


def sincos_interpolation(a, b, t):
  """sin(tπ/2)·a + cos(tπ/2)·b (t = 0 gives b, t = 1 gives a): a quarter circle that treats a and b as orthogonal
  axes of equal length. It is not a slerp (the angle between a and b is not used); it is the diffusion
  notebooks' "spherical_interpolation" of two noises: for independent N(0, I) a, b every frame is again
  N(0, I), since sin² + cos² = 1."""
  a, b = jnp.asarray(a), jnp.asarray(b)
  t = _frames(t, a)
  return jnp.sin(t * jnp.pi / 2) * a + jnp.cos(t * jnp.pi / 2) * b

