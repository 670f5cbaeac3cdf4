"""Importance-weighted likelihood bounds for latent-variable models (Burda, Grosse & Salakhutdinov, 2016).

For an encoder q(z|x) = N(mean, diag(exp(logvar))), the prior p(z) = N(0, I) and a decoder log-likelihood
log p(x|z):

  L_K(x) = E_{z_1..z_K ~ q} [ log (1/K) Σ_k p(x, z_k) / q(z_k|x) ]  ≤  log p(x)

L_1 is the ELBO, L_K increases with K and tends to log p(x). `iwae_bound` returns one Monte-Carlo draw of L_K per
example (in nats); average over a test set for the number to report. Everything is pure JAX and jit-able; the K
samples are processed in chunks inside a `lax.scan` with a running log-sum-exp, so memory is O(chunk × batch).
"""
from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import optax

LOG_2PI = math.log(2 * math.pi)


def diag_gaussian_log_prob(z, mean, logvar):
  """log N(z; mean, diag(exp(logvar))) summed over the last axis."""
  return -0.5 * jnp.sum(LOG_2PI + logvar + (z - mean) ** 2 * jnp.exp(-logvar), axis=-1)


def standard_normal_log_prob(z):
  """log N(z; 0, I) summed over the last axis."""
  return -0.5 * jnp.sum(LOG_2PI + z ** 2, axis=-1)


def gaussian_kl(mean, logvar):
  """KL(N(mean, diag(exp(logvar))) ‖ N(0, I)) summed over the last axis (closed form)."""
  return -0.5 * jnp.sum(1 + logvar - mean ** 2 - jnp.exp(logvar), axis=-1)


def bernoulli_log_likelihood(logits, x):
  """Σ_pixels log Bernoulli(x | sigmoid(logits)) for x in [0, 1] (the BCE the reference VAE trains with).

  For non-binary x (grey levels) this is not a normalised density (the continuous Bernoulli would add a
  normalising constant), so the resulting "log p(x)" compares models scored the same way, not other papers.
  """
  ll = -optax.sigmoid_binary_cross_entropy(logits, x)
  return jnp.sum(ll.reshape(ll.shape[0], -1), axis=-1)


def gaussian_log_likelihood(mean, x, sigma: float):
  """Σ_pixels log N(x | mean, sigma²): a fixed-variance Gaussian decoder (MSE loss up to scale)."""
  ll = -0.5 * (LOG_2PI + 2 * jnp.log(sigma) + ((x - mean) / sigma) ** 2)
  return jnp.sum(ll.reshape(ll.shape[0], -1), axis=-1)


def log_importance_weights(log_px_given_z: Callable, x, mean, logvar, eps):
  """log w = log p(x|z) + log p(z) − log q(z|x) for z = mean + exp(logvar/2)·eps; eps (B, D) -> (B,)."""
  z = mean + jnp.exp(0.5 * logvar) * eps
  return log_px_given_z(z, x) + standard_normal_log_prob(z) - diag_gaussian_log_prob(z, mean, logvar)


def iwae_bound(log_px_given_z: Callable, x, mean, logvar, key, num_samples: int, chunk: int = 16):
  """One Monte-Carlo estimate (B,) float32 of the importance-weighted bound L_K = log (1/K) Σ_k w_k on log p(x),
  per example, in nats.

  log_px_given_z: (z (B, D), x) -> (B,) decoder log-likelihood log p(x|z), e.g.
  `lambda z, x: bernoulli_log_likelihood(decode_logits(z), x)`. x: the data batch (B, ...); mean, logvar: q(z|x),
  (B, D). Sample k uses `jax.random.split(key, K)[k]` for its (B, D) noise, so K=1 with the same key is exactly the
  single-sample ELBO estimate. num_samples: K >= 1. chunk: samples decoded together (memory only, same result).
  """
  k_total = int(num_samples)
  if k_total < 1:
    raise ValueError(f"num_samples must be >= 1; got {num_samples}")
  chunk = max(1, min(int(chunk), k_total))
  groups = -(-k_total // chunk)
  keys = jax.random.split(key, k_total)
  pad = groups * chunk - k_total
  keys = jnp.concatenate([keys, jnp.zeros((pad,) + keys.shape[1:], keys.dtype)]).reshape(groups, chunk, -1)
  valid = (jnp.arange(groups * chunk) < k_total).reshape(groups, chunk)

  def one(k):
    eps = jax.random.normal(k, mean.shape, mean.dtype)
    return log_importance_weights(log_px_given_z, x, mean, logvar, eps)

  def body(acc, inputs):
    ks, ok = inputs
    logw = jax.vmap(one)(ks)                                          # (chunk, B)
    logw = jnp.where(ok[:, None], logw, -jnp.inf)
    return jnp.logaddexp(acc, jax.nn.logsumexp(logw, axis=0)), None

  init = jnp.full(mean.shape[:1], -jnp.inf, mean.dtype)
  total, _ = jax.lax.scan(body, init, (keys, valid))
  return total - math.log(k_total)


def elbo(log_px_given_z: Callable, x, mean, logvar, key):
  """The ELBO with the KL in closed form and one reconstruction sample: log p(x|z) − KL(q ‖ p), (B,) nats.

  Its expectation equals that of `iwae_bound(..., num_samples=1)`; the variance is lower.
  """
  eps = jax.random.normal(jax.random.split(key, 1)[0], mean.shape, mean.dtype)
  z = mean + jnp.exp(0.5 * logvar) * eps
  return log_px_given_z(z, x) - gaussian_kl(mean, logvar)


def bits_per_dim(nats_per_example, num_dims: int):
  """Converts nats per example to bits per dimension."""
  return nats_per_example / (num_dims * math.log(2.0))
