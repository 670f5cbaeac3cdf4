"""Classifier-free guidance (Ho & Salimans 2022) as a wrapper around an eps-function, so every sampler of
`jaxgen.samplers` samples a class-conditional model without knowing it is conditional.

A conditional network is trained with its label replaced by a null class (index num_classes) with probability p,
so the one network gives both eps(x, c) and eps(x, null); sampling follows

    eps_w(x, c) = (1 + w) eps(x, c) - w eps(x, null),          w >= 0 the guidance weight

(w = 0: the conditional model as trained; larger w trades diversity for samples that the class explains better).
"""
from typing import Callable

import jax.numpy as jnp

from jaxgen.samplers.diffusion import EpsFn

LabelEpsFn = Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]


def guided_eps(eps_cond: jnp.ndarray, eps_null: jnp.ndarray, guidance) -> jnp.ndarray:
  """(1 + w) eps_cond - w eps_null: the classifier-free guidance mix of the two predictions (any equal shapes)."""
  return (1.0 + guidance) * eps_cond - guidance * eps_null


def classifier_free_guidance(label_eps_fn: LabelEpsFn, labels: jnp.ndarray, null_label: int,
                             guidance: float) -> EpsFn:
  """The sampler's eps_fn(x_t, noise_rates, signal_rates) of label_eps_fn(x_t, noise_rates, signal_rates, labels)
  guided with weight `guidance` towards `labels` (n,) int.

  guidance = 0 (a Python number) makes one conditional call; otherwise the conditional and the null-label
  predictions come from one call on the batch stacked twice (2n), which a sampler counts as one evaluation.
  """
  labels = jnp.asarray(labels, jnp.int32)
  if isinstance(guidance, (int, float)) and guidance == 0:
    return lambda x, noise_rates, signal_rates: label_eps_fn(x, noise_rates, signal_rates, labels)
  both = jnp.concatenate([labels, jnp.full_like(labels, null_label)])

  def eps_fn(x, noise_rates, signal_rates):
    twice = lambda a: jnp.concatenate([a, a])
    eps = label_eps_fn(twice(x), twice(noise_rates), twice(signal_rates), both)
    eps_cond, eps_null = jnp.split(eps, 2)
    return guided_eps(eps_cond, eps_null, guidance)
  return eps_fn
