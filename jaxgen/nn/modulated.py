"""Style-based building blocks (StyleGAN / StyleGAN2): equalised-learning-rate layers, modulated convolution
with weight demodulation, noise injection, toRGB, minibatch standard deviation and the mapping MLP.

Equations (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", eqs. 1-3):

  s      = A(w)                                        affine style, one scale per input channel (bias init 1)
  w'_ijk = s_i * w_ijk                                 modulation
  w''    = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps)     demodulation (per sample, per output channel j)

We use the mathematically identical "input-scaling" form (the paper's fused=False path): scale the input channels by
s, convolve with the shared kernel, multiply each output channel by the demodulation coefficient. One ordinary
convolution for the whole batch instead of a grouped convolution with per-sample kernels.

Equalised learning rate (Karras et al. 2018): parameters ~N(0, 1/lr_mul) scaled at run time by lr_mul * gain /
sqrt(fan_in) (`EqualDense`, `EqualConv2D`), so Adam's per-parameter step has the same effect on every layer.

Layout: images NHWC; w vectors (B, w_dim).
"""
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

SQRT2 = float(np.sqrt(2.0))


def lrelu_gain(x: jax.Array, slope: float = 0.2) -> jax.Array:
  """Leaky ReLU (slope 0.2) times sqrt(2): keeps unit second moment for a zero-mean unit-variance input (StyleGAN)."""
  return nn.leaky_relu(x, slope) * SQRT2


def upsample2x(x: jax.Array) -> jax.Array:
  """Bilinear x2 upsampling of NHWC images (half-pixel centres = the separable [1,3,3,1]/4 FIR of StyleGAN2)."""
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, 2 * h, 2 * w, c), "bilinear")


def downsample2x(x: jax.Array) -> jax.Array:
  """2x2 average pooling of NHWC images."""
  return nn.avg_pool(x, (2, 2), (2, 2))


class EqualDense(nn.Module):
  """Dense layer with equalised learning rate: y = x @ (W * lr_mul / sqrt(fan_in)) + b * lr_mul."""
  features: int
  lr_mul: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    fan_in = x.shape[-1]
    kernel = self.param("kernel", nn.initializers.normal(1.0 / self.lr_mul), (fan_in, self.features))
    y = x @ (kernel * float(self.lr_mul / np.sqrt(fan_in)))
    if self.use_bias:
      bias = self.param("bias", nn.initializers.constant(self.bias_init / self.lr_mul), (self.features,))
      y = y + bias * self.lr_mul
    return y


class EqualConv2D(nn.Module):
  """Conv2D (stride 1, SAME) with equalised learning rate: kernel ~ N(0,1) scaled by gain / sqrt(k*k*in)."""
  features: int
  kernel_size: int = 3
  use_bias: bool = True
  gain: float = 1.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k, cin = self.kernel_size, x.shape[-1]
    kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, cin, self.features))
    y = jax.lax.conv_general_dilated(x, kernel * float(self.gain / np.sqrt(k * k * cin)), (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


def modulated_conv2d(x: jax.Array, kernel: jax.Array, styles: jax.Array, demodulate: bool = True,
                     eps: float = 1e-8) -> jax.Array:
  """Modulated convolution (StyleGAN2 eqs. 1-3), stride 1, SAME padding.

  x: (B, H, W, I); kernel: (k, k, I, O) (any scale; demodulation removes it); styles: (B, I).
  Returns (B, H, W, O): conv(x, kernel * s[b, i]) with, if `demodulate`, each output channel of each sample
  divided by sqrt(sum_{k,k,i} (kernel * s[b, i])^2 + eps).
  """
  y = jax.lax.conv_general_dilated(x * styles[:, None, None, :].astype(x.dtype), kernel, (1, 1), "SAME",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
  if demodulate:
    # sum_{k,k,i} (w_kkio s_bi)^2 = sum_i s_bi^2 * (sum_kk w_kkio^2): a (B, I) @ (I, O) product.
    dcoefs = jax.lax.rsqrt(jnp.square(styles) @ jnp.sum(jnp.square(kernel), axis=(0, 1)) + eps)
    y = y * dcoefs[:, None, None, :].astype(y.dtype)
  return y


class ModulatedConv2D(nn.Module):
  """Affine style A(w) -> modulated (and demodulated) k x k convolution. Call with (x (B,H,W,I), w (B,w_dim))."""
  features: int
  kernel_size: int = 3
  demodulate: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    k, cin = self.kernel_size, x.shape[-1]
    styles = EqualDense(cin, bias_init=1.0, name="affine")(w)                    # s = A(w), ~1 at init
    kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, cin, self.features))
    if not self.demodulate:  # toRGB: equalised-lr gain folded into the styles (StyleGAN2's ToRGBLayer)
      styles = styles / float(np.sqrt(k * k * cin))
    return modulated_conv2d(x, kernel, styles, demodulate=self.demodulate)


class NoiseInjection(nn.Module):
  """x + strength_c * noise, noise ~ N(0,1) of shape (B, H, W, 1) broadcast over channels; strength init 0.

  `noise` is given explicitly, or None for no noise (the deterministic "noise off" mode).
  """

  @nn.compact
  def __call__(self, x: jax.Array, noise: Optional[jax.Array]) -> jax.Array:
    strength = self.param("strength", nn.initializers.zeros, (x.shape[-1],))
    if noise is None:
      return x
    return x + noise.astype(x.dtype) * strength


class StyleLayer(nn.Module):
  """One synthesis layer: [upsample x2] -> modulated 3x3 conv -> noise -> bias -> lrelu*sqrt(2)."""
  features: int
  upsample: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array, noise: Optional[jax.Array]) -> jax.Array:
    if self.upsample:
      x = upsample2x(x)
    x = ModulatedConv2D(self.features, 3, demodulate=True, name="conv")(x, w)
    x = NoiseInjection(name="noise")(x, noise)
    x = x + self.param("bias", nn.initializers.zeros, (self.features,))
    return lrelu_gain(x)


class ToRGB(nn.Module):
  """Modulated 1x1 convolution without demodulation, plus bias, linear output (B, H, W, channels)."""
  channels: int

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    y = ModulatedConv2D(self.channels, 1, demodulate=False, name="conv")(x, w)
    return y + self.param("bias", nn.initializers.zeros, (self.channels,))


def normalize_2nd_moment(z: jax.Array, eps: float = 1e-8) -> jax.Array:
  """z / sqrt(mean(z^2) + eps) over the last axis (the mapping network's input normalisation)."""
  return z * jax.lax.rsqrt(jnp.mean(jnp.square(z), axis=-1, keepdims=True) + eps)


class MappingNetwork(nn.Module):
  """z (B, z_dim) -> w (B, w_dim): normalise z, then `num_layers` equalised dense layers with lrelu*sqrt(2).

  `lr_mul` = 0.01 in StyleGAN (the mapping learns 100x slower than the synthesis network).
  """
  w_dim: int
  num_layers: int = 8
  hidden: Optional[int] = None
  lr_mul: float = 0.01

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    x = normalize_2nd_moment(z)
    for i in range(self.num_layers):
      last = i == self.num_layers - 1
      x = lrelu_gain(EqualDense(self.w_dim if last else (self.hidden or self.w_dim), lr_mul=self.lr_mul,
                                name=f"dense{i}")(x))
    return x


def minibatch_stddev(x: jax.Array, group_size: int = 4, num_features: int = 1) -> jax.Array:
  """Appends the minibatch standard deviation as `num_features` extra channels (Karras et al. 2018, StyleGAN2 form).

  x: (B, H, W, C) with B divisible by min(group_size, B). Samples b, b+G', ... (stride B/G) form a group; for each
  group, the std over the group of each feature (split of C into `num_features` parts), averaged over H, W and
  the part's channels, is broadcast as a constant map. Returns (B, H, W, C + num_features).
  """
  b, h, w, c = x.shape
  g = min(group_size, b)
  f = num_features
  y = x.reshape(g, b // g, h, w, f, c // f).astype(jnp.float32)   # [G, M, H, W, F, c]; sample index = g*M + m
  y = y - jnp.mean(y, axis=0)
  y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)              # [M, H, W, F, c]
  y = jnp.mean(y, axis=(1, 2, 4))                                    # [M, F]
  y = jnp.tile(y, (g, 1))                                            # [B, F]: sample g*M + m -> group m
  y = jnp.broadcast_to(y[:, None, None, :], (b, h, w, f)).astype(x.dtype)
  return jnp.concatenate([x, y], axis=-1)
