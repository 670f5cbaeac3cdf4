"""Test helpers for the StyleGAN2-ADA generator, written from the official PyTorch code's structure and
algorithm, independent of jaxgen's implementation:

  official_shapes(...)     the G_ema state dict's {name: shape} (parameters and buffers)
  forward(sd, z, ...)      a NumPy (float64, NCHW) forward pass: per-sample modulated + demodulated kernels (the
                           official "fused" form), transposed convolution by explicit scatter-add, upfirdn2d by
                           explicit zero insertion + padding + filtering.
"""
import numpy as np

BUFFER_SUFFIXES = ("w_avg", "resample_filter", "noise_const")


def official_shapes(res, img_channels=3, z_dim=512, w_dim=512, mapping_layers=8, channel_base=32768,
                    channel_max=512, c_dim=0):
  ch = lambda r: min(channel_base // r, channel_max)
  t = {}
  if c_dim:                                     # MappingNetwork.embed: FullyConnectedLayer(c_dim, w_dim)
    t["mapping.embed.weight"] = (w_dim, c_dim)
    t["mapping.embed.bias"] = (w_dim,)
  for i in range(mapping_layers):
    t[f"mapping.fc{i}.weight"] = (w_dim, (z_dim + (w_dim if c_dim else 0)) if i == 0 else w_dim)
    t[f"mapping.fc{i}.bias"] = (w_dim,)
  t["mapping.w_avg"] = (w_dim,)
  r = 4
  while r <= res:
    b = f"synthesis.b{r}."
    t[b + "resample_filter"] = (4, 4)
    if r == 4:
      t[b + "const"] = (ch(4), 4, 4)
    for conv, cin in ([("conv1", ch(4))] if r == 4 else [("conv0", ch(r // 2)), ("conv1", ch(r))]):
      p = b + conv + "."
      t[p + "resample_filter"] = (4, 4)
      t[p + "affine.weight"] = (cin, w_dim)
      t[p + "affine.bias"] = (cin,)
      t[p + "weight"] = (ch(r), cin, 3, 3)
      t[p + "noise_const"] = (r, r)
      t[p + "noise_strength"] = ()
      t[p + "bias"] = (ch(r),)
    t[b + "torgb.affine.weight"] = (ch(r), w_dim)
    t[b + "torgb.affine.bias"] = (ch(r),)
    t[b + "torgb.weight"] = (img_channels, ch(r), 1, 1)
    t[b + "torgb.bias"] = (img_channels,)
    r *= 2
  return t


def fir():
  f = np.outer([1.0, 3.0, 3.0, 1.0], [1.0, 3.0, 3.0, 1.0])
  return f / f.sum()


def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
  """x (N, C, H, W): zero insertion, padding (x0, x1, y0, y1), true convolution with f * gain, decimation."""
  n, c, h, w = x.shape
  xu = np.zeros((n, c, h * up, w * up))
  xu[:, :, ::up, ::up] = x
  px0, px1, py0, py1 = pad
  xu = np.pad(xu, ((0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))))
  xu = xu[:, :, max(-py0, 0):xu.shape[2] - max(-py1, 0), max(-px0, 0):xu.shape[3] - max(-px1, 0)]
  k = (f * gain)[::-1, ::-1]
  fh, fw = k.shape
  out = np.zeros((n, c, xu.shape[2] - fh + 1, xu.shape[3] - fw + 1))
  for i in range(fh):
    for j in range(fw):
      out += k[i, j] * xu[:, :, i:i + out.shape[2], j:j + out.shape[3]]
  return out[:, :, ::down, ::down]


def lrelu(x):
  return np.where(x >= 0, x, 0.2 * x) * np.sqrt(2)


def fc(x, weight, bias, lr_mul=1.0, act=False):
  y = x @ (weight * lr_mul / np.sqrt(weight.shape[1])).T + bias * lr_mul
  return lrelu(y) if act else y


def modulated_conv(x, weight, styles, demodulate=True, up=1):
  wts = weight[None] * styles[:, None, :, None, None]                     # (N, O, I, k, k)
  if demodulate:
    wts = wts / np.sqrt(np.sum(wts ** 2, axis=(2, 3, 4), keepdims=True) + 1e-8)
  n, o, _, k, _ = wts.shape
  h, w = x.shape[2:]
  if up == 1:
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((n, o, h, w))
    for a in range(k):
      for b in range(k):
        out += np.einsum("nihw,noi->nohw", xp[:, :, a:a + h, b:b + w], wts[:, :, :, a, b])
    return out
  out = np.zeros((n, o, (h - 1) * up + k, (w - 1) * up + k))                # transposed conv, stride `up`
  for i in range(h):
    for j in range(w):
      out[:, :, up * i:up * i + k, up * j:up * j + k] += np.einsum("ni,noikl->nokl", x[:, :, i, j], wts)
  return upfirdn2d(out, fir(), pad=(1, 1, 1, 1), gain=up * up)              # k = 3, 4-tap filter, up = 2


def synthesis_layer(sd, p, x, w, up, noise_mode, clamp):
  styles = fc(w, sd[p + "affine.weight"], sd[p + "affine.bias"])
  x = modulated_conv(x, sd[p + "weight"], styles, True, up)
  if noise_mode == "const":
    x = x + sd[p + "noise_const"] * sd[p + "noise_strength"]
  x = lrelu(x + sd[p + "bias"][None, :, None, None])
  return np.clip(x, -clamp, clamp) if clamp else x


def torgb(sd, p, x, w, clamp):
  styles = fc(w, sd[p + "affine.weight"], sd[p + "affine.bias"]) / np.sqrt(x.shape[1])
  y = modulated_conv(x, sd[p + "weight"], styles, False) + sd[p + "bias"][None, :, None, None]
  return np.clip(y, -clamp, clamp) if clamp else y


def normalize_2nd_moment(x):
  return x / np.sqrt(np.mean(x ** 2, axis=1, keepdims=True) + 1e-8)


def mapping(sd, z, mapping_layers, lr_mul=0.01, c=None):
  """w (N, w_dim) of z (N, z_dim) [and one-hot labels c (N, c_dim): cat(norm(z), norm(embed(c))), as NVIDIA's
  MappingNetwork]."""
  x = normalize_2nd_moment(np.asarray(z, np.float64))
  if c is not None:
    y = fc(np.asarray(c, np.float64), np.float64(sd["mapping.embed.weight"]), np.float64(sd["mapping.embed.bias"]))
    x = np.concatenate([x, normalize_2nd_moment(y)], axis=1)
  for i in range(mapping_layers):
    x = fc(x, np.float64(sd[f"mapping.fc{i}.weight"]), np.float64(sd[f"mapping.fc{i}.bias"]), lr_mul, act=True)
  return x


def synthesis(sd, ws, res, noise_mode="const", clamp=None):
  """Image (N, C, R, R) of W+ ws (N, num_ws, w_dim) ("const" or "none" noise). Block b{r} takes ws[i] (conv0),
  ws[i+1] (conv1) and ws[i+2] (torgb), i advancing by its number of convs."""
  sd = {k: np.asarray(v, np.float64) for k, v in sd.items()}
  ws = np.asarray(ws, np.float64)
  img, wi, r = None, 0, 4
  while r <= res:
    b = f"synthesis.b{r}."
    if r == 4:
      x = np.repeat(sd[b + "const"][None], len(ws), axis=0)
      x = synthesis_layer(sd, b + "conv1.", x, ws[:, wi], 1, noise_mode, clamp)
      num_conv = 1
    else:
      x = synthesis_layer(sd, b + "conv0.", x, ws[:, wi], 2, noise_mode, clamp)
      x = synthesis_layer(sd, b + "conv1.", x, ws[:, wi + 1], 1, noise_mode, clamp)
      num_conv = 2
    y = torgb(sd, b + "torgb.", x, ws[:, wi + num_conv], clamp)
    img = y if img is None else upfirdn2d(img, fir(), up=2, pad=(2, 1, 2, 1), gain=4) + y
    wi += num_conv
    r *= 2
  return img
