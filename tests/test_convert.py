"""jaxgen.convert: NVIDIA StyleGAN2-ADA pickles (written here in the official layout, without torch) -> a jaxgen
workdir whose generator reproduces a NumPy twin; unsafe pickles are refused without running anything."""
import os
import pickle
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgen
import stylegan2_twin as twin
import torch_pickle_writer as writer
from jaxgen.convert import stylegan2_ada, torch_pickle
from jaxgen.errors import JaxgenError
from test_stylegan2_ada import random_state_dict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KW = {"z_dim": 6, "c_dim": 0, "w_dim": 5, "img_resolution": 8, "img_channels": 3,
      "mapping_kwargs": {"num_layers": 2},
      "synthesis_kwargs": {"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 1.5}}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
  d = tmp_path_factory.mktemp("convert")
  sd = random_state_dict(8, 3, 6, 5, 2, 64, 8, seed=3)
  path = str(d / "network.pkl")
  writer.write_network_pickle(path, sd, KW)
  workdir = str(d / "run")
  stylegan2_ada.convert(path, workdir)
  return sd, path, workdir


def test_restricted_unpickler_reads_the_official_layout(converted):
  sd, path, _ = converted
  with open(path, "rb") as f:
    data = torch_pickle.load(f)
  g = data["G_ema"]
  assert g.class_name == "Generator" and g.init_kwargs()["img_resolution"] == 8
  got = g.state_dict()
  assert set(got) == set(sd)
  for name, value in sd.items():                        # incl. column-major stored weights
    np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_converted_workdir_reproduces_the_numpy_twin(converted):
  sd, _, workdir = converted
  run = jaxgen.load(workdir)
  assert run.config.model.arch == "stylegan2_ada" and run.config.model.conv_clamp == 1.5
  st = run.state
  np.testing.assert_array_equal(np.asarray(st.w_avg), sd["mapping.w_avg"])
  z = np.random.default_rng(5).normal(size=(2, 6)).astype(np.float32)
  gen = st.generator
  w = np.asarray(gen.mapping(st.g_ema, jnp.asarray(z)))
  ref_w = twin.mapping(sd, z, 2)
  np.testing.assert_allclose(w, ref_w, rtol=1e-4, atol=1e-5)
  psi = 0.7
  ws_ref = np.repeat((sd["mapping.w_avg"] + psi * (ref_w - sd["mapping.w_avg"]))[:, None], gen.num_layers, axis=1)
  ref = twin.synthesis(sd, ws_ref, 8, "const", clamp=1.5).transpose(0, 2, 3, 1)
  # the family's sampling path: truncation towards w_avg, constant noise, [-1, 1] -> [0, 1]
  from jaxgen.families.stylegan import outputs
  from jaxgen.latent.truncation import truncate
  wp = jnp.broadcast_to(truncate(jnp.asarray(w), st.w_avg, psi)[:, None], (2, gen.num_layers, 5))
  img = np.asarray(outputs.render(st, wp, jax.random.PRNGKey(0), "const"))
  np.testing.assert_allclose(img, np.clip((ref + 1) / 2, 0, 1), rtol=1e-4, atol=1e-4)


def _malicious(path, marker):
  class Evil:
    def __reduce__(self):
      return (os.system, (f"touch {marker}",))
  with open(path, "wb") as f:
    pickle.dump({"G_ema": Evil()}, f)


def test_a_pickle_that_runs_code_is_refused_and_never_runs(tmp_path):
  path, marker = str(tmp_path / "evil.pkl"), str(tmp_path / "pwned")
  _malicious(path, marker)
  with pytest.raises(JaxgenError, match=r"refusing .*(posix|os)\.system.*nothing from it was executed"):
    stylegan2_ada.read_pickle(path)
  assert not os.path.exists(marker)
  # a persistent record's embedded source is data, never executed
  src = f"open({marker!r}, 'w').write('x')\n"
  sd = random_state_dict(4, 1, 2, 2, 1, 16, 4)
  kw = dict(KW, z_dim=2, w_dim=2, img_resolution=4, img_channels=1, mapping_kwargs={"num_layers": 1})
  writer.write_network_pickle(str(tmp_path / "src.pkl"), sd, kw, module_src=src)
  assert stylegan2_ada.read_pickle(str(tmp_path / "src.pkl"))["G_ema"].class_name == "Generator"
  assert not os.path.exists(marker)


def test_cli_refuses_with_one_line(tmp_path):
  path, marker = str(tmp_path / "evil.pkl"), str(tmp_path / "pwned")
  _malicious(path, marker)
  proc = subprocess.run([sys.executable, "-m", "jaxgen.convert", "stylegan2_ada", path,
                         f"--workdir={tmp_path / 'run'}"], capture_output=True, text=True, cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}, timeout=300)
  assert proc.returncode == 2, proc.stderr
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: refusing"), proc.stderr
  assert not os.path.exists(marker)
