"""Pure samplers over `lax.scan`, usable with any model function (DESIGN.md §4).

  from jaxgen.samplers import langevin, ddim, ddpm
"""
import importlib

_EXPORTS = {
    "langevin": "jaxgen.samplers.langevin",
    "ddim": "jaxgen.samplers.diffusion",
    "ddpm": "jaxgen.samplers.diffusion",
    "schedules": "jaxgen.samplers.schedules",
}


def __getattr__(name):
  if name in _EXPORTS:
    module = importlib.import_module(_EXPORTS[name])
    return module if module.__name__.endswith(name) else getattr(module, name)
  raise AttributeError(f"module 'jaxgen.samplers' has no attribute {name!r}")


__all__ = list(_EXPORTS)
