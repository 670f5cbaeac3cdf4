"""The config schema every experiment shares (DESIGN.md §7).

Each file in `configs/` starts from :func:`base_config` and fills in its family's fields, so the names the
command line overrides (`--config.train.num_steps=300`) are the same for every family.
"""
import ml_collections

from jaxgen.errors import JaxgenError, check


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


def validate_common(config: ml_collections.ConfigDict) -> None:
  """Checks the shared keys; raises JaxgenError naming the bad value and what is allowed."""
  from jaxgen import families  # local import: families import this module
  from jaxgen import data

  families.get(config.family)
  data.check_name(config.data.name)
  check(config.data.channels in (1, 3), f"data.channels={config.data.channels!r} is not allowed; choose 1 or 3.")
  check(config.data.range in ("unit", "symmetric"),
        f"data.range={config.data.range!r} is not allowed; choose 'unit' or 'symmetric'.")
  from jaxgen.nn import policy
  policy.validate(config)
  check(int(config.data.image_size) >= 4, f"data.image_size={config.data.image_size!r} must be at least 4.")
  check(int(config.data.pad) >= 0, f"data.pad={config.data.pad!r} must be >= 0.")
  for key in ("num_steps", "batch_size", "log_every", "keep_checkpoints"):
    value = config.train[key]
    check(isinstance(value, int) and value > 0, f"train.{key}={value!r} must be a positive integer.")
  for key in ("eval_every", "checkpoint_every", "sample_every"):
    value = config.train[key]
    check(isinstance(value, int) and value >= 0, f"train.{key}={value!r} must be an integer >= 0 (0 turns it off).")


def validate(config: ml_collections.ConfigDict) -> None:
  """Full validation: the shared keys, then the family's own `validate_config` if it has one."""
  from jaxgen import families
  validate_common(config)
  family = families.get(config.family)
  if hasattr(family, "validate_config"):
    family.validate_config(config)


__all__ = ["base_config", "validate", "validate_common", "JaxgenError"]
