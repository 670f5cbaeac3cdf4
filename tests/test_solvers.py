"""The fast ODE solvers (DPM-Solver++(2M), EDM Heun), DDIM inversion and classifier-free guidance.

Closed forms: for data x0 ~ N(mu, diag(s^2)) the exact eps is E[eps | x_t] = n (x_t - a mu) / (a^2 s^2 + n^2)
(a, n: signal and noise rates), and in the EDM variables sigma = n / a, x~ = x_t / a the probability-flow ODE
dx~/dsigma = eps = sigma (x~ - mu) / (s^2 + sigma^2) has the solution x~(sigma) - mu = (x~(sigma_1) - mu)
sqrt((s^2 + sigma^2) / (s^2 + sigma_1^2)); a solver that stops at sigma_last and returns the data prediction
D = x~ - sigma eps must return mu + s^2 / (s^2 + sigma_last^2) (x~(sigma_last) - mu).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.errors import JaxgenError
from jaxgen.samplers import guidance, schedules, solvers
from jaxgen.samplers.diffusion import ddim, ddim_invert, step_times

MU, S = np.array([1.5, -0.5]), np.array([0.5, 2.0])


def gaussian_eps_fn(x, n, a):
  return n * (x - a * MU) / (a ** 2 * S ** 2 + n ** 2)


def toy_eps_fn(x, noise_rates, signal_rates):
  """A smooth nonlinear stand-in for a network."""
  return jnp.tanh(x) * noise_rates + 0.1 * jnp.sin(3 * x) * signal_rates


def x_T(n=64, seed=0):
  return jax.random.normal(jax.random.PRNGKey(seed), (n, 2))


def exact_output(schedule, noise, t_last):
  """The exact probability-flow ODE from x_T at t = 1 to t_last, then D there (float64; see the module doc)."""
  def sigma(t):
    n, a = schedule(jnp.float32(t))
    return float(n) / float(a)
  _, a1 = schedule(jnp.float32(1.0))
  sigma_1, sigma_last = sigma(1.0), sigma(t_last)
  x1 = np.asarray(noise, np.float64) / float(a1)
  x_last = MU + (x1 - MU) * np.sqrt((S ** 2 + sigma_last ** 2) / (S ** 2 + sigma_1 ** 2))
  return MU + S ** 2 / (S ** 2 + sigma_last ** 2) * (x_last - MU)


def _error(sampler, schedule, steps):
  noise = x_T()
  out = jax.jit(lambda x: solvers.reverse(sampler, gaussian_eps_fn, x, schedule, steps))(noise)
  t_last = float(step_times(steps)[0][-1]) if sampler == "ddim" else solvers.T_MIN
  return np.abs(np.asarray(out, np.float64) - exact_output(schedule, noise, t_last)).max()


# (steps, steps with half the step size, the expected error ratio): DPM-Solver++ has steps - 1 intervals, Heun
# steps - 1 intervals of its sigma grid, DDIM `steps` intervals.
ORDERS = {"dpm_solver_2m": (33, 65, 4.0), "heun": (17, 33, 4.0), "ddim": (40, 80, 2.0)}


@pytest.mark.parametrize("sampler, name", [(sampler, name) for sampler in ORDERS for name in schedules.SCHEDULES
                                           if sampler != "ddim" or name == "cosine"])
def test_solvers_converge_to_the_exact_ode_solution_at_their_order(sampler, name):
  """Halving the step divides the error by ~4 (second order: DPM-Solver++(2M), Heun) or ~2 (DDIM, first)."""
  schedule = schedules.get(name)
  coarse, fine, ratio = ORDERS[sampler]
  e_coarse, e_fine = _error(sampler, schedule, coarse), _error(sampler, schedule, fine)
  print(sampler, name, "max error", e_coarse, "->", e_fine, "ratio", e_coarse / e_fine)
  assert e_fine < 0.1
  assert 0.8 * ratio < e_coarse / e_fine < 1.2 * ratio, (e_coarse, e_fine)


def test_time_grids():
  """DPM-Solver++: uniform in log-SNR from 1 to T_MIN; Heun: EDM's sigma^(1/7) uniform between the same ends."""
  for name in schedules.SCHEDULES:
    schedule = schedules.get(name)
    t, t_karras = jax.jit(lambda: (solvers.log_snr_times(schedule, 9), solvers.karras_times(schedule, 9)))()
    assert float(t[0]) == 1.0 and float(t[-1]) == np.float32(solvers.T_MIN) and np.all(np.diff(np.asarray(t)) < 0)
    lam = np.asarray(schedules.log_snr(schedule, t), np.float64)
    np.testing.assert_allclose(np.diff(lam), (lam[-1] - lam[0]) / 8, rtol=2e-3, err_msg=name)
    noise, signal = schedule(t_karras)
    root = np.asarray(noise / signal, np.float64) ** (1 / 7)
    np.testing.assert_allclose(np.diff(root), (root[-1] - root[0]) / 8, rtol=2e-3, err_msg=name)
    np.testing.assert_allclose(np.asarray(solvers.log_snr_times(schedule, 1)), [1.0])
  # time_at_log_snr inverts log_snr (offset_cosine in closed form: angle = -atan(exp(lam / 2)) + pi/2).
  lam = jnp.array([-7.0, -1.0, 0.0, 1.0, 2.0])
  t = schedules.time_at_log_snr(schedules.offset_cosine, lam)
  angle = np.arctan(np.exp(-np.asarray(lam, np.float64) / 2))
  start, end = np.arccos(0.95), np.arccos(0.02)
  np.testing.assert_allclose(np.asarray(t), (angle - start) / (end - start), atol=1e-6)


def count_calls(eps_fn):
  """eps_fn that counts its executions (inside jit and lax.scan too) in counter[0]."""
  counter = [0]

  def bump(_):
    counter[0] += 1

  def counted(x, n, a):
    jax.debug.callback(bump, n)
    return eps_fn(x, n, a)
  return counted, counter


def dpm_solver_2m_loop(eps_fn, x, schedule, steps):
  """DPM-Solver++(2M) written out (Lu et al. 2022, Algorithm 2) with lambda = log(alpha / sigma)."""
  times = solvers.log_snr_times(schedule, steps)
  shape = (x.shape[0],) + (1,) * (x.ndim - 1)
  rates = lambda t: schedule(jnp.full(shape, t))              # (sigma_t, alpha_t) in the paper's letters
  lam = lambda t: jnp.log(rates(t)[1]) - jnp.log(rates(t)[0])
  data = lambda x, t: (x - rates(t)[0] * eps_fn(x, *rates(t))) / rates(t)[1]
  x0_prev = h_prev = None
  for i in range(1, steps):
    s, t = times[i - 1], times[i]
    x0 = data(x, s)
    h = lam(t) - lam(s)
    d = x0 if x0_prev is None else (1 + 1 / (2 * h_prev / h)) * x0 - 1 / (2 * h_prev / h) * x0_prev
    x = rates(t)[0] / rates(s)[0] * x - rates(t)[1] * (jnp.exp(-h) - 1) * d
    x0_prev, h_prev = x0, h
  return data(x, times[-1])


def heun_loop(eps_fn, x, schedule, steps):
  """EDM's Algorithm 1 (deterministic) written out: Heun in (sigma, x / alpha), Euler for the last step to 0."""
  times = solvers.karras_times(schedule, steps)
  shape = (x.shape[0],) + (1,) * (x.ndim - 1)
  sig = lambda t: schedule(jnp.full(shape, t))[0] / schedule(jnp.full(shape, t))[1]
  d_of = lambda x_tilde, t: eps_fn(schedule(jnp.full(shape, t))[1] * x_tilde, *schedule(jnp.full(shape, t)))
  x = x / schedule(jnp.full(shape, 1.0))[1]
  for i in range(steps):
    d = d_of(x, times[i])
    if i == steps - 1:
      return x - sig(times[i]) * d
    x_next = x + (sig(times[i + 1]) - sig(times[i])) * d
    x = x + (sig(times[i + 1]) - sig(times[i])) * 0.5 * (d + d_of(x_next, times[i + 1]))


@pytest.mark.parametrize("steps", [1, 6])
@pytest.mark.parametrize("sampler", ["dpm_solver_2m", "heun"])
def test_solver_scan_equals_python_loop_and_counts_nfe(sampler, steps):
  schedule = schedules.cosine
  noise = jax.random.normal(jax.random.PRNGKey(0), (3, 2, 2, 1))
  counted, calls = count_calls(toy_eps_fn)
  got = jax.jit(lambda x: solvers.reverse(sampler, counted, x, schedule, steps))(noise)
  jax.block_until_ready(got)
  assert calls[0] == solvers.nfe(sampler, steps) == (2 * steps - 1 if sampler == "heun" else steps)
  twin = {"dpm_solver_2m": dpm_solver_2m_loop, "heun": heun_loop}[sampler]
  np.testing.assert_allclose(np.asarray(got), np.asarray(twin(toy_eps_fn, noise, schedule, steps)),
                             rtol=1e-5, atol=1e-5)


def test_nfe_budgets_and_errors():
  assert [solvers.steps_for_nfe("heun", b) for b in (1, 5, 10, 20)] == [1, 3, 5, 10]
  assert [solvers.nfe("heun", solvers.steps_for_nfe("heun", b)) for b in (5, 10)] == [5, 9]
  assert solvers.steps_for_nfe("dpm_solver_2m", 10) == solvers.nfe("ddim", 10) == 10
  with pytest.raises(JaxgenError, match="sampler='euler'.*dpm_solver_2m"):
    solvers.nfe("euler", 3)
  with pytest.raises(JaxgenError, match="steps"):
    solvers.heun(toy_eps_fn, jnp.zeros((1, 2)), schedules.cosine, 0)
  with pytest.raises(JaxgenError, match="key"):
    solvers.reverse("ddpm", toy_eps_fn, jnp.zeros((1, 2)), schedules.cosine, 2)
  with pytest.raises(JaxgenError, match="refine"):
    ddim_invert(toy_eps_fn, jnp.zeros((1, 2)), schedules.cosine, 2, refine=-1)


def ddim_invert_loop(eps_fn, x0, schedule, steps, refine):
  """DDIM inversion written out in the VP variables: x_k = a_k x0_hat + n_k eps_hat, eps_hat at x_{k+1}."""
  t, _ = step_times(steps)
  shape = (x0.shape[0],) + (1,) * (x0.ndim - 1)
  rates = lambda u: schedule(jnp.full(shape, u))
  x_tilde = x0                                                       # x / a, starting at sigma = 0
  for k in reversed(range(steps)):
    sigma_after = 0.0 if k == steps - 1 else rates(t[k + 1])[0] / rates(t[k + 1])[1]
    t_eval = t[k] if k == steps - 1 else t[k + 1]
    n, a = rates(t[k])
    eps = eps_fn(rates(t_eval)[1] * x_tilde, *rates(t_eval))
    x0_hat = x_tilde - sigma_after * eps
    x_k = a * x0_hat + n * eps                                       # the DDIM update, run backwards
    for _ in range(refine):
      eps = eps_fn(x_k, n, a)
      x_k = a * (x_tilde - sigma_after * eps) + n * eps
    x_tilde = x_k / a
  return x_tilde * rates(1.0)[1]


@pytest.mark.parametrize("refine", [0, 2])
def test_ddim_invert_equals_python_loop(refine):
  x0 = jax.random.normal(jax.random.PRNGKey(2), (3, 4))
  counted, calls = count_calls(toy_eps_fn)
  got = jax.jit(lambda x: ddim_invert(counted, x, schedules.offset_cosine, 5, refine))(x0)
  jax.block_until_ready(got)
  assert calls[0] == 5 * (1 + refine)
  np.testing.assert_allclose(np.asarray(got),
                             np.asarray(ddim_invert_loop(toy_eps_fn, x0, schedules.offset_cosine, 5, refine)),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", schedules.SCHEDULES)
def test_ddim_inversion_then_ddim_returns_the_data(name):
  """On the exact-eps Gaussian: the plain reversed update is first order (5x the steps -> ~1/5 the round-trip
  error, 0.04-0.06 RMS at 100 steps); 8 fixed-point iterations per step make the round trip exact (<= 2e-4)."""
  schedule = schedules.get(name)
  x0 = jnp.asarray(MU, jnp.float32) + jnp.asarray(S, jnp.float32) * x_T(seed=1)

  @jax.jit
  def round_trip_rms(x0):
    return [jnp.sqrt(jnp.mean((ddim(gaussian_eps_fn, ddim_invert(gaussian_eps_fn, x0, schedule, steps, refine),
                                    schedule, steps) - x0) ** 2)) for steps, refine in ((20, 0), (100, 0), (100, 8))]

  rms_20, rms_100, rms_exact = (float(r) for r in round_trip_rms(x0))
  print(name, "round-trip RMS: 20 steps", rms_20, "100 steps", rms_100, "100 steps refine 8", rms_exact)
  assert rms_100 < 0.07 and 3.0 < rms_20 / rms_100 < 6.0
  assert rms_exact < 2e-4


def test_guidance_mix_and_wrapper():
  """eps_w = (1 + w) eps(x, c) - w eps(x, null), from one batched call; w = 0 is the conditional prediction."""
  def label_eps_fn(x, n, a, labels):
    return toy_eps_fn(x, n, a) + labels.reshape((-1,) + (1,) * (x.ndim - 1)) * 0.1
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 2))
  n, a = schedules.cosine(jnp.full((3, 1), 0.4))
  labels = jnp.array([0, 2, 1])
  cond, null = label_eps_fn(x, n, a, labels), label_eps_fn(x, n, a, jnp.full((3,), 5))
  for w in (0.0, 1.0, 3.0):
    got = guidance.classifier_free_guidance(label_eps_fn, labels, 5, w)(x, n, a)
    np.testing.assert_allclose(np.asarray(got), (1 + w) * np.asarray(cond) - w * np.asarray(null), atol=1e-6)
  np.testing.assert_array_equal(guidance.classifier_free_guidance(label_eps_fn, labels, 5, 0.0)(x, n, a), cond)
  np.testing.assert_allclose(guidance.guided_eps(2.0, 1.0, 3.0), 5.0)
  # Guidance works with every sampler: the guided eps is an ordinary eps_fn.
  eps_fn = guidance.classifier_free_guidance(label_eps_fn, labels, 5, 2.0)
  outs = jax.jit(lambda x: [solvers.reverse(sampler, eps_fn, x, schedules.cosine, 3, key=jax.random.PRNGKey(0))
                            for sampler in solvers.SAMPLERS])(x)
  for out in outs:
    assert out.shape == x.shape and np.all(np.isfinite(np.asarray(out)))


def test_quality_vs_nfe_curve(tmp_path):
  """Each sampler is scored once per budget with the steps that fit it; the JSON holds every point and the PNG
  is written (a fake score function stands in for jaxgen.evaluate: FD = 100 / NFE)."""
  import json
  import types
  import ml_collections
  from jaxgen.metrics import nfe_curve
  calls = []

  def score(options):
    calls.append(options)
    return {"num": 10, "metrics": {"confidence": 0.5, "fd": 100.0 / solvers.nfe(options["sampler"], options["steps"])}}

  config = ml_collections.ConfigDict({"family": "diffusion", "data": {"name": "digits"}, "sample": {"guidance": 0.0}})
  run = types.SimpleNamespace(config=config, workdir=str(tmp_path), step=7)
  result = nfe_curve.run_curve(run, "10,5", score)
  assert result["metric"] == "fd" and result["budgets"] == [5, 10] and len(result["points"]) == 8
  assert {"sampler": "heun", "steps": 5} in calls and {"sampler": "dpm_solver_2m", "steps": 10} in calls
  heun = [p for p in result["points"] if p["sampler"] == "heun"]
  assert [(p["steps"], p["nfe"], p["metrics"]["fd"]) for p in heun] == [(3, 5, 20.0), (5, 9, 100 / 9)]
  saved = json.loads((tmp_path / "quality_vs_nfe.json").read_text())
  assert saved["points"][0]["num"] == 10 and saved["step"] == 7
  assert (tmp_path / "quality_vs_nfe.png").stat().st_size > 5000
  assert "11.11 (9)" in nfe_curve.format_table(result)
  with pytest.raises(JaxgenError, match="--nfe='5,x'"):
    nfe_curve.parse_budgets("5,x")
  config.family = "vae"
  with pytest.raises(JaxgenError, match="diffusion"):
    nfe_curve.run_curve(run, "5", score)
