"""The Python API a user finds without reading the source: `jaxgen`'s exports and their docstrings, `Run.sample`'s
per-family options, errors that talk Python, `interpolate` on slices, and the README / docs examples run as
written (the diffusion snippet against `run.sample`, the worked Langevin example)."""
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT, load_config
import jaxgen
from jaxgen import data as data_lib
from jaxgen import families, run as run_lib, samplers, viz
from jaxgen.errors import JaxgenError
from jaxgen.families import autoencoder as ae
from jaxgen.families import diffusion, vae
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import sharding
from jaxgen.train import workdir as workdir_lib
from jaxgen.samplers.langevin import ula_noise

EXPORTS = {"load": run_lib.load, "Run": run_lib.Run, "load_data": run_lib.load_data, "ddim": samplers.ddim,
           "ddpm": samplers.ddpm, "dpm_solver_2m": samplers.dpm_solver_2m, "heun": samplers.heun,
           "ddim_invert": samplers.ddim_invert, "langevin": samplers.langevin, "save_image_grid": viz.save_image_grid,
           "image_grid": viz.image_grid}


def code_block(path: str, after: str) -> str:
  """The first ```python block of `path` after the text `after`."""
  text = open(os.path.join(ROOT, path)).read()
  start = text.index(after)
  return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_exports_are_the_real_functions_and_import_jaxgen_stays_light():
  assert sorted(jaxgen.__all__) == sorted(EXPORTS)
  for name, value in EXPORTS.items():
    assert getattr(jaxgen, name) is value, name
    doc = value.__doc__ or ""
    assert len(doc) > 150, f"{name} has no real docstring"
    assert name == "Run" or re.search(r"\((N|B|n|num|\d+), ", doc), f"{name}'s docstring states no shapes"
  assert "jaxgen.run.load" not in jaxgen.load.__doc__ and "Raises" in jaxgen.load.__doc__
  from jaxgen import load, langevin  # from-imports go through the module __getattr__ too
  assert load is run_lib.load and langevin is samplers.langevin
  with pytest.raises(AttributeError, match="no attribute 'nope'"):
    jaxgen.nope
  code = "import sys, jaxgen, jaxgen.errors, jaxgen.configs; print(sorted(m for m in ('jax', 'flax', 'orbax') if m in sys.modules))"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
  assert out.stdout.strip() == "[]"


def test_run_sample_documents_every_family_option():
  """Each family's block of `Run.sample`'s docstring names every option in the family's SAMPLE_OPTIONS."""
  doc = run_lib.Run.sample.__doc__
  names = list(families.FAMILIES)
  starts = {name: re.search(rf"^\s+{name}\s", doc, re.M) for name in names}
  assert all(starts.values()), [n for n, m in starts.items() if not m]
  order = sorted(names, key=lambda n: starts[n].start())
  for i, name in enumerate(order):
    block = doc[starts[name].start():starts[order[i + 1]].start() if i + 1 < len(order) else len(doc)]
    missing = [o for o in families.get(name).SAMPLE_OPTIONS if o not in block]
    assert not missing, f"Run.sample's docstring does not document {name}'s {missing}"


def test_a_missing_run_names_the_path_tried_in_python_terms(tmp_path):
  with pytest.raises(JaxgenError) as e:
    jaxgen.load("no_such_run_dir")
  message = str(e.value)
  assert os.path.abspath("no_such_run_dir") in message and "does not exist" in message
  assert "jaxgen.runtime.train(config, DIR)" in message and "pass the --workdir" not in message
  (tmp_path / "file").write_text("")
  with pytest.raises(JaxgenError, match="is a file, not a directory"):
    jaxgen.load(str(tmp_path / "file"))


@pytest.mark.parametrize("family,config", [(vae, "vae_digits"), (ae, "ae_digits")])
def test_interpolate_takes_an_image_or_a_slice_and_names_the_shapes_otherwise(family, config):
  c = load_config(config, **{"data.image_size": 8, "model.encoder_features": (4,), "model.decoder_features": (4,),
                             "model.conv_impl": "lax"})
  x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype(np.float32)
  state = family.init(c, jax.random.PRNGKey(0), {"x": x})
  frames = np.asarray(family.interpolate(state, x[0:1], x[1:2], num=4))
  np.testing.assert_array_equal(frames, np.asarray(family.interpolate(state, x[0], x[1], num=4)))
  # Twin: decode((1 - f) z0 + f z1) at f = 0, 1/4, 2/4, 3/4 from the (mean) encodings.
  z = family.encode(state, x[:2])
  z = z[0] if family is vae else z
  f = np.arange(4, dtype=np.float32)[:, None] / 4
  np.testing.assert_allclose(frames, np.asarray(family.decode(state, (1 - f) * z[0] + f * z[1])), atol=1e-6)
  with pytest.raises(JaxgenError, match=re.escape("x0 has shape (2, 8, 8, 1); expected one image (8, 8, 1) "
                                                  "or a batch of one (1, 8, 8, 1)")):
    family.interpolate(state, x[0:2], x[1:2])
  with pytest.raises(JaxgenError, match=re.escape("x1 has shape (8, 8)")):
    family.interpolate(state, x[0], x[1, :, :, 0])


@pytest.fixture(scope="module")
def ddm_run(tmp_path_factory):
  """A diffusion workdir on 8x8 digits (the README snippet's shapes) with a small U-Net, written as
  `python -m jaxgen.convert` writes one (config.json + one checkpoint) rather than trained: what is checked is
  the samplers' plumbing, not the model, and no train step is compiled. The EMA weights are moved off the raw
  ones so that a sampler using the raw network would give other images."""
  config = load_config("ddm_digits", **{
      "model.widths": (4, 8), "model.block_depth": 1, "model.bottleneck_width": 8, "model.bottleneck_depth": 1,
      "model.embedding_dim": 8, "model.conv_impl": "lax"})   # lax: XLA's convolutions compile fastest
  batch = {"x": data_lib.load_split(config, "train")["x"][:256]}
  state = sharding.init_replicated(diffusion.init, config, jax.random.PRNGKey(0), batch, sharding.make_mesh())
  rng = np.random.default_rng(1)
  state = state.replace(ema_params=jax.tree.map(
      lambda p: np.asarray(p) + 0.3 * rng.standard_normal(p.shape).astype(np.float32), state.ema_params))
  workdir = str(tmp_path_factory.mktemp("api") / "ddm_digits")
  workdir_lib.record_config(config, workdir, {}, 0)
  ckpt.save(ckpt.manager(os.path.join(workdir, "checkpoints"), async_save=False), 0, state)
  return workdir


def test_readme_diffusion_snippet_agrees_with_run_sample(ddm_run):
  code = code_block("README.md", "the samplers are pure and take any ε-function")
  assert 'jaxgen.load("runs/ddm_digits")' in code
  scope = {}
  exec(code.replace("runs/ddm_digits", ddm_run), scope)
  images, same, run, key = scope["images"], scope["same"], scope["run"], scope["key"]
  assert images.shape == (16, 8, 8, 1) and 0.0 <= float(images.min()) <= float(images.max()) <= 1.0
  np.testing.assert_allclose(np.asarray(images), same, atol=1e-5)          # what the README promises
  # Why the two differ without initial_noise, as the README says: run.sample's noise is split(key)[0]'s.
  plain = run.sample(key, 16, steps=20)
  assert np.abs(plain - np.asarray(images)).max() > 0.1
  noise = jax.random.normal(jax.random.split(key)[0], (16, 8, 8, 1))
  from_split = diffusion.denormalize(run.state, jaxgen.ddim(scope["eps_fn"], noise, scope["schedule"], 20))
  np.testing.assert_allclose(np.asarray(from_split), plain, atol=1e-5)


def test_load_data_from_a_run_a_workdir_or_a_config(ddm_run):
  run = jaxgen.load(ddm_run)
  test = jaxgen.load_data(run, "test")
  x, labels = test["x"], test["label"]
  assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1) and len(x) == len(labels) > 100
  assert 0.0 <= x.min() < x.max() <= 1.0 and set(np.unique(labels)) == set(range(10))
  np.testing.assert_array_equal(jaxgen.load_data(ddm_run, "test")["x"], x)
  np.testing.assert_array_equal(jaxgen.load_data(run.config, "test")["x"], data_lib.load_split(run.config, "test")["x"])
  with pytest.raises(JaxgenError, match="split='val' is not allowed"):
    jaxgen.load_data(run, "val")


def mode_stats(x, centres, sigma):
  """(fraction within 3 sigma of its nearest mode, samples per mode (8,), std around the nearest mode)."""
  x, centres = np.asarray(x), np.asarray(centres)
  d = np.linalg.norm(x[:, None] - centres, axis=-1)
  near = d.argmin(1)
  return (d.min(1) < 3 * sigma).mean(), np.bincount(near, minlength=len(centres)), (x - centres[near]).std()


def test_the_worked_langevin_example_samples_the_mixture():
  scope = {}
  exec(code_block("docs/design.md", "**Langevin, worked.**"), scope)
  centres, sigma, energy = scope["centres"], scope["sigma"], scope["energy"]
  within, counts, std = mode_stats(scope["samples"], centres, sigma)
  assert scope["samples"].shape == (2000, 2)
  assert within > 0.98 and np.all(np.abs(counts / 250 - 1) < 0.25), (within, counts)
  # ULA's stationary std at the last r = 0.01 is (1 - r) sqrt(2 / (2 - r)) sigma = 0.9925 sigma.
  assert abs(std / (0.9925 * sigma) - 1) < 0.05, std
  # The docs' warnings, measured the same way: eta = 0.1 > 2 sigma^2 is unstable, a constant 0.02 too narrow.
  x0, key = scope["x0"], scope["k_chain"]
  for eta, check in ((0.1, lambda w, s: w < 0.5), (0.02, lambda w, s: abs(s / (0.577 * sigma) - 1) < 0.1)):
    w, _, s = mode_stats(jaxgen.langevin(energy, x0, key, steps=500, step_size=eta,
                                         noise_scale=float(ula_noise(eta))), centres, sigma)
    assert check(w, s), (eta, w, s)
