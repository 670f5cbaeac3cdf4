"""jaxgen's compact style-based networks (model.arch = "compact"): StyleGAN2's structure with cheaper resampling,
sized for CPU data (the published generator is `jaxgen.nn.stylegan2`).

Generator
  mapping    z (B, z_dim) --normalise--> `mapping_layers` equalised dense layers (lr x0.01) --> w (B, w_dim)
  synthesis  W+ (B, L, w_dim), L = 2 log2(R) - 2 styles for an R x R image:
             learned constant 4x4 -> StyleLayer(w_0) -> toRGB(w_1)
             per doubling r = 8..R: [up x2 -> StyleLayer(w_i)] -> StyleLayer(w_{i+1}); rgb = up(rgb) + toRGB(w_{i+2})
             StyleLayer = modulated 3x3 conv with weight demodulation -> noise * learned per-channel scale -> bias
             -> lrelu(0.2)*sqrt(2); toRGB = modulated 1x1 conv without demodulation (skip generator).
Discriminator  residual: fromRGB 1x1 -> per halving [conv3x3, down, conv3x3] + (down, 1x1) skip, summed / sqrt(2)
             -> 4x4: minibatch stddev, conv3x3, dense, dense 1.
Departures from StyleGAN2, for size (docs/reference.md §11): bilinear resampling in place of the [1,3,3,1] FIR
filter; the discriminator's second 3x3 conv of a block runs after its 2x2 average pooling.
"""
import dataclasses
import functools
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.errors import choice
from jaxgen.latent.mixing import broadcast_layers
from jaxgen.nn.modulated import (SQRT2, EqualConv2D, EqualDense, MappingNetwork, StyleLayer, ToRGB, downsample2x,
                                 lrelu_gain, minibatch_stddev, upsample2x)
from jaxgen.nn.stylegan2 import NOISE_MODES, GeneratorFunctions, block_resolutions, channels_at, num_ws


def noise_shapes(resolution: int) -> list:
  """(H, W) of each StyleLayer's noise input: 4x4 once, then two per resolution 8..R."""
  return [(4, 4)] + [(r, r) for r in block_resolutions(resolution)[1:] for _ in range(2)]


class Synthesis(nn.Module):
  """W+ (B, L, w_dim) -> images (B, R, R, channels), linear output (data range [-1, 1])."""
  resolution: int
  channels: int
  channel_base: int
  channel_max: int

  @nn.compact
  def __call__(self, ws: jax.Array, noise: Optional[tuple] = None) -> jax.Array:
    ch = functools.partial(channels_at, channel_base=self.channel_base, channel_max=self.channel_max)
    noise = noise if noise is not None else (None,) * len(noise_shapes(self.resolution))
    const = self.param("const", nn.initializers.normal(1.0), (4, 4, ch(4)))
    x = jnp.broadcast_to(const, (ws.shape[0], 4, 4, ch(4))).astype(ws.dtype)
    x = StyleLayer(ch(4), name="b4_conv")(x, ws[:, 0], noise[0])
    img = ToRGB(self.channels, name="b4_torgb")(x, ws[:, 1])
    i, n = 1, 1
    for res in block_resolutions(self.resolution)[1:]:
      x = StyleLayer(ch(res), upsample=True, name=f"b{res}_conv0")(x, ws[:, i], noise[n])
      x = StyleLayer(ch(res), name=f"b{res}_conv1")(x, ws[:, i + 1], noise[n + 1])
      img = upsample2x(img) + ToRGB(self.channels, name=f"b{res}_torgb")(x, ws[:, i + 2])
      i, n = i + 2, n + 2
    return img


class Generator(nn.Module):
  """Mapping + synthesis; `map` and `synthesize` are the two entry points (use via `StyleGenerator`)."""
  resolution: int
  channels: int
  z_dim: int
  w_dim: int
  mapping_layers: int
  mapping_lr_mul: float
  channel_base: int
  channel_max: int

  def setup(self):
    self.mapping_net = MappingNetwork(self.w_dim, self.mapping_layers, lr_mul=self.mapping_lr_mul)
    self.synthesis_net = Synthesis(self.resolution, self.channels, self.channel_base, self.channel_max)

  def map(self, z):
    return self.mapping_net(z)

  def synthesize(self, ws, noise=None):
    return self.synthesis_net(ws, noise)

  def __call__(self, z):
    return self.synthesize(broadcast_layers(self.map(z), num_ws(self.resolution)))


@dataclasses.dataclass(frozen=True)
class StyleGenerator(GeneratorFunctions):
  """The compact generator's functions (mapping, init, num_layers, ... from GeneratorFunctions) and its noise."""
  net: Generator

  def noise(self, key: Optional[jax.Array], batch: int, mode: str = "random") -> Optional[tuple]:
    """Per-layer noise maps: "random" (B, H, W, 1) per sample, "const" one map per layer shared by the batch
    (fixed by `key`: edits and interpolations keep the same stochastic detail), "none" (noise off)."""
    choice("noise_mode", mode, NOISE_MODES)
    if mode == "none" or key is None:
      return None
    keys = jax.random.split(key, len(noise_shapes(self.net.resolution)))
    rows = batch if mode == "random" else 1
    return tuple(jnp.broadcast_to(jax.random.normal(k, (rows, h, w, 1)), (batch, h, w, 1))
                 for k, (h, w) in zip(keys, noise_shapes(self.net.resolution)))

  def synthesis(self, params, w_plus: jax.Array, key: Optional[jax.Array] = None, noise_mode: str = "random"):
    """W+ (B, L, w_dim) -> images (B, R, R, C) in [-1, 1] (unclipped); key None or noise_mode "none": no noise."""
    noise = self.noise(key, w_plus.shape[0], noise_mode)
    return self.net.apply({"params": params}, w_plus, noise, method=Generator.synthesize)


class Discriminator(nn.Module):
  """Residual discriminator (StyleGAN2 'resnet'): images (B, R, R, C) -> logits (B,)."""
  resolution: int
  channel_base: int
  channel_max: int
  mbstd_group: int = 4

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    ch = functools.partial(channels_at, channel_base=self.channel_base, channel_max=self.channel_max)
    x = lrelu_gain(EqualConv2D(ch(self.resolution), 1, name="fromrgb")(x))
    for res in reversed(block_resolutions(self.resolution)[1:]):
      skip = EqualConv2D(ch(res // 2), 1, use_bias=False, name=f"b{res}_skip")(downsample2x(x))
      x = lrelu_gain(EqualConv2D(ch(res), 3, name=f"b{res}_conv0")(x))
      x = lrelu_gain(EqualConv2D(ch(res // 2), 3, name=f"b{res}_conv1")(downsample2x(x)))
      x = (skip + x) / SQRT2
    x = minibatch_stddev(x, self.mbstd_group)
    x = lrelu_gain(EqualConv2D(ch(4), 3, name="b4_conv")(x))
    x = lrelu_gain(EqualDense(ch(4), name="b4_fc")(x.reshape(x.shape[0], -1)))
    return EqualDense(1, name="b4_out")(x)[:, 0]
