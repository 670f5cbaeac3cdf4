"""Reverse-diffusion samplers (DDIM, DDPM) and the diffusion family.

Samplers are checked against Python-loop twins and, with the exact eps of known data distributions (a Gaussian,
a Gaussian mixture: closed forms), against the distributions they must recover.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import JaxgenError
from jaxgen.families import diffusion as family
from jaxgen.samplers import schedules
from jaxgen.latent.interpolate import sincos_interpolation
from jaxgen.samplers.diffusion import ddim, ddpm, ddpm_step, step_times
from tests.conftest import load_config


def toy_eps_fn(x, noise_rates, signal_rates):
  """A smooth nonlinear stand-in for a network."""
  return jnp.tanh(x) * noise_rates + 0.1 * jnp.sin(3 * x) * signal_rates


def gaussian_eps_fn(mu, sigma):
  """The exact E[eps | x_t] for data x0 ~ N(mu, diag(sigma^2)): x_t ~ N(s mu, s^2 sigma^2 + n^2)."""
  def eps_fn(x, n, s):
    return n * (x - s * mu) / (s ** 2 * sigma ** 2 + n ** 2)
  return eps_fn


def mixture_eps_fn(centers, std):
  """The exact E[eps | x_t] for an equal-weight isotropic Gaussian mixture (points (N, 2))."""
  centers = jnp.asarray(centers)

  def eps_fn(x, n, s):
    var = s ** 2 * std ** 2 + n ** 2                                     # (N, 1)
    d2 = jnp.sum((x[:, None, :] - s[:, None] * centers[None]) ** 2, -1)  # (N, M)
    w = jax.nn.softmax(-d2 / (2 * var), axis=-1)
    mean_x0 = centers[None] + (s * std ** 2 / var)[:, None] * (x[:, None, :] - s[:, None] * centers[None])
    x0_hat = jnp.sum(w[..., None] * mean_x0, axis=1)
    return (x - s * x0_hat) / n
  return eps_fn


@pytest.mark.parametrize("steps", [1, 2, 3, 5, 20, 100])
def test_ddim_scan_equals_python_loop(steps):
  schedule = schedules.offset_cosine
  x_T = jax.random.normal(jax.random.PRNGKey(0), (4, 3, 3, 2))
  got = jax.jit(lambda x: ddim(toy_eps_fn, x, schedule, steps))(x_T)
  # The reference's loop, written out.
  x, step_size = x_T, 1.0 / steps
  for step in range(steps):
    t = 1.0 - step * step_size
    noise, signal = schedule(jnp.full((4, 1, 1, 1), t))
    eps = toy_eps_fn(x, noise, signal)
    x0 = (x - noise * eps) / signal
    next_noise, next_signal = schedule(jnp.full((4, 1, 1, 1), t - step_size))
    x = next_signal * x0 + next_noise * eps
  np.testing.assert_allclose(np.asarray(got), np.asarray(x0), rtol=1e-5, atol=1e-5)


def test_ddpm_scan_equals_python_loop():
  schedule, steps = schedules.linear, 7
  x_T = jax.random.normal(jax.random.PRNGKey(0), (5, 2))
  key = jax.random.PRNGKey(1)
  got = ddpm(toy_eps_fn, x_T, key, schedule, steps)
  ts, t_nexts = step_times(steps)
  x = x_T
  step = jax.jit(lambda x, t, t_next, k: ddpm_step(toy_eps_fn, x, t, t_next, k, schedule))
  for t, t_next, k in zip(ts, t_nexts, jax.random.split(key, steps)):
    x, x0, _ = step(x, t, t_next, k)
  np.testing.assert_allclose(np.asarray(got), np.asarray(x0), rtol=1e-5, atol=1e-5)


def test_ddpm_step_formula():
  """x_s = (x_t - beta/sqrt(1 - abar_t) eps)/sqrt(alpha) + sigma z, alpha = abar_t/abar_s, NumPy twin."""
  schedule, t, s = schedules.offset_cosine, 0.6, 0.45
  x = jnp.array([[0.3, -1.2], [2.0, 0.1]])
  key = jax.random.PRNGKey(3)
  got, x0_hat, eps = ddpm_step(toy_eps_fn, x, t, s, key, schedule)
  angle = lambda u: np.arccos(0.95) + u * (np.arccos(0.02) - np.arccos(0.95))    # offset_cosine (0.02, 0.95)
  abar_t, abar_s = np.cos(angle(t)) ** 2, np.cos(angle(s)) ** 2
  alpha = abar_t / abar_s
  beta = 1 - alpha
  z = np.asarray(jax.random.normal(key, x.shape))
  sigma = np.sqrt(beta * (1 - abar_s) / (1 - abar_t))
  expected = (np.asarray(x) - beta / np.sqrt(1 - abar_t) * np.asarray(eps)) / np.sqrt(alpha) + sigma * z
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.asarray(x0_hat),
                             (np.asarray(x) - np.sqrt(1 - abar_t) * np.asarray(eps)) / np.sqrt(abar_t), rtol=1e-5)


def _last_x0_hat_moments(schedule, steps, mu, sigma):
  """Mean and std of x0_hat = E[x0 | x_t] at the samplers' last time t = 1/steps when x_t ~ q(x_t) exactly.

  For x0 ~ N(mu, sigma^2), x_t = s x0 + n eps: E[x0 | x_t] = mu + s sigma^2 (x_t - s mu) / (s^2 sigma^2 + n^2),
  so x0_hat ~ N(mu, s^2 sigma^4 / (s^2 sigma^2 + n^2)) (sigma itself where s = 1, n = 0).
  """
  noise, signal = (float(a) for a in schedule(jnp.float32(1.0 / steps)))
  sigma = np.asarray(sigma, np.float64)
  return np.asarray(mu, np.float64), signal * sigma ** 2 / np.sqrt(signal ** 2 * sigma ** 2 + noise ** 2)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
@pytest.mark.parametrize("name", schedules.SCHEDULES)
def test_every_schedule_samples_a_gaussian(name, sampler):
  """Every schedule the family accepts, with both samplers and the schedule's default bounds:

  * the exact eps of N(mu, sigma^2) data gives x0_hat with the closed-form moments of E[x0 | x_{1/steps}];
  * an eps that is off by delta = 1e-3 everywhere (any trained network is) moves each sample by O(delta) (about
    10 delta for every schedule here), not by delta / signal_rate(1): the first step's x0_hat divides by the
    signal rate at t = 1, which was cos(pi/2) = -4e-8 for the unclamped cosine (moves of ~3e3 with DDIM).
  """
  schedule = schedules.get(name)
  mu, sigma = jnp.array([1.5, -0.5]), jnp.array([0.5, 2.0])
  n, steps, delta = 20_000, 500, 1e-3
  x_T = jax.random.normal(jax.random.PRNGKey(0), (n, 2))
  exact = gaussian_eps_fn(mu, sigma)

  @jax.jit
  def run(eps_error):
    eps_fn = lambda x, noise, signal: exact(x, noise, signal) + eps_error
    if sampler == "ddim":
      return ddim(eps_fn, x_T, schedule, steps)
    return ddpm(eps_fn, x_T, jax.random.PRNGKey(1), schedule, steps)

  x0 = np.asarray(run(0.0), np.float64)
  want_mean, want_std = _last_x0_hat_moments(schedule, steps, mu, sigma)
  print(name, sampler, "exact-eps mean", x0.mean(0), "std", x0.std(0), "closed form", want_mean, want_std)
  # 0.03: 5 standard errors of the sigma = 0.5 coordinate's mean plus the ~0.01 bias of starting offset_cosine
  # (signal 0.02 at t = 1) from N(0, I) instead of q(x_1).
  np.testing.assert_allclose(x0.mean(0), want_mean, atol=0.03)
  np.testing.assert_allclose(x0.std(0), want_std, rtol=0.02)
  moved = np.abs(np.asarray(run(delta), np.float64) - x0).max()
  print(name, sampler, "max move for an eps error of", delta, ":", moved)
  assert moved < 30 * delta, moved


def test_ddim_with_exact_eps_covers_mixture_modes():
  """With the exact eps of the 25-Gaussian grid, DDIM puts >= 90% of samples within 3 std of a centre."""
  from jaxgen.data import toy2d
  from jaxgen.metrics.toy2d import mode_metrics
  centers, std = toy2d.modes("25gaussians")
  x_T = jax.random.normal(jax.random.PRNGKey(0), (2500, 2))
  schedule = schedules.get("offset_cosine", 0.02, 0.999)
  pts = ddim(mixture_eps_fn(centers, std), x_T, schedule, 100)
  m = mode_metrics(np.asarray(pts), "toy2d/25gaussians")
  print("DDIM exact-eps mixture", m)
  assert m["modes_covered"] == 25 and m["high_quality_fraction"] >= 0.9, m


def test_sincos_interpolation_keeps_noise_standard_normal():
  a = jax.random.normal(jax.random.PRNGKey(0), (100_000,))
  b = jax.random.normal(jax.random.PRNGKey(1), (100_000,))
  np.testing.assert_allclose(sincos_interpolation(a, b, 0.0), b, atol=1e-6)
  np.testing.assert_allclose(sincos_interpolation(a, b, 1.0), a, atol=1e-6)
  mid = np.asarray(sincos_interpolation(a, b, 0.3))
  np.testing.assert_allclose(mid, np.sin(0.15 * np.pi) * a + np.cos(0.15 * np.pi) * b, atol=1e-6)
  assert abs(mid.var() - 1.0) < 0.02          # standard normal noise stays standard normal


def test_sampler_errors():
  with pytest.raises(JaxgenError, match="steps"):
    ddim(toy_eps_fn, jnp.zeros((1, 2)), schedules.cosine, 0)
  with pytest.raises(JaxgenError, match="variance"):
    ddpm(toy_eps_fn, jnp.zeros((1, 2)), jax.random.PRNGKey(0), schedules.cosine, 2, variance="big")


# ----------------------------------------------------------------------------------------------------------
# The family.


def tiny_config(toy=False):
  if toy:
    return load_config("ddm_toy2d", **{"model.hidden": (16, 16), "model.embedding_dim": 8, "model.ema_decay": 0.9,
                                       "model.ema_warmup": False, "model.max_signal_rate": 0.95, "sample.steps": 3})
  return load_config("ddm_digits", **{"data.image_size": 8, "model.widths": (4, 8), "model.block_depth": 1,
                                      "model.bottleneck_width": 8, "model.bottleneck_depth": 1,
                                      "model.embedding_dim": 8, "model.ema_decay": 0.9, "model.ema_warmup": False,
                                      "sample.steps": 3})


@pytest.fixture(scope="module")
def trained():
  config = tiny_config()
  rng = np.random.default_rng(0)
  x = rng.uniform(size=(64, 8, 8, 1)).astype(np.float32) * 0.5 + 0.2
  state = family.init(config, jax.random.PRNGKey(0), {"x": x})
  step = jax.jit(family.train_step)
  initial = state
  losses, history = [], [state]
  for i in range(3):
    state, metrics = step(state, {"x": x[:16]}, jax.random.PRNGKey(i))
    losses.append(float(metrics["n_loss"]))
    history.append(state)
  return config, x, initial, state, losses, history


def test_family_normalizer_and_training(trained):
  config, x, initial, state, losses, history = trained
  np.testing.assert_allclose(np.asarray(initial.norm_mean), x.reshape(-1, 1).mean(0), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(initial.norm_var), x.reshape(-1, 1).var(0), rtol=1e-4)
  assert int(state.step) == 3 and all(np.isfinite(losses))
  # Zero head at init: eps_hat = 0, so the first L1 loss is E|eps| ~ sqrt(2/pi) ~ 0.80.
  assert abs(losses[0] - np.sqrt(2 / np.pi)) < 0.05
  # EMA with decay 0.9 (no warmup) after 3 updates, of the parameters AND the BN statistics, leaf by leaf:
  # e3 = 0.9^3 p0 + 0.1 (0.9^2 p1 + 0.9 p2 + p3).
  weights = [0.9 ** 3, 0.1 * 0.9 ** 2, 0.1 * 0.9, 0.1]
  for field, ema_field in (("params", "ema_params"), ("batch_stats", "ema_batch_stats")):
    steps = [jax.tree.leaves(getattr(s, field)) for s in history]
    for i, got in enumerate(jax.tree.leaves(getattr(state, ema_field))):
      want = sum(w * np.asarray(leaves[i], np.float64) for w, leaves in zip(weights, steps))
      np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=f"{ema_field} leaf {i}")
  metrics = family.eval_step(state, {"x": x[:8]}, jax.random.PRNGKey(5))
  assert np.isfinite(float(metrics["n_loss"]))


def test_constant_example_batch_gives_unit_variance():
  state = family.init(tiny_config(), jax.random.PRNGKey(0), {"x": np.zeros((4, 8, 8, 1), np.float32)})
  assert float(state.norm_var[0]) == 1.0 and float(state.norm_mean[0]) == 0.0


def test_family_sampling(trained):
  config, x, initial, state, losses, _ = trained
  key = jax.random.PRNGKey(0)
  for steps in (1, 2, 3, 5):
    images = np.asarray(family.sample(state, key, 3, steps=steps))
    assert images.shape == (3, 8, 8, 1) and images.min() >= 0.0 and images.max() <= 1.0
  # DDPM: the generic sampler on the EMA network with the family's key split, de-normalised and clipped.
  k_noise, k_sampler = jax.random.split(key)
  noise = jax.random.normal(k_noise, (2, 8, 8, 1))
  x0 = ddpm(family.eps_fn(state), noise, k_sampler, schedules.offset_cosine, 4)
  np.testing.assert_allclose(np.asarray(family.sample(state, key, 2, steps=4, sampler="ddpm")),
                             np.clip(np.asarray(state.norm_mean + x0 * np.sqrt(state.norm_var)), 0, 1), atol=1e-5)
  # The untrained (zero-head) network predicts eps = 0: x0_hat = x_t / signal, de-normalised.
  noise = jax.random.normal(key, (2, 8, 8, 1))
  out = family.generate(initial, key, 2, steps=1, initial_noise=noise)
  expected = np.clip(np.asarray(initial.norm_mean + noise / 0.02 * np.sqrt(initial.norm_var)), 0, 1)
  np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)
  # Given initial noise, DDIM does not depend on the key.
  a = family.generate(state, jax.random.PRNGKey(1), 2, 3, initial_noise=noise)
  b = family.generate(state, jax.random.PRNGKey(2), 2, 3, initial_noise=noise)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  with pytest.raises(JaxgenError, match="truncation"):
    family.sample(state, key, 2, truncation=0.5)
  with pytest.raises(JaxgenError, match="steps"):
    family.sample(state, key, 2, steps=0)


def test_family_sample_outputs(trained):
  config, x, initial, state, losses, _ = trained
  key = jax.random.PRNGKey(0)
  out = family.sample_outputs(state, config, key, 3, {"steps_sweep": "1,2,3"})
  assert out["samples"].shape == (9, 8, 8, 1) and out["ncols"] == 3
  assert out["title"] == "DDIM: the same 3 noises, one row per step count" and out["row_labels"][0] == "1 step"
  # Rows share the initial noise: row 2 (3 steps) equals generate(noise, 3).
  noise = jax.random.normal(jax.random.split(key)[0], (3, 8, 8, 1))
  np.testing.assert_allclose(np.asarray(out["samples"][6:]),
                             np.asarray(family.generate(state, key, 3, 3, initial_noise=noise)), atol=1e-6)
  out = family.sample_outputs(state, config, key, 2, {"interpolate": 5, "steps": 2})
  assert out["samples"].shape == (10, 8, 8, 1) and out["ncols"] == 5
  assert out["title"].startswith("DDIM, 2 steps: ") and out["col_labels"][-1] == "t=1"
  # Row r, frame j decodes sin(t_j pi/2) a_r + cos(t_j pi/2) b_r, t_j = j / 4, with a, b drawn from k_noise.
  k_noise, k_sampler = jax.random.split(key)
  k_a, k_b = jax.random.split(k_noise)
  a, b = (jax.random.normal(k, (2, 1, 8, 8, 1)) for k in (k_a, k_b))
  t = np.linspace(0, 1, 5).reshape(1, 5, 1, 1, 1)
  noises = (np.sin(t * np.pi / 2) * np.asarray(a) + np.cos(t * np.pi / 2) * np.asarray(b)).reshape(10, 8, 8, 1)
  np.testing.assert_allclose(np.asarray(out["samples"]),
                             np.asarray(family.generate(state, k_sampler, 10, 2, initial_noise=noises)), atol=1e-5)
  with pytest.raises(JaxgenError, match="steps_sweep"):
    family.sample_outputs(state, config, key, 2, {"steps_sweep": "a,b"})
  with pytest.raises(JaxgenError, match="class_grid"):
    family.sample_outputs(state, config, key, 2, {"class_grid": True})


def test_toy_family_points():
  config = tiny_config(toy=True)
  from jaxgen.data import toy2d
  x = np.asarray(toy2d.sample("25gaussians", jax.random.PRNGKey(0), 512))
  state = family.init(config, jax.random.PRNGKey(0), {"x": x})
  np.testing.assert_allclose(np.asarray(state.norm_var), x.var(0), rtol=1e-4)
  state, metrics = jax.jit(family.train_step)(state, {"x": x[:64]}, jax.random.PRNGKey(1))
  pts = family.sample(state, jax.random.PRNGKey(2), 7, steps=2)
  # Points are the DDIM output of the EMA MLP, de-normalised to data coordinates (no clipping).
  k_noise, _ = jax.random.split(jax.random.PRNGKey(2))
  x0 = ddim(family.eps_fn(state), jax.random.normal(k_noise, (7, 2)), schedules.offset_cosine, 2)
  np.testing.assert_allclose(np.asarray(pts), np.asarray(state.norm_mean + x0 * np.sqrt(state.norm_var)),
                             rtol=1e-5, atol=1e-6)
  with pytest.raises(JaxgenError, match="toy2d"):
    family.sample_outputs(state, config, jax.random.PRNGKey(0), 2, {"steps_sweep": "1,2"})


@pytest.mark.parametrize("toy, key, value, message", [
    (False, "data.image_size", 10, "divisible by 4"),
    (False, "model.schedule", "quadratic", "model.schedule"),
    (True, "model.network", "unet", "mlp"),
])
def test_validate_config(toy, key, value, message):
  c = tiny_config(toy=toy)
  section, name = key.split(".")
  c[section][name] = value
  with pytest.raises(JaxgenError, match=message):
    family.validate_config(c)


# ----------------------------------------------------------------------------------------------------------
# Learning checks (minutes): python -m pytest -q -m slow tests/test_diffusion.py


def _train_and_load(config_name, tmp_path, **overrides):
  import jaxgen
  from jaxgen.runtime import train
  config = load_config(config_name, **overrides)
  train(config, str(tmp_path), progress=False)
  return jaxgen.load(str(tmp_path))


@pytest.mark.slow
def test_ddm_toy2d_covers_all_modes(tmp_path):
  from jaxgen.metrics.toy2d import mode_metrics
  run = _train_and_load("ddm_toy2d", tmp_path, **{"train.sample_every": 0})
  m = mode_metrics(run.sample(jax.random.PRNGKey(7), 2500, steps=20), "toy2d/25gaussians")
  print("ddm_toy2d", m)
  assert m["modes_covered"] == 25 and m["high_quality_fraction"] >= 0.9, m


@pytest.mark.slow
def test_ddm_digits_samples_are_recognisable(tmp_path):
  from jaxgen.metrics import classifier
  run = _train_and_load("ddm_digits", tmp_path, **{"train.sample_every": 0})
  clf = classifier.get_classifier("digits", image_size=run.config.data.image_size, channels=1)
  probs = clf.probabilities(run.sample(jax.random.PRNGKey(3), 500, steps=20))
  conf = classifier.confidence(probs, 0.9)
  print("ddm_digits confidence", conf, "label histogram", classifier.label_histogram(probs))
  assert conf >= 0.8                       # measured 86-88 % (two training seeds, three sample seeds)




# ----------------------------------------------------------------------------------------------------------
# Fast solvers, DDIM inversion and class-conditional models in the family (the samplers themselves:
# tests/test_solvers.py).


def test_family_samplers_and_inversion(trained):
  """DDIM inversion of real images then DDIM gives the images back; interpolate_images starts and ends at the two
  reconstructions; sample_outputs(invert=True) shows them. (The new samplers in the family: the class grid of
  test_conditional_sampling_with_guidance.)"""
  config, x, initial, state, losses, _ = trained
  key = jax.random.PRNGKey(4)
  k_noise, _ = jax.random.split(key)
  with pytest.raises(JaxgenError, match="sampler='euler'"):
    family.sample(state, key, 2, sampler="euler")
  with pytest.raises(JaxgenError, match="guidance.*unconditional"):
    family.sample(state, key, 2, guidance=1.0)
  with pytest.raises(JaxgenError, match="label needs"):
    family.sample(state, key, 2, label=3)
  # Every call below inverts 4 images and decodes 4 noises with 10 steps: two compiles.
  images = family.split_images(config, k_noise, 4)
  again = family.generate(state, key, 4, 10, family.invert(state, images, steps=10))
  print("round trip max error (2 refinements)", np.abs(np.asarray(again) - images).max())
  np.testing.assert_allclose(np.asarray(again), images, atol=1e-3)      # in [0, 1] units
  frames = family.interpolate_images(state, images[:2], images[2:], 2, steps=10)
  np.testing.assert_allclose(np.asarray(frames), np.asarray(again)[[0, 2, 1, 3]], atol=1e-5)
  out = family.sample_outputs(state, config, key, 4, {"invert": True, "steps": 10})
  np.testing.assert_allclose(np.asarray(out["samples"]), np.concatenate([images, again]), atol=1e-5)
  assert out["ncols"] == 4 and out["row_labels"][0] == "test images" and "RMS" in out["row_labels"][1]
  out = family.sample_outputs(state, config, key, 2, {"invert": True, "interpolate": 2, "steps": 10})
  assert out["samples"].shape == (4, 8, 8, 1) and out["ncols"] == 2
  with pytest.raises(JaxgenError, match="invert works alone"):
    family.sample_outputs(state, config, key, 2, {"invert": True, "steps_sweep": "1,2"})


def test_conditional_unet_adds_the_label_to_every_residual_block():
  """Every residual block has a Dense of the label's embedding; with those zeroed the conditional U-Net is the
  unconditional one (same other weights), and with them the label changes the output of its own example only."""
  from jaxgen.nn.unet import UNet
  kw = dict(widths=(4,), block_depth=1, bottleneck_width=4, bottleneck_depth=1, embedding_dim=8)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 1))
  var = jnp.array([0.3, 0.7]).reshape(2, 1, 1, 1)
  cond = jax.jit(lambda: UNet(num_classes=3, **kw).init(jax.random.PRNGKey(1), x, var, labels=jnp.array([0, 3])))()
  params = jax.tree.map(lambda p: p + 0.1, cond["params"])                 # a nonzero head
  assert params["label_embedding"]["embedding"].shape == (4, 8)            # 3 classes + the null class
  blocks = [k for k in params if k.startswith("ResidualBlock")]
  assert len(blocks) == 3 and all(set(params[k]["cond"]) == {"kernel", "bias"} for k in blocks)
  zeroed = {k: ({**v, "cond": jax.tree.map(jnp.zeros_like, v["cond"])} if k in blocks else v)
            for k, v in params.items()}
  plain = {k: {n: w for n, w in v.items() if n != "cond"} for k, v in params.items() if k != "label_embedding"}

  @jax.jit
  def outputs(params, zeroed, plain):
    stats = cond["batch_stats"]
    net = UNet(num_classes=3, **kw)
    return (net.apply({"params": zeroed, "batch_stats": stats}, x, var, labels=jnp.array([1, 3])),
            UNet(**kw).apply({"params": plain, "batch_stats": stats}, x, var),
            net.apply({"params": params, "batch_stats": stats}, x, var, labels=jnp.array([3, 3])),
            net.apply({"params": params, "batch_stats": stats}, x, var, labels=jnp.array([1, 3])))

  got, want, null, other = (np.asarray(a) for a in outputs(params, zeroed, plain))
  np.testing.assert_allclose(got, want, atol=1e-6)
  assert np.abs(other[0] - null[0]).max() > 1e-3 and np.allclose(other[1], null[1])


@pytest.fixture(scope="module")
def conditional():
  config = load_config("ddm_digits_cond", **{"model.widths": (4,), "model.block_depth": 1,
                                             "model.bottleneck_width": 4, "model.bottleneck_depth": 1,
                                             "model.embedding_dim": 8, "sample.steps": 2})
  rng = np.random.default_rng(0)
  batch = {"x": rng.uniform(size=(16, 8, 8, 1)).astype(np.float32), "label": rng.integers(0, 10, 16).astype(np.int32)}
  state = family.init(config, jax.random.PRNGKey(0), batch)
  return config, batch, state


def test_conditional_training_drops_labels_to_the_null_class(conditional):
  config, batch, state = conditional
  key = jax.random.PRNGKey(3)
  labels = jnp.arange(200_000) % 10
  got = family.training_labels(state, {"label": labels}, key)
  dropped = np.asarray(got == 10)
  assert abs(dropped.mean() - 0.1) < 0.003                       # model.label_dropout = 0.1
  np.testing.assert_array_equal(np.asarray(got)[~dropped], np.asarray(labels)[~dropped])

  @jax.jit
  def step_and_twin(state):
    """The training step's loss, and the L1 of the network fed exactly training_labels(...)."""
    _, metrics = family.train_step(state, batch, key)
    eps, x_t, noise_rates = family.noised_batch(state, batch["x"], key)
    eps_hat, _ = family._apply(state, state.params, state.batch_stats, x_t, noise_rates, train=True,
                               labels=family.training_labels(state, batch, key))
    return metrics["n_loss"], family.noise_loss(eps, eps_hat)

  loss, twin = step_and_twin(state)
  np.testing.assert_allclose(float(loss), float(twin), rtol=1e-5)
  with pytest.raises(JaxgenError, match="label"):
    family.train_step(state, {"x": batch["x"]}, key)


def test_conditional_sampling_with_guidance(conditional):
  """eps_w = (1 + w) eps(x, c) - w eps(x, null) on the family's network; w = 0 is the conditional prediction;
  labels reach the sampler (class_grid rows: the generic Heun solver on the guided EMA network, label=K, the
  uniform default)."""
  from jaxgen.samplers import solvers
  config, batch, state = conditional
  state = state.replace(ema_params=jax.tree.map(lambda p: p + 0.05, state.ema_params))   # a nonzero head
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 8, 8, 1))
  noise, signal = schedules.offset_cosine(jnp.full((3, 1, 1, 1), 0.5))
  labels = jnp.array([1, 7, 7])

  @jax.jit
  def predictions(state):
    net = lambda l: family._apply(state, state.ema_params, state.ema_batch_stats, x, noise, False, labels=l)
    return (net(labels), net(jnp.full((3,), 10)), family.eps_fn(state)(x, noise, signal),
            [family.eps_fn(state, labels=labels, guidance=w)(x, noise, signal) for w in (0.0, 3.0)])

  cond, null, unguided, guided = jax.tree.map(np.asarray, predictions(state))
  assert np.abs(cond - null).max() > 1e-3
  for w, got in zip((0.0, 3.0), guided):
    np.testing.assert_allclose(got, (1 + w) * cond - w * null, atol=1e-5)
  np.testing.assert_allclose(unguided, null, atol=1e-6)
  key = jax.random.PRNGKey(5)
  out = family.sample_outputs(state, config, key, 20, {"class_grid": True, "guidance": 2.0, "steps": 2,
                                                       "sampler": "heun"})
  assert out["samples"].shape == (20, 8, 8, 1) and out["ncols"] == 2 and out["row_labels"][9] == "class 9"
  np.testing.assert_array_equal(np.asarray(out["labels"]), np.repeat(np.arange(10), 2))
  k_noise, k_sampler = jax.random.split(key)
  col_noise = jax.random.normal(k_noise, (2, 8, 8, 1))
  labels = jnp.repeat(jnp.arange(10), 2)
  x0 = jax.jit(lambda n: solvers.heun(family.eps_fn(state, labels=labels, guidance=2.0), n,
                                      schedules.offset_cosine, 2))(jnp.tile(col_noise, (10, 1, 1, 1)))
  np.testing.assert_allclose(np.asarray(out["samples"]), np.asarray(family.denormalize(state, x0)), atol=1e-4)
  out = family.sample_outputs(state, config, key, 20, {"label": 7, "steps": 2, "guidance": 2.0, "sampler": "heun"})
  np.testing.assert_array_equal(np.asarray(out["labels"]), [7] * 20)
  assert set(np.asarray(family.sample_labels(state, key, 500)).tolist()) == set(range(10))
  with pytest.raises(JaxgenError, match=r"label=11 is not allowed; choose an integer in \[0, 9\]"):
    family.sample(state, key, 2, label=11)
  with pytest.raises(JaxgenError, match="guidance=-1"):
    family.sample(state, key, 2, guidance=-1)
