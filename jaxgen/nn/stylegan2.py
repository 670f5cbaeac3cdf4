"""The published StyleGAN2-ADA generator (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data"; architecture of "Analyzing and Improving the Image Quality of StyleGAN", config F), at any
resolution and channel schedule. Parameter names and layouts are the official PyTorch ones, so an official
`G_ema` state dict maps onto `params` name for name (see jaxgen.convert):

  mapping.fc{i}.{weight (out, in), bias (out,)}          i < mapping_layers, all with lrelu, lr multiplier 0.01
  synthesis.b4.const (C4, 4, 4)
  synthesis.b{R}.conv0 / conv1 / torgb                   conv0 only for R >= 8 (x2 upsampling)
     .affine.{weight (I, w_dim), bias (I,)}              style s = A(w), bias initialised to 1
     .weight (O, I, k, k), .bias (O,)                    k = 3 (conv), 1 (torgb)
     .noise_strength (), .noise_const (R, R)             conv layers only; noise_const is the constant noise map

Equations (one synthesis layer, w its style vector, x its input):
  s = A(w) = w @ (W_A / sqrt(w_dim)).T + b_A
  y = conv(x * s, W) * d,   d_o = 1 / sqrt(sum_{i,k,k} (W_oikk s_i)^2 + 1e-8)      (modulation, demodulation)
  y = y + noise_strength * n,  n ~ N(0, 1) per pixel ("random"), noise_const ("const") or 0 ("none")
  y = clamp(lrelu_0.2(y + b) * sqrt(2), -conv_clamp, conv_clamp)
  upsampling layers: transposed 3x3 convolution (stride 2) followed by the [1,3,3,1] FIR filter (gain 4);
  toRGB: s scaled by 1/sqrt(I), no demodulation, linear, clamped; rgb = upsample2d(rgb) + toRGB(x) (skip generator).
Mapping: z / sqrt(mean(z^2) + 1e-8), then `mapping_layers` dense layers, weights N(0, 1/lr_mul^2) scaled at run time
by lr_mul / sqrt(fan_in), bias scaled by lr_mul. Styles: num_ws = 2 log2(R) - 2; block b{R} uses ws[i], ws[i+1]
(convs) and ws[i+2] (toRGB), with i advancing by 2 per block (a toRGB shares its w with the next block's conv0).
The official networks run the highest resolutions in float16; this implementation is float32 throughout.
Layout of activations: NHWC.
"""
import dataclasses
import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nn.modulated import SQRT2, normalize_2nd_moment
from jaxgen.nn.upfirdn2d import setup_filter, upfirdn2d, upsample2d

NOISE_MODES = ("random", "const", "none")


def bias_act(x: jax.Array, b: jax.Array, act: str = "linear", clamp: Optional[float] = None) -> jax.Array:
  """act(x + b) * gain, clipped to [-clamp, clamp]: gain sqrt(2) for lrelu (slope 0.2), 1 for linear. b on the last
  axis."""
  x = x + b
  if act == "lrelu":
    x = jnp.where(x >= 0, x, 0.2 * x) * SQRT2
  return x if clamp is None else jnp.clip(x, -clamp, clamp)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
  """Feature maps of block b{res}: min(channel_base // res, channel_max), at least 1 (FFHQ-1024: 512 up to 64, ...,
  32 at 1024)."""
  return max(1, min(channel_base // res, channel_max))


def block_resolutions(resolution: int) -> list:
  """[4, 8, ..., resolution]: the side of each synthesis block."""
  return [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]


def num_ws(resolution: int) -> int:
  """Styles of an R x R synthesis network: 2 log2(R) - 2 (1024 -> 18)."""
  return 2 * int(math.log2(resolution)) - 2


class FullyConnected(nn.Module):
  """Equalised-lr dense layer in the official layout: weight (out, in) ~ N(0, 1/lr_mul^2), bias = bias_init."""
  features: int
  lr_mul: float = 1.0
  bias_init: float = 0.0
  activation: str = "linear"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    fan_in = x.shape[-1]
    weight = self.param("weight", nn.initializers.normal(1.0 / self.lr_mul), (self.features, fan_in))
    bias = self.param("bias", nn.initializers.constant(self.bias_init), (self.features,))
    return bias_act(x @ (weight * (self.lr_mul / np.sqrt(fan_in))).T, bias * self.lr_mul, self.activation)


class Mapping(nn.Module):
  """z (B, z_dim) [, c (B, c_dim) one-hot labels] -> w (B, w_dim).

  c_dim > 0 (a conditional generator, as NVIDIA's MappingNetwork): the label's embedding `embed` (a linear
  equalised-lr layer c_dim -> w_dim, lr multiplier 1), normalised to unit second moment like z, is concatenated
  after z before the first layer (fc0 then has z_dim + w_dim inputs)."""
  w_dim: int
  num_layers: int = 8
  lr_mul: float = 0.01
  c_dim: int = 0

  @nn.compact
  def __call__(self, z: jax.Array, c: Optional[jax.Array] = None) -> jax.Array:
    x = normalize_2nd_moment(z.astype(jnp.float32))
    if self.c_dim:
      c = jnp.zeros((z.shape[0], self.c_dim), jnp.float32) if c is None else c.astype(jnp.float32)
      y = normalize_2nd_moment(FullyConnected(self.w_dim, name="embed")(c))
      x = jnp.concatenate([x, y], axis=1)
    for i in range(self.num_layers):
      x = FullyConnected(self.w_dim, self.lr_mul, activation="lrelu", name=f"fc{i}")(x)
    return x


def modulated_conv2d(x: jax.Array, weight: jax.Array, styles: jax.Array, demodulate: bool = True, up: int = 1,
                     resample_filter: Optional[np.ndarray] = None) -> jax.Array:
  """x (B, H, W, I); weight (O, I, k, k) (official layout); styles (B, I) -> (B, up H, up W, O).

  up = 1: correlation with `weight`, padding k // 2 (torch's conv2d). up = 2: the official transposed convolution
  (zero insertion + true convolution with `weight`) followed by the FIR filter with gain up^2.
  """
  k = weight.shape[-1]
  kernel = jnp.transpose(weight, (2, 3, 1, 0))                                   # (k, k, I, O)
  x = x * styles[:, None, None, :].astype(x.dtype)
  dn = ("NHWC", "HWIO", "NHWC")
  if up == 1:
    y = jax.lax.conv_general_dilated(x, kernel, (1, 1), [(k // 2, k // 2)] * 2, dimension_numbers=dn)
  else:
    y = jax.lax.conv_general_dilated(x, kernel[::-1, ::-1], (1, 1), [(k - 1, k - 1)] * 2, lhs_dilation=(up, up),
                                     dimension_numbers=dn)
    fw = resample_filter.shape[0]
    p0 = k // 2 + (fw + up - 1) // 2 - (k - 1)
    p1 = k // 2 + (fw - up) // 2 - (k - up)
    y = upfirdn2d(y, resample_filter, padding=(p0, p1, p0, p1), gain=up * up)
  if demodulate:
    dcoefs = jax.lax.rsqrt(jnp.square(styles) @ jnp.sum(jnp.square(weight), axis=(2, 3)).T + 1e-8)  # (B, O)
    y = y * dcoefs[:, None, None, :].astype(y.dtype)
  return y


class SynthesisLayer(nn.Module):
  """Modulated 3x3 conv (x2 upsampling if up=2) + noise + bias + lrelu*sqrt(2) + clamp: (B,H,W,I) -> (B,R,R,O)."""
  features: int
  resolution: int
  up: int = 1
  conv_clamp: Optional[float] = None
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x, w, noise_mode: str = "random", key=None):
    cin, k, r = x.shape[-1], self.kernel_size, self.resolution
    styles = FullyConnected(cin, bias_init=1.0, name="affine")(w)
    weight = self.param("weight", nn.initializers.normal(1.0), (self.features, cin, k, k))
    noise_const = self.param("noise_const", nn.initializers.normal(1.0), (r, r))
    strength = self.param("noise_strength", nn.initializers.zeros, ())
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    x = modulated_conv2d(x, weight, styles, up=self.up, resample_filter=setup_filter())
    if noise_mode == "random" and key is not None:
      x = x + jax.random.normal(key, (x.shape[0], r, r, 1), x.dtype) * strength
    elif noise_mode == "const":
      x = x + noise_const[None, :, :, None].astype(x.dtype) * strength
    return bias_act(x, bias, "lrelu", self.conv_clamp)


class ToRGB(nn.Module):
  """Modulated 1x1 conv without demodulation (styles scaled by 1/sqrt(I)) + bias, clamped: (B,H,W,I) -> (B,H,W,C)."""
  channels: int
  conv_clamp: Optional[float] = None

  @nn.compact
  def __call__(self, x, w):
    cin = x.shape[-1]
    styles = FullyConnected(cin, bias_init=1.0, name="affine")(w) / np.sqrt(cin)
    weight = self.param("weight", nn.initializers.normal(1.0), (self.channels, cin, 1, 1))
    bias = self.param("bias", nn.initializers.zeros, (self.channels,))
    return bias_act(modulated_conv2d(x, weight, styles, demodulate=False), bias, "linear", self.conv_clamp)


class SynthesisBlock(nn.Module):
  """Block b{resolution}: ([const] | conv0 up) -> conv1 -> torgb; returns (x, img)."""
  features: int
  resolution: int
  channels: int
  conv_clamp: Optional[float] = None

  @nn.compact
  def __call__(self, x, img, ws, noise_mode, keys):
    if x is None:
      const = self.param("const", nn.initializers.normal(1.0), (self.features, 4, 4))
      x = jnp.broadcast_to(jnp.transpose(const, (1, 2, 0))[None], (ws.shape[0], 4, 4, self.features))
      x = SynthesisLayer(self.features, 4, conv_clamp=self.conv_clamp, name="conv1")(x, ws[:, 0], noise_mode, keys[0])
    else:
      x = SynthesisLayer(self.features, self.resolution, up=2, conv_clamp=self.conv_clamp, name="conv0")(
          x, ws[:, 0], noise_mode, keys[0])
      x = SynthesisLayer(self.features, self.resolution, conv_clamp=self.conv_clamp, name="conv1")(
          x, ws[:, 1], noise_mode, keys[1])
    y = ToRGB(self.channels, self.conv_clamp, name="torgb")(x, ws[:, -1])
    img = y if img is None else upsample2d(img, setup_filter()) + y
    return x, img


class Synthesis(nn.Module):
  """W+ (B, num_ws, w_dim) -> images (B, R, R, channels), linear (data range [-1, 1])."""
  resolution: int
  channels: int
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = None

  @nn.compact
  def __call__(self, ws: jax.Array, noise_mode: str = "random", key: Optional[jax.Array] = None) -> jax.Array:
    res_list = block_resolutions(self.resolution)
    keys = list(jax.random.split(key, 2 * len(res_list))) if key is not None else [None] * (2 * len(res_list))
    x = img = None
    i = 0
    for n, res in enumerate(res_list):
      num_conv = 1 if res == 4 else 2
      block = SynthesisBlock(channels_at(res, self.channel_base, self.channel_max), res, self.channels,
                             self.conv_clamp, name=f"b{res}")
      x, img = block(x, img, ws[:, i:i + num_conv + 1], noise_mode, keys[2 * n:2 * n + 2])
      i += num_conv
    return img


class Generator(nn.Module):
  """mapping + synthesis; entry points `map` (z -> w) and `synthesize` (W+ -> image)."""
  resolution: int
  channels: int = 3
  z_dim: int = 512
  w_dim: int = 512
  mapping_layers: int = 8
  mapping_lr_mul: float = 0.01
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = None
  c_dim: int = 0                 # > 0: a conditional generator (labels one-hot, see Mapping)

  def setup(self):
    self.mapping = Mapping(self.w_dim, self.mapping_layers, self.mapping_lr_mul, self.c_dim)
    self.synthesis = Synthesis(self.resolution, self.channels, self.channel_base, self.channel_max, self.conv_clamp)

  def map(self, z, c=None):
    return self.mapping(z, c)

  def synthesize(self, ws, noise_mode="random", key=None):
    return self.synthesis(ws, noise_mode, key)

  def __call__(self, z):
    w = self.map(z)
    return self.synthesize(jnp.broadcast_to(w[:, None], (w.shape[0], num_ws(self.resolution), w.shape[-1])), "none")


@dataclasses.dataclass(frozen=True)
class GeneratorFunctions:
  """Pure functions of a style-based generator `net` (a Flax module with resolution, z_dim, w_dim, `map` and
  `synthesize`) over a params pytree: what `jaxgen.latent` tools and the stylegan family call. Hashable."""
  net: nn.Module

  @property
  def num_layers(self) -> int:
    return num_ws(self.net.resolution)

  @property
  def z_dim(self) -> int:
    return self.net.z_dim

  @property
  def w_dim(self) -> int:
    return self.net.w_dim

  @property
  def c_dim(self) -> int:
    """Classes of a conditional generator (0: unconditional)."""
    return getattr(self.net, "c_dim", 0)

  def init(self, key: jax.Array):
    return self.net.init(key, jnp.zeros((2, self.z_dim)))["params"]

  def mapping(self, params, z: jax.Array, c: Optional[jax.Array] = None) -> jax.Array:
    """z (B, z_dim) [, c (B, c_dim) one-hot labels of a conditional generator] -> w (B, w_dim)."""
    if c is None:
      return self.net.apply({"params": params}, z, method="map")
    return self.net.apply({"params": params}, z, c, method="map")  # by name: self.net may be a jaxgen.nn.policy.Policy


@dataclasses.dataclass(frozen=True)
class StyleGAN2ADAGenerator(GeneratorFunctions):
  """The published generator's functions. noise_mode "random": fresh N(0, 1) maps from `key` (key None: no noise);
  "const": the learned noise_const maps; "none": no noise."""
  net: Generator

  def synthesis(self, params, w_plus: jax.Array, key: Optional[jax.Array] = None, noise_mode: str = "random"):
    """W+ (B, num_ws, w_dim) -> images (B, R, R, C) in [-1, 1] (unclipped)."""
    return self.net.apply({"params": params}, w_plus, noise_mode, key, method=Generator.synthesize)
