"""The training loop and what it is built from (docs/design.md §6); `jaxgen.runtime.train` runs it for train.py.

`Hooks`, `train` (jaxgen.train.loop) and `TrainingDiverged` (jaxgen.train.actions) load on first use (PEP 562), so
`jaxgen.train.workdir` — the config and lock checks train.py makes before JAX loads — imports no JAX.
"""
import importlib

_LAZY = {"Hooks": "loop", "train": "loop", "TrainingDiverged": "actions"}
__all__ = ["Hooks", "TrainingDiverged", "train"]


def __getattr__(name: str):
  if name not in _LAZY:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
  return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
