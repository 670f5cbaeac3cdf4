"""The keys every experiment shares (`base_config`; the family defaults in jaxgen/configs add their own) and the
checks of `--config.KEY=VALUE` overrides against a config's keys and types (docs/design.md §7)."""
import ast
import copy
import difflib
import json

import ml_collections

from jaxgen.errors import JaxgenError

# Keys renamed so that one idea has one name in every family; the old names are refused with a hint.
RENAMED_KEYS = {
    "model.ema": "model.ema_decay",
    "model.critic_steps": "model.n_critic",
    "optim.lr": "optim.learning_rate",
}


def base_config() -> ml_collections.ConfigDict:
  """Returns the keys common to all families, with neutral defaults."""
  c = ml_collections.ConfigDict()
  c.family = ""            # a key of jaxgen.families.FAMILIES
  c.seed = 0               # the one seed: params, data order, per-step keys

  c.data = ml_collections.ConfigDict()
  c.data.name = "digits"   # toy2d/<name> | digits | tfds/<name> | folder:<path>
  c.data.image_size = 32   # square side after padding/resizing (ignored for toy2d)
  c.data.channels = 1      # 1 (grayscale) or 3 (RGB)
  c.data.pad = 0           # pixels of padding on each side before any resize (the reference pads MNIST 28->32)
  c.data.range = "unit"    # "unit": [0, 1] (AE/VAE); "symmetric": [-1, 1] (GAN/EBM); diffusion standardises later
  c.data.data_dir = ""     # TFDS data_dir ("" = TFDS default)
  c.data.label = ""        # attribute used as the label where a data set has several (CelebA: "Blond_Hair")

  c.model = ml_collections.ConfigDict()
  c.model.dtype = "float32"     # compute dtype of the networks: "float32" | "bfloat16" (params stay float32)
  c.model.conv_impl = "auto"    # "auto" (CPU: matmul forms, GPU/TPU: XLA's) | "lax" | "matmul" | "space_to_depth"
  c.optim = ml_collections.ConfigDict()

  c.train = ml_collections.ConfigDict()
  c.train.num_steps = 1000
  c.train.batch_size = 128
  c.train.log_every = 50
  c.train.eval_every = 0           # 0: no periodic evaluation
  c.train.checkpoint_every = 500
  c.train.keep_checkpoints = 3
  c.train.sample_every = 500       # 0: no sample grids during training
  c.train.num_sample_images = 64   # images in each samples/step_XXXXXX.png grid

  c.sample = ml_collections.ConfigDict()
  return c


def upgrade_recorded(recorded: dict, defaults: ml_collections.ConfigDict | None = None) -> dict:
  """A config.json written by an earlier jaxgen, brought to today's names: renamed keys (RENAMED_KEYS) take their
  new name, and keys added since (e.g. model.dtype, or a family key the run's data type never read) get the value
  of `defaults` (the family's default config; base_config() when None). Returns a new dict."""
  out = copy.deepcopy(recorded)
  for old, new in RENAMED_KEYS.items():
    (sec_old, key_old), (sec_new, key_new) = old.split("."), new.split(".")
    section = out.get(sec_old)
    if isinstance(section, dict) and key_old in section and key_new not in out.get(sec_new, {}):
      out.setdefault(sec_new, {})[key_new] = section.pop(key_old)
  for name, value in flat_keys(defaults if defaults is not None else base_config()).items():
    node = out
    *parents, leaf = name.split(".")
    for p in parents:
      node = node.setdefault(p, {})
    node.setdefault(leaf, json.loads(json.dumps(value)))  # as config.json holds it (tuples as lists)
  return out


def flat_keys(config: ml_collections.ConfigDict, prefix: str = "") -> dict:
  """{"train.num_steps": 1000, ...}: every leaf of `config` under its dotted name."""
  out = {}
  for key, value in config.items():
    name = f"{prefix}{key}"
    if isinstance(value, ml_collections.ConfigDict):
      out.update(flat_keys(value, name + "."))
    else:
      out[name] = value
  return out


def _parse_like(text: str, default):
  """`text` parsed as a value of `default`'s type, or raises ValueError naming the expected type."""
  if isinstance(default, bool):
    if text.lower() in ("true", "1", "yes"):
      return True
    if text.lower() in ("false", "0", "no"):
      return False
    raise ValueError("true or false")
  for kind, expected in ((int, "an integer"), (float, "a number")):
    if isinstance(default, kind):
      try:
        return kind(text)
      except ValueError:
        raise ValueError(expected) from None
  if isinstance(default, (tuple, list)):
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      raise ValueError("a tuple such as (32, 64)") from None
    if isinstance(value, (int, float)):
      value = (value,)
    if not isinstance(value, (tuple, list)):
      raise ValueError("a tuple such as (32, 64)")
    return tuple(value)
  return text


def check_overrides(config: ml_collections.ConfigDict, overrides: dict) -> None:
  """Checks `--config.KEY=VALUE` overrides ({"train.num_steps": "300"}) against the config's own keys and types.

  Raises JaxgenError naming the first unknown key (with the renamed key or the closest existing ones as "did you
  mean") or the first value that does not parse as its key's type. The config file is the schema: its keys are the
  ones that exist and its values give their types.
  """
  keys = flat_keys(config)
  for key, text in overrides.items():
    if key not in keys:
      hint = RENAMED_KEYS.get(key)
      if hint is None:
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        hint = close[0] if close else None
      raise JaxgenError(f"unknown config key in --config.{key}={text}" + (f" (did you mean {hint!r}?)" if hint else "")
                        + "; `python train.py --config=FILE --show_config` lists every key.")
    if keys[key] is None:
      continue
    try:
      _parse_like(text, keys[key])
    except ValueError as e:
      raise JaxgenError(f"--config.{key}={text!r}: expected {e} (the config's value is {keys[key]!r}).") from None


__all__ = ["base_config", "check_overrides", "flat_keys", "upgrade_recorded", "JaxgenError", "RENAMED_KEYS"]
