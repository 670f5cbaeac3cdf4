"""StyleGAN2 family: modulated convolution (statistics and a per-sample-kernel twin), minibatch stddev, R1,
the W+ interface, noise, train step, EMA, sampling options."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import JaxgenError
from jaxgen.families import stylegan as sg
from jaxgen.nn import modulated as M
from jaxgen.nn.stylegan_compact import num_ws
from conftest import load_config


def _config(name="stylegan_digits"):
  return load_config(name)


def tiny_config(**model):
  c = _config()
  c.data.image_size = 8
  c.model.update(z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8, r1_subsample=2, **model)
  c.train.batch_size = 8
  c.sample.pca_samples = 64
  return c


@pytest.fixture(scope="module")
def tiny_state():
  c = tiny_config()
  return c, sg.init(c, jax.random.PRNGKey(0), {"x": jnp.zeros((8, 8, 8, 1))})


def test_demodulated_conv_keeps_unit_variance_at_init():
  """Unit-variance input -> unit-variance output (per channel, any style), statistically at init."""
  x = jax.random.normal(jax.random.PRNGKey(0), (64, 8, 8, 48))
  w = jax.random.normal(jax.random.PRNGKey(1), (64, 16)) * 3.0          # arbitrary styles
  layer = M.ModulatedConv2D(32, 3)
  params = layer.init(jax.random.PRNGKey(2), x, w)
  y = np.asarray(layer.apply(params, x, w))
  interior = y[:, 1:-1, 1:-1]                                            # away from the zero padding
  assert abs(interior.var() - 1.0) < 0.05, interior.var()
  assert abs(interior.mean()) < 0.05
  per_sample_channel = interior.reshape(64, -1, 32).var(axis=1)
  assert 0.7 < per_sample_channel.mean() < 1.3
  # without demodulation the scale follows the styles: far from 1 for styles ~3x
  raw = M.modulated_conv2d(x, params["params"]["kernel"], 3.0 * jnp.ones((64, 48)), demodulate=False)
  assert np.asarray(raw).var() > 10


def test_modulated_conv_equals_per_sample_kernel_twin():
  """Input-scaling form == the paper's per-sample modulated, demodulated kernels (eqs. 1-3)."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 5, 5, 4)).astype(np.float32)
  kernel = rng.normal(size=(3, 3, 4, 6)).astype(np.float32)
  styles = rng.normal(size=(3, 4)).astype(np.float32)
  out = np.asarray(M.modulated_conv2d(jnp.asarray(x), jnp.asarray(kernel), jnp.asarray(styles)))
  xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  for b in range(3):
    wk = kernel * styles[b][None, None, :, None]                        # modulate
    wk = wk / np.sqrt(np.sum(wk ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)   # demodulate
    for i in range(5):
      for j in range(5):
        np.testing.assert_allclose(out[b, i, j], np.einsum("hwc,hwco->o", xp[b, i:i + 3, j:j + 3], wk),
                                   rtol=1e-4, atol=1e-4)


def test_minibatch_stddev_numpy_twin():
  x = np.random.default_rng(0).normal(size=(8, 3, 3, 4)).astype(np.float32)
  y = np.asarray(M.minibatch_stddev(jnp.asarray(x), group_size=4))
  assert y.shape == (8, 3, 3, 5)
  np.testing.assert_array_equal(y[..., :4], x)
  m = 8 // 4
  for b in range(8):
    members = x[b % m::m]                                                # the 4 samples of b's group
    expected = np.mean(np.sqrt(members.var(axis=0) + 1e-8))
    np.testing.assert_allclose(y[b, :, :, 4], expected, rtol=1e-5)


def test_r1_closed_form_for_linear_discriminator():
  a = jax.random.normal(jax.random.PRNGKey(0), (4, 4, 2))
  x = jax.random.normal(jax.random.PRNGKey(1), (5, 4, 4, 2))
  r1 = sg.r1_penalty(lambda x: jnp.sum(x * a, axis=(1, 2, 3)), x, gamma=3.0)
  np.testing.assert_allclose(r1, 1.5 * np.sum(np.asarray(a) ** 2), rtol=1e-5)
  quad = sg.r1_penalty(lambda x: 0.5 * jnp.sum(x ** 2, axis=(1, 2, 3)), x, gamma=2.0)   # grad = x
  np.testing.assert_allclose(quad, np.mean(np.sum(np.asarray(x) ** 2, axis=(1, 2, 3))), rtol=1e-5)


def test_mapping_normalises_z_and_synthesis_uses_every_style(tiny_state):
  c, st = tiny_state
  gen = st.generator
  assert gen.num_layers == num_ws(8) == 4 and num_ws(32) == 8 and num_ws(64) == 10
  z = jax.random.normal(jax.random.PRNGKey(0), (3, 8))
  np.testing.assert_allclose(gen.mapping(st.g_params, z), gen.mapping(st.g_params, 5.0 * z), rtol=1e-4, atol=1e-5)
  ws = jax.random.normal(jax.random.PRNGKey(1), (3, gen.num_layers, gen.w_dim))
  base = gen.synthesis(st.g_params, ws, None)
  assert base.shape == (3, 8, 8, 1)
  for layer in range(gen.num_layers):                                     # every style changes the image
    moved = gen.synthesis(st.g_params, ws.at[:, layer].add(1.0), None)
    assert float(jnp.max(jnp.abs(moved - base))) > 1e-4, layer


def test_noise_injection_scale_and_modes(tiny_state):
  c, st = tiny_state
  gen = st.generator
  ws = jnp.broadcast_to(jax.random.normal(jax.random.PRNGKey(1), (1, 1, gen.w_dim)), (2, gen.num_layers, gen.w_dim))
  k1, k2 = jax.random.PRNGKey(5), jax.random.PRNGKey(6)
  # strength initialised to 0: noise has no effect at init
  np.testing.assert_allclose(gen.synthesis(st.g_params, ws, k1), gen.synthesis(st.g_params, ws, None), atol=1e-6)
  params = jax.tree_util.tree_map_with_path(
      lambda p, v: jnp.ones_like(v) if "strength" in jax.tree_util.keystr(p) else v, st.g_params)
  rand = gen.synthesis(params, ws, k1, "random")
  assert float(jnp.max(jnp.abs(rand - gen.synthesis(params, ws, k2, "random")))) > 1e-3
  assert float(jnp.max(jnp.abs(rand[0] - rand[1]))) > 1e-3               # per-sample noise, identical w
  const = gen.synthesis(params, ws, k1, "const")
  np.testing.assert_allclose(const[0], const[1], atol=1e-6)               # shared noise, identical w
  np.testing.assert_allclose(gen.synthesis(params, ws, k1, "none"), gen.synthesis(params, ws, None), atol=1e-6)


def test_real_logits_do_not_depend_on_the_fakes(loss="logistic"):
  """D sees reals and fakes in separate calls: the minibatch-stddev groups of the reals hold reals only, so the
  real logits (and their mean d_real) are the same whatever the generator produces (issue: D on concat mixed them).
  Both losses share the two D calls, so one loss is checked."""
  c = tiny_config(loss=loss)
  st = sg.init(c, jax.random.PRNGKey(0), {"x": jnp.zeros((8, 8, 8, 1))})
  real = jax.random.uniform(jax.random.PRNGKey(1), (8, 8, 8, 1), minval=-1, maxval=1)
  other_g = jax.tree.map(lambda p: p + 0.5 * jax.random.normal(jax.random.PRNGKey(7), p.shape), st.g_params)
  _, m1 = sg.d_loss(st.d_params, st, st.g_params, real, jax.random.PRNGKey(3))
  _, m2 = sg.d_loss(st.d_params, st, other_g, real, jax.random.PRNGKey(3))
  assert abs(float(m1["d_fake"]) - float(m2["d_fake"])) > 1e-3          # the fakes did change
  np.testing.assert_allclose(float(m1["d_real"]), float(m2["d_real"]), rtol=1e-6, atol=1e-7)
  direct = st.discriminator.apply({"params": st.d_params}, real)          # = D on the reals alone
  np.testing.assert_allclose(float(m1["d_real"]), float(jnp.mean(direct)), rtol=1e-5, atol=1e-6)


def test_old_config_names_are_rejected_with_the_new_name():
  for section, old, new in [("model", "critic_steps", "n_critic"), ("optim", "lr", "learning_rate")]:
    c = tiny_config()
    c[section][old] = 1
    with pytest.raises(JaxgenError, match=f"did you mean {section}.{new}"):
      sg.validate_config(c)


@pytest.mark.parametrize("loss", ["logistic", "wgan_gp"])
def test_train_step_updates_and_ema(loss):
  c = tiny_config(loss=loss)
  st = sg.init(c, jax.random.PRNGKey(0), {"x": jnp.zeros((8, 8, 8, 1))})
  batch = {"x": jax.random.uniform(jax.random.PRNGKey(1), (8, 8, 8, 1), minval=-1, maxval=1),
           "label": jnp.zeros(8, jnp.int32)}
  new, metrics = jax.jit(sg.train_step)(st, batch, jax.random.PRNGKey(2))
  assert int(new.step) == 1
  assert set(metrics) >= {"d_loss", "g_loss", "d_real", "d_fake", "r1" if loss == "logistic" else "gp"}
  assert all(np.isfinite(float(v)) for v in metrics.values())
  if loss == "logistic":  # D's first loss at near-zero logits ~ 2 log 2
    assert abs(float(metrics["d_adv"]) - 2 * np.log(2)) < 0.5
  # EMA after one step: decay = min(ema_decay, 2/11)
  decay = min(c.model.ema_decay, 2 / 11)
  leaf = lambda t: t["synthesis_net"]["b4_conv"]["conv"]["kernel"]
  np.testing.assert_allclose(leaf(new.g_ema), decay * leaf(st.g_ema) + (1 - decay) * leaf(new.g_params),
                             rtol=1e-5, atol=1e-6)
  assert float(jnp.max(jnp.abs(leaf(new.g_params) - leaf(st.g_params)))) > 0
  assert float(jnp.linalg.norm(new.w_avg)) > 0                            # w_avg set from the first batch
  new2, _ = jax.jit(sg.train_step)(new, batch, jax.random.PRNGKey(3))
  assert int(new2.step) == 2 and np.all(np.isfinite(np.asarray(new2.w_avg)))


def test_sample_range_and_truncation(tiny_state):
  c, st = tiny_state
  st = st.replace(w_avg=jnp.full_like(st.w_avg, 0.3))
  x = sg.sample(st, jax.random.PRNGKey(0), 5, **c.sample)
  assert x.shape == (5, 8, 8, 1) and float(x.min()) >= 0 and float(x.max()) <= 1
  flat = sg.sample(st, jax.random.PRNGKey(0), 4, truncation=0.0, noise_mode="none")  # every sample = w_avg
  np.testing.assert_allclose(flat, jnp.broadcast_to(flat[:1], flat.shape), atol=1e-6)
  with pytest.raises(JaxgenError, match="steps"):
    sg.sample(st, jax.random.PRNGKey(0), 2, steps=3)


def test_sample_outputs_grids(tiny_state):
  c, st = tiny_state
  key = jax.random.PRNGKey(0)
  out = sg.sample_outputs(st, c, key, 4, {"truncation": 0.7})
  assert out["samples"].shape == (4, 8, 8, 1)
  assert out["title"] == "style-based generator, ψ=0.7, noise random"
  out = sg.sample_outputs(st, c, key, 3, {"direction": "pca:1", "alphas": "-2:2:5"})
  assert out["samples"].shape == (15, 8, 8, 1) and out["ncols"] == 5
  assert out["col_labels"] == ["α=-2", "α=-1", "α=+0", "α=+1", "α=+2"] and "pca:1" in out["title"]
  out = sg.sample_outputs(st, c, key, 3, {"direction": "pca:0,pca:1", "alphas": "-2:2:3"})
  assert out["samples"].shape == (9, 8, 8, 1) and out["ncols"] == 3
  assert (out["row_title"], out["col_title"]) == ("α along pca:0", "α along pca:1")
  assert out["row_labels"] == ["-2", "+0", "+2"]
  out = sg.sample_outputs(st, c, key, 9, {"mix_crossover": 2})
  assert out["samples"].shape == (16, 8, 8, 1) and out["ncols"] == 4
  assert out["row_labels"] == ["", "A1", "A2", "A3"] and out["col_labels"] == ["", "B1", "B2", "B3"]
  last = st.generator.num_layers - 1
  assert out["title"] == f"style mixing: layers 0-1 from A (rows), layers 2-{last} from B (columns)"
  # the mixing grid's cell (i, j) is A_i's coarse layers with B_j's fine ones: crossover L reproduces A_i
  full = sg.sample_outputs(st, c, key, 4, {"mix_crossover": st.generator.num_layers})["samples"]
  np.testing.assert_allclose(full[3 + 1], full[3], atol=1e-6)             # row 1: [A_0, mix(A_0,B_0), ...]
  with pytest.raises(JaxgenError, match="cannot be combined"):
    sg.sample_outputs(st, c, key, 2, {"mix_crossover": 1, "direction": "pca:0"})
  with pytest.raises(JaxgenError, match="label"):
    sg.sample_outputs(st, c, key, 2, {"label": 1})
  with pytest.raises(JaxgenError, match="pca:K"):
    sg.sample_outputs(st, c, key, 2, {"direction": "svd:1"})
  celeba = tiny_config()
  celeba.data.name = "tfds/celeb_a"
  with pytest.raises(JaxgenError, match="classifier"):
    sg.sample_outputs(st, celeba, key, 2, {"direction": "boundary:1"})


def test_saved_direction_combination_and_layer_weights_by_value(tiny_state, tmp_path):
  """file: directions with raw alphas: row a = w + alpha_a * weights[l] * (c1 d1 + c2 d2), checked by rendering the
  expected W+ directly."""
  c, st = tiny_state
  rng = np.random.default_rng(0)
  d1, d2 = rng.normal(size=(1, 8)).astype(np.float32), rng.normal(size=8).astype(np.float32)
  np.save(tmp_path / "d1.npy", d1)
  np.save(tmp_path / "d2.npy", d2)
  key = jax.random.PRNGKey(4)
  opts = {"direction": f"2*file:{tmp_path / 'd1.npy'}+-0.5*file:{tmp_path / 'd2.npy'}", "alphas": "-1:1:3",
          "layer_weights": "0:2=1,2:4=0.5", "alpha_units": "raw", "noise_mode": "none", "truncation": 1.0}
  out = np.asarray(sg.sample_outputs(st, c, key, 2, opts)["samples"])
  k_z, _, _ = jax.random.split(key, 3)
  w = sg.sample_latents(st, k_z, 2)                                          # the same z draw as sample_outputs
  d = 2 * d1[0] - 0.5 * d2
  weights = np.array([1, 1, 0.5, 0.5], np.float32)
  expected = np.asarray(w)[:, None, None, :] + np.array([-1, 0, 1])[None, :, None, None] * weights[:, None] * d
  ref = np.asarray(sg.render(st, jnp.asarray(expected.reshape(6, 4, 8)), key, "none"))
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_sample_outputs_interpolation(tiny_state):
  c, st = tiny_state
  out = sg.sample_outputs(st, c, jax.random.PRNGKey(0), 2, {"interpolate": 5})
  assert out["samples"].shape == (10, 8, 8, 1) and out["ncols"] == 5
  assert out["col_labels"] == ["t=0", "t=0.25", "t=0.5", "t=0.75", "t=1"] and out["title"].startswith("lerp in W")
  rows = np.asarray(out["samples"]).reshape(2, 5, -1)
  assert np.abs(rows[:, 0] - rows[:, -1]).max() > 1e-3            # the two ends of each row are different images
  # A row shares one noise map, so with truncation psi = 0 (every w -> w_avg) all its frames are the same image.
  flat = np.asarray(sg.sample_outputs(st, c, jax.random.PRNGKey(0), 2, {"interpolate": 5, "truncation": 0.0})
                    ["samples"]).reshape(2, 5, -1)
  np.testing.assert_allclose(flat, np.broadcast_to(flat[:, :1], flat.shape), atol=1e-5)


def test_validate_config_errors():
  for section, key, value, match in [("model", "loss", "hinge", "model.loss"),
                                     ("data", "image_size", 24, "power of two"),
                                     ("data", "range", "unit", "symmetric"),
                                     ("model", "r1_subsample", 3, "r1_subsample"),
                                     ("model", "style_mixing_prob", 1.5, "style_mixing_prob")]:
    c = tiny_config()
    c[section][key] = value
    with pytest.raises(JaxgenError, match=match):
      sg.validate_config(c)
  for name in ("stylegan_digits", "stylegan_mnist", "stylegan_celeba", "stylegan2_ada_ffhq"):
    sg.validate_config(_config(name))


@pytest.mark.slow
def test_trained_digits_boundary_raises_class_probability(tmp_path):
  """InterFaceGAN on a trained stylegan_digits: moving w along the boundary normal of digit k raises the digits
  classifier's mean probability of k monotonically in alpha (averaged over the 10 digits), and for every k
  p(alpha=+3) > p(alpha=-3). ~20-40 min on a 2-core CPU (1000 steps + the classifier's first training)."""
  from jaxgen.runtime import train
  c = _config()
  c.train.num_steps = 1000
  c.train.sample_every = 0
  state = train(c, str(tmp_path), progress=False)
  alphas = np.linspace(-3, 3, 7)
  probs = np.stack([sg.class_probability_along(state, c, jax.random.PRNGKey(100 + k), k, alphas, num=200)
                    for k in range(10)])                                  # (10, 7)
  mean = probs.mean(axis=0)
  assert np.all(np.diff(mean) > 0), mean
  assert np.all(probs[:, -1] > probs[:, 0]), probs
