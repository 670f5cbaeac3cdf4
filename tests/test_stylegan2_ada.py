"""The published StyleGAN2-ADA generator (jaxgen.nn.stylegan2): FIR resampling against direct convolution, the
FFHQ-1024 parameter table and count against the official structure, the forward pass against a NumPy twin, and
training through the stylegan family (model.arch="stylegan2_ada")."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import signal

import stylegan2_twin as twin
from conftest import load_config
from jaxgen.families import stylegan as sg
from jaxgen.nn import stylegan2 as S
from jaxgen.nn.upfirdn2d import downsample2d, setup_filter, upfirdn2d, upsample2d


def test_upfirdn2d_equals_direct_convolution_with_the_fir_kernel():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 5, 6, 3)).astype(np.float32)                     # NHWC
  f = setup_filter()
  np.testing.assert_allclose(f, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0)
  # x2 upsampling: zero-insert, full 2-D convolution with 4 f, crop [fh - 1 - pad0, ...) of length 2H.
  up = np.asarray(upsample2d(jnp.asarray(x), f))
  assert up.shape == (2, 10, 12, 3)
  for b in range(2):
    for c in range(3):
      xu = np.zeros((10, 12))
      xu[::2, ::2] = x[b, :, :, c]
      full = signal.convolve2d(xu, 4 * f, mode="full")
      np.testing.assert_allclose(up[b, :, :, c], full[1:11, 1:13], rtol=1e-5, atol=1e-5)
  # /2 downsampling: full convolution with f, crop from fh - 1 - pad0 = 2, every second sample.
  down = np.asarray(downsample2d(jnp.asarray(x[:, :4]), f))
  assert down.shape == (2, 2, 3, 3)
  for b in range(2):
    for c in range(3):
      full = signal.convolve2d(x[b, :4, :, c], f, mode="full")
      np.testing.assert_allclose(down[b, :, :, c], full[2:6:2, 2:8:2], rtol=1e-5, atol=1e-5)
  # general case with an asymmetric filter, up 3, down 2, negative padding (cropping): the NumPy twin.
  g = rng.normal(size=(3, 2)).astype(np.float32)
  y = np.asarray(upfirdn2d(jnp.asarray(x), g, up=3, down=2, padding=(2, -1, 1, 0), gain=1.5))
  ref = twin.upfirdn2d(x.transpose(0, 3, 1, 2), g, up=3, down=2, pad=(2, -1, 1, 0), gain=1.5)
  np.testing.assert_allclose(y, ref.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
  # a constant image stays constant away from the borders (unit DC gain with gain = up^2)
  const = np.asarray(upsample2d(jnp.ones((1, 6, 6, 1)), f))
  np.testing.assert_allclose(const[0, 2:-2, 2:-2], 1.0, rtol=1e-6)


def _flat_shapes(tree):
  return {jax.tree_util.keystr(p, simple=True, separator="."): tuple(leaf.shape)
          for p, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def test_ffhq_1024_generator_has_the_official_names_shapes_and_parameter_count():
  gen = S.StyleGAN2ADAGenerator(S.Generator(1024, 3, 512, 512, 8, 0.01, 32768, 512, 256.0))
  assert gen.num_layers == 18
  ours = _flat_shapes(jax.eval_shape(gen.init, jax.random.PRNGKey(0)))   # no 1024^2 weights materialised
  official = twin.official_shapes(1024)
  buffers = {k for k in official if k.endswith(("w_avg", "resample_filter"))}   # held outside params
  assert ours == {k: v for k, v in official.items() if k not in buffers}
  trainable = sum(int(np.prod(s)) for k, s in official.items() if not k.endswith(twin.BUFFER_SUFFIXES))
  assert trainable == sum(int(np.prod(s)) for k, s in ours.items() if not k.endswith("noise_const"))
  assert trainable == 30_370_060                                          # G / G_ema: 30.37 M parameters
  mapping = sum(int(np.prod(s)) for k, s in official.items() if k.startswith("mapping.fc"))
  assert mapping == 8 * (512 * 512 + 512)


def random_state_dict(res, channels, z_dim, w_dim, layers, cbase, cmax, seed=0):
  """Official-layout arrays with every parameter random (noise strengths and biases non-zero)."""
  rng = np.random.default_rng(seed)
  sd = {}
  for name, shape in twin.official_shapes(res, channels, z_dim, w_dim, layers, cbase, cmax).items():
    sd[name] = (twin.fir() if name.endswith("resample_filter") else rng.normal(size=shape)).astype(np.float32)
  for name in sd:
    if name.endswith("affine.bias"):
      sd[name] = (1.0 + 0.2 * sd[name]).astype(np.float32)
  return sd


def params_of(sd):
  """Nested params from official names (what the converter does, written out here for the twin test)."""
  params = {}
  for name, value in sd.items():
    if name.endswith(("w_avg", "resample_filter")):
      continue
    node = params
    *path, leaf = name.split(".")
    for p in path:
      node = node.setdefault(p, {})
    node[leaf] = jnp.asarray(value)
  return params


@pytest.mark.parametrize("noise_mode", ["const", "none"])
def test_forward_pass_matches_the_numpy_twin(noise_mode):
  res, z_dim, w_dim, layers = 16, 6, 5, 2
  sd = random_state_dict(res, 3, z_dim, w_dim, layers, 64, 8)
  gen = S.StyleGAN2ADAGenerator(S.Generator(res, 3, z_dim, w_dim, layers, 0.01, 64, 8, conv_clamp=1.5))
  params = params_of(sd)
  z = np.random.default_rng(1).normal(size=(3, z_dim)).astype(np.float32)
  np.testing.assert_allclose(gen.mapping(params, jnp.asarray(z)), twin.mapping(sd, z, layers), rtol=1e-4, atol=1e-5)
  ws = np.random.default_rng(2).normal(size=(3, gen.num_layers, w_dim)).astype(np.float32)   # distinct per layer
  ours = np.asarray(gen.synthesis(params, jnp.asarray(ws), None, noise_mode)).transpose(0, 3, 1, 2)
  ref = twin.synthesis(sd, ws, res, noise_mode, clamp=1.5)
  assert np.mean(np.abs(ref) >= 1.5 - 1e-9) > 0.01                       # the clamp is exercised
  np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def tiny_ada_config(**model):
  c = load_config("stylegan_digits")
  c.data.image_size = 8
  c.model.update(arch="stylegan2_ada", z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8,
                 r1_subsample=2, conv_clamp=256.0, **model)
  c.train.batch_size = 8
  c.sample.pca_samples = 64
  return c


def test_stylegan2_ada_arch_trains_through_the_family():
  c = tiny_ada_config()
  st = sg.init(c, jax.random.PRNGKey(0), {"x": jnp.zeros((8, 8, 8, 1))})
  assert isinstance(st.generator, S.StyleGAN2ADAGenerator) and st.generator.num_layers == 4
  batch = {"x": jax.random.uniform(jax.random.PRNGKey(1), (8, 8, 8, 1), minval=-1, maxval=1)}
  step = jax.jit(sg.train_step)
  new, metrics = step(st, batch, jax.random.PRNGKey(2))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  w0 = st.g_params["synthesis"]["b8"]["conv0"]["weight"]
  assert float(jnp.max(jnp.abs(new.g_params["synthesis"]["b8"]["conv0"]["weight"] - w0))) > 0
  # noise_const is a buffer in spirit: random-noise training gives it zero gradient, so Adam leaves it unchanged
  nc = lambda s: s.g_params["synthesis"]["b8"]["conv1"]["noise_const"]
  np.testing.assert_array_equal(nc(new), nc(st))
  out = sg.sample_outputs(new, c, jax.random.PRNGKey(3), 2, {"truncation": 0.7, "noise_mode": "const"})
  assert out["samples"].shape == (2, 8, 8, 1) and 0 <= float(out["samples"].min()) <= float(out["samples"].max()) <= 1


def test_official_table_matches_published_layer_parameter_counts():
  """Per-layer counts of the official table against the numbers stylegan2-ada-pytorch's own network summary
  prints for the layers every 512-channel G shares (published in its training logs): an anchor independent of
  both our generator and the twin's reading of the source."""
  table = twin.official_shapes(1024)

  def count(prefix):
    return sum(int(np.prod(s)) for k, s in table.items()
               if k.startswith(prefix + ".") and not k.endswith(twin.BUFFER_SUFFIXES))

  assert count("mapping.fc0") == 262_656
  assert count("synthesis.b4.conv1") == count("synthesis.b8.conv0") == 2_622_465
  assert count("synthesis.b4.torgb") == 264_195
  assert int(np.prod(table["synthesis.b4.const"])) == 8_192
