"""Generator and discriminator/critic networks of the GAN family (the DCGAN / WGAN-GP notebooks, WGAN-GP toy code).

  Generator     z (B, Z) [+ one-hot (B, K)] -> images (B, S, S, C) in [-1, 1]: the DCGAN Conv2DTranspose stack.
  ConvCritic    images (B, S, S, C) [+ one-hot label maps] -> (B,) logits (DCGAN D) or critic scores (WGAN).
  MLPGenerator  z (B, Z) [+ one-hot] -> points (B, 2): the WGAN-GP paper's toy generator (3 x 512 ReLU).
  MLPCritic     points (B, 2) [+ one-hot] -> (B,) scores/logits (3 x 512 ReLU, linear output).

Image size S = 4·2^n: the generator projects the latent to a 4x4 map with a stride-1 VALID 4x4 transposed
convolution (`features[0]` channels), doubles the resolution n−1 times (`features[1:]`), then a last stride-2
transposed convolution to C channels with tanh. The critic halves the resolution n times (`features`), then a
4x4 VALID convolution gives one number per example. `adapt_features` maps the reference widths (written for
64x64, n = 4) to other sizes. All layers are the Keras-default `jaxgen.nn.layers`.
"""
from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn import layers

def num_blocks(image_size: int) -> int | None:
  """n with image_size = 4·2^n (n >= 1), or None when image_size is not of that form."""
  n = math.log2(image_size / 4) if image_size >= 8 else -1
  return int(n) if n >= 1 and float(n).is_integer() else None


def adapt_features(features: Sequence[int], n: int, role: str) -> tuple[int, ...]:
  """Adapts a width list written for one image size to n blocks.

  The reference lists are ordered from the latent/projection side (generator, widest first: 512, 256, 128, 64)
  and from the image side (critic, narrowest first: 64, 128, 256, 512). Too many widths: keep the n closest to
  the image (generator: the last n; critic: the first n). Too few: add blocks on the latent side with twice the
  width (generator: prepend; critic: append).
  """
  f = [int(w) for w in features]
  if role == "generator":
    f = f[-n:] if len(f) >= n else [f[0] * 2 ** (n - len(f) - i) for i in range(n - len(f))] + f
  elif role == "critic":
    f = f[:n] if len(f) >= n else f + [f[-1] * 2 ** (i + 1) for i in range(n - len(f))]
  else:
    raise ValueError(role)
  return tuple(f)


def label_maps(onehot: jax.Array, height: int, width: int) -> jax.Array:
  """(B, K) one-hot -> (B, H, W, K) constant label maps (the reference's repeat(repeat(...)))."""
  return jnp.broadcast_to(onehot[:, None, None, :], (onehot.shape[0], height, width, onehot.shape[-1]))


class Generator(nn.Module):
  """DCGAN generator: (B, Z) latents [+ (B, K) one-hot labels] -> (B, S, S, channels) in [-1, 1].

  features: widths of the 4x4 projection and the upsampling blocks, S = 4·2^len(features). Each block is
  ConvTranspose 4x4 (no bias) -> BatchNorm(momentum) -> LeakyReLU(slope); the output layer is
  ConvTranspose(channels, 4x4, stride 2, same) -> tanh, with a bias only if `final_bias` (DCGAN: no; WGAN-GP: yes).
  """
  features: Sequence[int] = (512, 256, 128, 64)
  channels: int = 1
  final_bias: bool = False
  bn_momentum: float = 0.9
  slope: float = layers.DCGAN_LEAKY_SLOPE

  @nn.compact
  def __call__(self, z: jax.Array, onehot: jax.Array | None = None, *, train: bool) -> jax.Array:
    h = z if onehot is None else jnp.concatenate([z, onehot.astype(z.dtype)], axis=-1)
    h = h[:, None, None, :]                                                        # Reshape (1, 1, Z[+K])
    for i, width in enumerate(self.features):
      first = i == 0
      h = layers.ConvTranspose(width, (4, 4), strides=1 if first else 2, padding="VALID" if first else "SAME",
                               use_bias=False)(h)
      h = layers.BatchNorm(use_running_average=not train, momentum=self.bn_momentum)(h)
      h = layers.leaky_relu(h, self.slope)
    h = layers.ConvTranspose(self.channels, (4, 4), strides=2, padding="SAME", use_bias=self.final_bias)(h)
    return jnp.tanh(h)


class ConvCritic(nn.Module):
  """Strided-convolution discriminator (DCGAN) or critic (WGAN, WGAN-GP, conditional WGAN-GP).

  (B, S, S, C) images [+ (B, K) one-hot labels, concatenated as K constant channels] -> (B,) linear outputs:
  logits of "real" for the DCGAN discriminator (the reference's sigmoid is folded into the loss), Wasserstein
  critic scores otherwise. Block i: Conv(features[i], 4x4, stride 2, same) -> [BatchNorm if batch_norm and
  i > 0] -> LeakyReLU(slopes[i]) -> [Dropout(dropout) if i >= dropout_from]; then Conv(1, 4x4, valid).

  DCGAN D (§4): batch_norm=True, use_bias=False, slopes 0.2, dropout_from=0.
  WGAN-GP critic (§5, §6): batch_norm=False, use_bias=True, slopes (0.2, 0.3, 0.2, ...), dropout_from=1.
  """
  features: Sequence[int] = (64, 128, 256, 512)
  batch_norm: bool = False
  use_bias: bool = True
  slopes: Sequence[float] = (0.2, 0.3, 0.2, 0.2)
  dropout: float = 0.3
  dropout_from: int = 1
  bn_momentum: float = 0.9

  @nn.compact
  def __call__(self, x: jax.Array, onehot: jax.Array | None = None, *, train: bool) -> jax.Array:
    h = x
    if onehot is not None:
      h = jnp.concatenate([h, label_maps(onehot.astype(x.dtype), x.shape[1], x.shape[2])], axis=-1)
    for i, width in enumerate(self.features):
      h = layers.Conv(width, (4, 4), strides=2, padding="SAME", use_bias=self.use_bias)(h)
      if self.batch_norm and i > 0:
        h = layers.BatchNorm(use_running_average=not train, momentum=self.bn_momentum)(h)
      h = layers.leaky_relu(h, self.slopes[i])
      if i >= self.dropout_from and self.dropout > 0:
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
    h = layers.Conv(1, (4, 4), strides=1, padding="VALID", use_bias=self.use_bias)(h)
    return h.reshape(h.shape[0])


def _relu_mlp(x: jax.Array, onehot: jax.Array | None, hidden: Sequence[int], out_dim: int) -> jax.Array:
  """[x, one-hot] -> len(hidden) x (Dense, ReLU) -> Dense(out_dim); called inside a compact module (its Dense_i)."""
  h = x if onehot is None else jnp.concatenate([x, onehot.astype(x.dtype)], axis=-1)
  for width in hidden:
    h = nn.relu(layers.Dense(width)(h))
  return layers.Dense(out_dim)(h)


class MLPGenerator(nn.Module):
  """Toy generator of the WGAN-GP paper (gan_toy.py): z (B, Z) [+ one-hot] -> 3 x (Dense 512, ReLU) -> Dense 2."""
  hidden: Sequence[int] = (512, 512, 512)
  out_dim: int = 2

  @nn.compact
  def __call__(self, z: jax.Array, onehot: jax.Array | None = None, *, train: bool) -> jax.Array:
    del train
    return _relu_mlp(z, onehot, self.hidden, self.out_dim)


class MLPCritic(nn.Module):
  """Toy critic/discriminator of the WGAN-GP paper: x (B, 2) [+ one-hot] -> 3 x (Dense 512, ReLU) -> Dense 1."""
  hidden: Sequence[int] = (512, 512, 512)

  @nn.compact
  def __call__(self, x: jax.Array, onehot: jax.Array | None = None, *, train: bool) -> jax.Array:
    del train
    return _relu_mlp(x, onehot, self.hidden, 1).reshape(x.shape[0])
