"""One default config per family: every key its code reads, with values that train on the embedded data.

`configs/*.py` start from `get(family)` (or `jaxgen.configs.<family>.get_config()`) and set only what differs.
"""
import importlib

import ml_collections

from jaxgen.errors import JaxgenError

FAMILIES = ("autoencoder", "vae", "gan", "stylegan", "ebm", "diffusion")


def get(family: str) -> ml_collections.ConfigDict:
  """The default config of `family` (a config.family name); a one-line JaxgenError for an unknown name."""
  if family not in FAMILIES:
    raise JaxgenError(f"family={family!r} has no default config; choose one of {', '.join(FAMILIES)}.")
  return importlib.import_module(f"{__name__}.{family}").get_config()
