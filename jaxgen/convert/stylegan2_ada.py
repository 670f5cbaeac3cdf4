"""NVIDIA's StyleGAN2-ADA network pickle (`G_ema`) -> a jaxgen stylegan work directory (model.arch="stylegan2_ada").

The pickle (read by jaxgen.convert.torch_pickle, never executed) holds a dict with "G_ema": a persistent
`Generator` object whose `_init_kwargs` give z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs
(num_layers, lr_multiplier) and synthesis_kwargs (channel_base, channel_max, conv_clamp, architecture), and whose
state dict is exactly `jaxgen.nn.stylegan2`'s params flattened with '.', plus the buffers
  mapping.w_avg (w_dim,)                         -> State.w_avg (the truncation centre)
  synthesis.b*.resample_filter, *.resample_filter (4, 4)   checked to be the [1,3,3,1] filter, then dropped.
Conditional generators (c_dim > 0) carry mapping.embed (w_dim, c_dim): the label's embedding (model.c_dim).

Every check after reading (init kwargs, tensor names and shapes) is inside one error boundary: whatever the file
holds, the result is a work directory or one JaxgenError line. The work directory is built in a sibling temporary
directory and renamed into place when complete, so an interrupted conversion leaves nothing at --workdir and can
simply be run again (docs/importer.md).
"""
import importlib.util
import math
import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.convert import torch_pickle
from jaxgen import fileio
from jaxgen.errors import JaxgenError, RunFailure, check
from jaxgen.families import stylegan
from jaxgen.families.stylegan.model import inference_state
from jaxgen.nn.upfirdn2d import setup_filter
from jaxgen.train import checkpoint as ckpt
from jaxgen.train import workdir as workdir_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE_CONFIG = os.path.join(ROOT, "configs", "stylegan2_ada_ffhq.py")
STAGING = ".converting-"   # <parent>/.<name>.converting-<pid>-<random>: a conversion in progress
MISSING = object()


class ConversionFailure(RunFailure):
  """The work directory could not be written (disk full, I/O error); nothing was left at --workdir."""


def read_pickle(path: str) -> dict:
  """The network pickle as inert data; JaxgenError (one line) for a missing, corrupt or unsafe file."""
  check(os.path.isfile(path), f"network pickle {path!r} does not exist.")
  try:
    with open(path, "rb") as f:
      data = torch_pickle.load(f)
  except torch_pickle.UnsafePickleError as e:
    raise JaxgenError(f"refusing {path!r}: {e}; nothing from it was executed.") from None
  except OSError as e:
    raise JaxgenError(f"cannot read {path!r}: {e.strerror or e}.") from None
  keys = sorted(torch_pickle.describe(k) for k in data) if type(data) in torch_pickle.MAPPINGS else None
  check(keys is not None and isinstance(data.get("G_ema"), torch_pickle.PersistentObject),
        f"{path!r} is not a StyleGAN2-ADA network pickle: it has no 'G_ema' generator (it holds "
        f"{'keys ' + ', '.join(keys[:8]) if keys is not None else torch_pickle.describe(data)}).")
  return data


def _number(kw: dict, key: str, lo, hi, default=MISSING, integer=True, where="G_ema's init kwargs"):
  """kw[key] checked to be an integer (or a finite number) in [lo, hi]; JaxgenError naming it otherwise."""
  value = kw.get(key, default)
  check(value is not MISSING, f"{where} have no {key!r}.")
  kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
  ok = isinstance(value, kinds) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
  check(ok and lo <= value <= hi, f"{where}: {key}={torch_pickle.describe(value)} is not allowed; it must be "
        f"{'an integer' if integer else 'a number'} in [{lo}, {hi}].")
  return int(value) if integer else float(value)


def _kwargs(kw: dict, key: str) -> dict:
  value = kw.get(key)
  return {} if value is None else torch_pickle.string_keys(value, f"G_ema's {key}")


def config_from_generator(g: torch_pickle.PersistentObject, base):
  """The jaxgen config (a copy of `base`) for the pickled generator's init kwargs (each checked for type and
  range)."""
  check(g.class_name == "Generator", f"G_ema is a {torch_pickle.describe(g.class_name)}, not a StyleGAN2-ADA "
        "'Generator'.")
  kw = g.init_kwargs()
  mk, sk = _kwargs(kw, "mapping_kwargs"), _kwargs(kw, "synthesis_kwargs")
  res = _number(kw, "img_resolution", 4, 4096)
  check(res & (res - 1) == 0, f"G_ema's img_resolution={res} is not a power of two.")
  w_dim = _number(kw, "w_dim", 1, 4096)
  arch = sk.get("architecture", "skip")
  check(arch == "skip", f"G_ema's synthesis architecture is {torch_pickle.describe(arch)}; only the published "
        "'skip' is supported.")
  fir = sk.get("resample_filter", [1, 3, 3, 1])
  check(type(fir) in (list, tuple) and len(fir) == 4 and [type(v) for v in fir] == [int] * 4
        and list(fir) == [1, 3, 3, 1], "G_ema uses a resample filter other than [1, 3, 3, 1].")
  check(mk.get("activation", "lrelu") == "lrelu" and sk.get("activation", "lrelu") == "lrelu",
        "G_ema uses an activation other than lrelu.")
  for key in ("embed_features", "layer_features"):
    check(mk.get(key) is None or mk.get(key) == w_dim, f"G_ema's mapping {key} differs from w_dim={w_dim}; only "
          "the published default (w_dim) is supported.")
  c = base.copy_and_resolve_references()
  c.data.image_size = res
  c.data.channels = _number(kw, "img_channels", 1, 4)
  m = c.model
  m.arch = "stylegan2_ada"
  m.z_dim, m.w_dim, m.c_dim = _number(kw, "z_dim", 1, 4096), w_dim, _number(kw, "c_dim", 0, 1 << 16)
  maps, syn = "G_ema's mapping_kwargs", "G_ema's synthesis_kwargs"
  m.mapping_layers = _number(mk, "num_layers", 1, 64, 8, where=maps)
  m.mapping_lr_mul = _number(mk, "lr_multiplier", 1e-8, 1e3, 0.01, integer=False, where=maps)
  m.w_avg_beta = _number(mk, "w_avg_beta", 0.0, 1.0, 0.995, integer=False, where=maps)
  m.channel_base = _number(sk, "channel_base", 1, 1 << 24, 32768, where=syn)
  m.channel_max = _number(sk, "channel_max", 1, 1 << 14, 512, where=syn)
  clamp = sk.get("conv_clamp")
  m.conv_clamp = 0.0 if clamp is None else _number(sk, "conv_clamp", 0.0, 1e9, integer=False, where=syn)
  m.inference_only = True
  return c


def params_from_state_dict(state_dict: dict, expected) -> tuple:
  """(params pytree, w_avg) from the official names; `expected` is the params' shape tree (jax.eval_shape)."""
  sd = dict(state_dict)
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
        f"missing {missing[:3]}, unexpected {[n[:80] for n in extra[:3]]}.")
  w_dim = flat["mapping.fc0.bias"].shape[0]
  for name, shape in [(n, leaf.shape) for n, leaf in flat.items()] + [("mapping.w_avg", (w_dim,))]:
    value = w_avg if name == "mapping.w_avg" else sd[name]
    check(tuple(value.shape) == tuple(shape),
          f"G_ema's {name} has shape {tuple(value.shape)}; the architecture needs {tuple(shape)}.")
    check(np.issubdtype(value.dtype, np.floating), f"G_ema's {name} is of dtype {value.dtype}, not float.")
  params = jax.tree_util.tree_map_with_path(
      lambda p, leaf: jnp.asarray(sd[jax.tree_util.keystr(p, simple=True, separator=".")], jnp.float32), expected)
  return params, jnp.asarray(w_avg, jnp.float32)


def generator_state(pickle_path: str, base_config=None):
  """(config, State) of the pickle's G_ema; every failure is one JaxgenError (the error boundary)."""
  data = read_pickle(pickle_path)
  try:
    state_dict = data["G_ema"].state_dict()
    config = config_from_generator(data["G_ema"], base_config if base_config is not None else _load_base())
    gen, _ = stylegan.build_networks(config)
    expected = jax.eval_shape(gen.init, jax.random.PRNGKey(0))
    params, w_avg = params_from_state_dict(state_dict, expected)
  except torch_pickle.UnsafePickleError as e:
    raise JaxgenError(f"refusing {pickle_path!r}: {e}; nothing from it was executed.") from None
  except JaxgenError:
    raise
  except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError) as e:
    raise JaxgenError(f"{pickle_path!r} is not a usable StyleGAN2-ADA network pickle ({type(e).__name__}: "
                      f"{' '.join(str(e).split())[:160]}).") from None
  return config, inference_state(config, params, w_avg)  # the structure stylegan.init gives jaxgen.load


def convert(pickle_path: str, workdir: str, base_config=None):
  """Writes `workdir` (config.json + an Orbax checkpoint at step 0) from the pickle's G_ema; returns the State.

  The directory is written in a sibling staging directory and renamed into place when complete. `workdir` may be
  new, an empty directory, or what an interrupted conversion by an earlier jaxgen left (config.json and a
  checkpoints/ without a checkpoint); a complete work directory is never overwritten."""
  final = os.path.abspath(workdir)
  check(not os.path.exists(final) or os.path.isdir(final), f"--workdir={workdir!r} is a file, not a directory.")
  check(not workdir_lib.checkpoint_steps(final), f"workdir {workdir!r} already has checkpoints; choose a new "
        "directory.")
  leftover = _interrupted_leftover(final)
  config, state = generator_state(pickle_path, base_config)
  parent, name = os.path.split(final)
  _remove_stale_staging(parent, name)
  try:
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{name}{STAGING}{os.getpid()}-", dir=parent)
  except OSError as e:
    raise ConversionFailure(f"cannot write next to --workdir={workdir!r} ({e.strerror or e}).") from None
  try:
    workdir_lib.record_config(config, staging, {}, 0)
    mngr = ckpt.manager(os.path.join(staging, workdir_lib.CHECKPOINTS), keep=1, async_save=False)
    ckpt.save(mngr, 0, state)
    mngr.wait_until_finished()
    mngr.close()
    if leftover:
      shutil.rmtree(final)
    os.replace(staging, final)
    fileio.sync_directory(parent)
  except (OSError, RunFailure) as e:
    shutil.rmtree(staging, ignore_errors=True)
    cause = getattr(e, "cause", None) or (f"{e.strerror or e}" if isinstance(e, OSError) else str(e))
    raise ConversionFailure(f"could not write {workdir!r} ({cause}); nothing was left there. Free space (or fix "
                            "the cause) and run the same command again.") from None
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return state


def _interrupted_leftover(final: str) -> bool:
  """Whether `final` exists and is not empty: then it must be what an interrupted conversion of an earlier
  jaxgen left (config.json of an inference-only stylegan2_ada run, an empty checkpoints/), which is replaced."""
  if not os.path.isdir(final) or not os.listdir(final):
    return False
  entries = set(os.listdir(final))
  recorded = workdir_lib.recorded_config(final) if workdir_lib.CONFIG_FILE in entries else None
  ours = (recorded is not None and entries <= {workdir_lib.CONFIG_FILE, workdir_lib.CHECKPOINTS}
          and recorded.get("model", {}).get("inference_only") is True)
  check(ours, f"--workdir={final!r} exists and holds other files ({', '.join(sorted(entries)[:5])}); choose a new "
        "or empty directory.")
  return True


def _remove_stale_staging(parent: str, name: str) -> None:
  """Removes staging directories of `name` left by conversions that were killed (their process is gone)."""
  if not os.path.isdir(parent):
    return
  for entry in os.listdir(parent):
    if not entry.startswith(f".{name}{STAGING}"):
      continue
    pid = entry[len(f".{name}{STAGING}"):].split("-")[0]
    if pid.isdigit() and not _alive(int(pid)):
      shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except OSError:
    return True
  return True


def _load_base():
  spec = importlib.util.spec_from_file_location("stylegan2_ada_ffhq", BASE_CONFIG)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()
