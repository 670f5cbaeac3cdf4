"""NVIDIA's StyleGAN2-ADA network pickle (`G_ema`) -> a jaxgen stylegan work directory (model.arch="stylegan2_ada").

The pickle (read by jaxgen.convert.torch_pickle, never executed) holds a dict with "G_ema": a persistent
`Generator` object whose `_init_kwargs` give z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs
(num_layers, lr_multiplier) and synthesis_kwargs (channel_base, channel_max, conv_clamp, architecture), and whose
state dict is exactly `jaxgen.nn.stylegan2`'s params flattened with '.', plus the buffers
  mapping.w_avg (w_dim,)                         -> State.w_avg (the truncation centre)
  synthesis.b*.resample_filter, *.resample_filter (4, 4)   checked to be the [1,3,3,1] filter, then dropped.
"""
import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.convert import torch_pickle
from jaxgen.errors import JaxgenError, check
from jaxgen.families import stylegan
from jaxgen.families.stylegan.model import inference_state
from jaxgen.nn.upfirdn2d import setup_filter
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import workdir as workdir_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE_CONFIG = os.path.join(ROOT, "configs", "stylegan2_ada_ffhq.py")


def read_pickle(path: str) -> dict:
  """The network pickle as inert data; JaxgenError (one line) for a missing, corrupt or unsafe file."""
  check(os.path.isfile(path), f"network pickle {path!r} does not exist.")
  try:
    with open(path, "rb") as f:
      data = torch_pickle.load(f)
  except torch_pickle.UnsafePickleError as e:
    raise JaxgenError(f"refusing {path!r}: {e}; nothing from it was executed.") from None
  except Exception as e:  # truncated / not a pickle
    raise JaxgenError(f"cannot read {path!r} as a network pickle: {type(e).__name__}: {e}".splitlines()[0]) \
        from None
  check(isinstance(data, dict) and isinstance(data.get("G_ema"), torch_pickle.PersistentObject),
        f"{path!r} is not a StyleGAN2-ADA network pickle: it has no 'G_ema' generator (keys: "
        f"{sorted(data) if isinstance(data, dict) else type(data).__name__}).")
  return data


def config_from_generator(g: torch_pickle.PersistentObject, base):
  """The jaxgen config (a copy of `base`) for the pickled generator's init kwargs."""
  kw = g.init_kwargs()
  mk, sk = dict(kw.get("mapping_kwargs") or {}), dict(kw.get("synthesis_kwargs") or {})
  check(g.class_name == "Generator", f"G_ema is a {g.class_name!r}, not a StyleGAN2-ADA 'Generator'.")
  check(int(kw.get("c_dim", 0)) == 0, f"G_ema is class-conditional (c_dim={kw.get('c_dim')}); only unconditional "
        "generators are supported.")
  arch = sk.get("architecture", "skip")
  check(arch == "skip", f"G_ema's synthesis architecture is {arch!r}; only the published 'skip' is supported.")
  check(list(sk.get("resample_filter", [1, 3, 3, 1])) == [1, 3, 3, 1], "G_ema uses a resample filter other than "
        "[1, 3, 3, 1].")
  check(mk.get("activation", "lrelu") == "lrelu" and sk.get("activation", "lrelu") == "lrelu",
        "G_ema uses an activation other than lrelu.")
  c = base.copy_and_resolve_references()
  c.data.image_size = int(kw["img_resolution"])
  c.data.channels = int(kw["img_channels"])
  m = c.model
  m.arch = "stylegan2_ada"
  m.z_dim, m.w_dim = int(kw["z_dim"]), int(kw["w_dim"])
  m.mapping_layers = int(mk.get("num_layers", 8))
  m.mapping_lr_mul = float(mk.get("lr_multiplier", 0.01))
  m.channel_base = int(sk.get("channel_base", 32768))
  m.channel_max = int(sk.get("channel_max", 512))
  m.conv_clamp = float(sk.get("conv_clamp") or 0.0)
  m.w_avg_beta = float(mk.get("w_avg_beta", 0.995))
  m.inference_only = True
  return c


def params_from_state_dict(state_dict: dict, expected) -> tuple:
  """(params pytree, w_avg) from the official names; `expected` is the params' shape tree (jax.eval_shape)."""
  sd = {k: np.asarray(v) for k, v in state_dict.items()}
  w_avg = sd.pop("mapping.w_avg", None)
  check(w_avg is not None, "G_ema has no mapping.w_avg buffer (needed for truncation).")
  fir = setup_filter()
  for name in [k for k in sd if k.endswith("resample_filter")]:
    check(sd[name].shape == fir.shape and np.allclose(sd[name], fir, atol=1e-6),
          f"G_ema's {name} is not the normalised [1,3,3,1] filter.")
    del sd[name]
  flat = {jax.tree_util.keystr(p, simple=True, separator="."): leaf
          for p, leaf in jax.tree_util.tree_leaves_with_path(expected)}
  missing, extra = sorted(set(flat) - set(sd)), sorted(set(sd) - set(flat))
  check(not missing and not extra, f"G_ema's tensors do not match the architecture of its init kwargs: "
        f"missing {missing[:3]}, unexpected {extra[:3]}.")
  for name, leaf in flat.items():
    check(tuple(sd[name].shape) == tuple(leaf.shape),
          f"G_ema's {name} has shape {tuple(sd[name].shape)}; the architecture needs {tuple(leaf.shape)}.")
  params = jax.tree_util.tree_map_with_path(
      lambda p, leaf: jnp.asarray(sd[jax.tree_util.keystr(p, simple=True, separator=".")], jnp.float32), expected)
  return params, jnp.asarray(w_avg, jnp.float32)


def convert(pickle_path: str, workdir: str, base_config=None):
  """Writes `workdir` (config.json + an Orbax checkpoint at step 0) from the pickle's G_ema; returns the State."""
  data = read_pickle(pickle_path)
  g = data["G_ema"]
  if base_config is None:
    base_config = _load_base()
  config = config_from_generator(g, base_config)
  check(not os.path.exists(os.path.join(workdir, "checkpoints")),
        f"workdir {workdir!r} already has checkpoints; choose a new directory.")
  gen, _ = stylegan.build_networks(config)
  expected = jax.eval_shape(gen.init, jax.random.PRNGKey(0))
  params, w_avg = params_from_state_dict(g.state_dict(), expected)
  state = inference_state(config, params, w_avg)        # the structure stylegan.init gives jaxgen.load
  workdir_lib.record_config(config, workdir, {}, 0)
  mngr = ckpt.manager(os.path.join(workdir, "checkpoints"), keep=config.train.keep_checkpoints, async_save=False)
  ckpt.save(mngr, 0, state)
  mngr.wait_until_finished()
  return state


def _load_base():
  spec = importlib.util.spec_from_file_location("stylegan2_ada_ffhq", BASE_CONFIG)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()
