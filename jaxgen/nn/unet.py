"""Noise-prediction networks of the diffusion family: the reference U-Net (the keras.io DDIM example, layer for layer
with the Keras defaults made explicit; its layers, widths and parameter counts: docs/reference.md §8) and an MLP for
2-D toy data. The U-Net works for any H, W divisible by 2^len(widths) and any channel count:

    x = Conv1x1(32)(x_t) || upsample(sinusoidal_embedding(noise_variance) [+ label_embedding(label)])  -> HxWx64
    DownBlock(32) -> DownBlock(64) -> DownBlock(96) -> ResidualBlock(128) x 2 -> UpBlock(96) -> UpBlock(64)
    -> UpBlock(32) -> Conv1x1(channels, zero-initialised)                    -> eps_hat

With num_classes = K > 0 the U-Net is class-conditional for classifier-free guidance (Ho & Salimans 2022): a
learned embedding of the label in [0, K] (K: the null class, "no label") is added, through a Dense layer of its
own, between the two convolutions of every residual block, as DDPM's U-Net adds its time embedding (entering at
the input alone, the label must survive every block, and short trainings learn to ignore it: docs/results.md).
"""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.nn import layers
from jaxgen.nn.embedding import sinusoidal_embedding

_kernel_init = nn.initializers.glorot_uniform()  # Keras default


def _conv(features: int, kernel: int, name=None, impl: str = "auto", **kwargs) -> nn.Module:
  """A stride-1 "same" convolution with glorot-uniform kernel and zero bias (`jaxgen.nn.layers.Conv`'s defaults)."""
  return layers.Conv(features, (kernel, kernel), padding="SAME", name=name, impl=impl, **kwargs)


def upsample_bilinear_2x(x: jnp.ndarray) -> jnp.ndarray:
  """x2 bilinear upsampling with half-pixel centres (Keras `UpSampling2D(2, interpolation="bilinear")`). NHWC.

  For x2 upsampling `jax.image.resize`'s edge renormalisation equals TF's edge clamping:
  out[2i] = 0.25 x[i-1] + 0.75 x[i], out[2i+1] = 0.75 x[i] + 0.25 x[i+1], with x[-1] := x[0], x[n] := x[n-1]
  (tests/test_unet.py checks it against that NumPy formula).
  """
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, 2 * h, 2 * w, c), method="bilinear")


class ResidualBlock(nn.Module):
  """BN (no affine) -> Conv3x3 + swish [+ Dense(cond)] -> Conv3x3, plus the input (1x1-projected when the widths
  differ). `cond` (B, D): a conditioning vector added to every pixel between the convolutions (DDPM's ResBlock)."""
  width: int
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x, train: bool, cond=None):
    residual = x if x.shape[-1] == self.width else _conv(self.width, 1, name="residual", impl=self.conv_impl)(x)
    x = layers.BatchNorm(use_running_average=not train, use_bias=False, use_scale=False)(x)  # Keras 0.99 / 1e-3
    x = nn.swish(_conv(self.width, 3, impl=self.conv_impl)(x))
    if cond is not None:
      x = x + nn.Dense(self.width, kernel_init=_kernel_init, name="cond")(cond)[:, None, None, :].astype(x.dtype)
    x = _conv(self.width, 3, impl=self.conv_impl)(x)
    return x + residual


class UNet(nn.Module):
  """eps_hat = UNet()(x_t (B,H,W,C), noise_variances (B,1,1,1), train, labels (B,) int in [0, num_classes]).

  Output (B,H,W,C) (or out_channels). `labels` only (and then always) for num_classes > 0.
  """
  widths: Sequence[int] = (32, 64, 96)
  block_depth: int = 2
  bottleneck_width: int = 128
  bottleneck_depth: int = 2
  embedding_dim: int = 32
  out_channels: int = 0  # 0: the input's channel count
  conv_impl: str = "auto"  # "auto" (per backend) or a key of jaxgen.nn.conv.CONV_IMPLS (same function)
  num_classes: int = 0     # > 0: class-conditional on labels 0..num_classes - 1, num_classes = the null class

  @nn.compact
  def __call__(self, x_t, noise_variances, train: bool = False, labels=None):
    b, h, w, c = x_t.shape
    factor = 2 ** len(self.widths)
    if h % factor or w % factor:
      raise ValueError(f"UNet: image size {h}x{w} must be divisible by {factor} (2 ** len(widths)).")
    if (labels is None) != (self.num_classes == 0):
      raise ValueError(f"UNet(num_classes={self.num_classes}) needs labels exactly when num_classes > 0.")
    emb = sinusoidal_embedding(jnp.reshape(noise_variances, (b, 1, 1, 1)), self.embedding_dim, dtype=x_t.dtype)
    cond = None
    if self.num_classes:   # the label, embedded at unit scale, enters every residual block
      cond = nn.Embed(self.num_classes + 1, self.embedding_dim, embedding_init=nn.initializers.normal(1.0),
                      name="label_embedding")(labels)
    emb = jnp.broadcast_to(emb, (b, h, w, self.embedding_dim))       # UpSampling2D(size=H, "nearest") of 1x1
    x = jnp.concatenate([_conv(self.widths[0], 1, impl=self.conv_impl)(x_t), emb], axis=-1)

    skips = []
    for width in self.widths:                                          # DownBlocks
      for _ in range(self.block_depth):
        x = ResidualBlock(width, self.conv_impl)(x, train, cond)
        skips.append(x)
      x = nn.avg_pool(x, (2, 2), strides=(2, 2))
    for _ in range(self.bottleneck_depth):
      x = ResidualBlock(self.bottleneck_width, self.conv_impl)(x, train, cond)
    for width in reversed(self.widths):                                # UpBlocks
      x = upsample_bilinear_2x(x)
      for _ in range(self.block_depth):
        x = jnp.concatenate([x, skips.pop()], axis=-1)
        x = ResidualBlock(width, self.conv_impl)(x, train, cond)
    return _conv(self.out_channels or c, 1, name="head", impl=self.conv_impl,
                 kernel_init=nn.initializers.zeros)(x)


class MLPDenoiser(nn.Module):
  """eps_hat = MLPDenoiser()(x_t (B,D), noise_variances (B,1), train) for low-dimensional data (toy 2-D).

  The same sinusoidal embedding of the noise variance is concatenated to the input; swish hidden layers; a
  zero-initialised linear head (eps_hat = 0 at initialisation, like the U-Net). `train` is unused (no BN).
  """
  hidden: Sequence[int] = (256, 256, 256)
  embedding_dim: int = 32

  @nn.compact
  def __call__(self, x_t, noise_variances, train: bool = False):
    del train
    b, d = x_t.shape
    emb = sinusoidal_embedding(jnp.reshape(noise_variances, (b, 1)), self.embedding_dim, dtype=x_t.dtype)
    x = jnp.concatenate([x_t, emb], axis=-1)
    for width in self.hidden:
      x = nn.swish(nn.Dense(width, kernel_init=_kernel_init)(x))
    return nn.Dense(d, kernel_init=nn.initializers.zeros, name="head")(x)
