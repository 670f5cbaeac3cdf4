"""Pure samplers over `lax.scan`, usable with any model function (docs/design.md §4).

  from jaxgen.samplers import langevin, ddim, ddpm, schedules
"""
from jaxgen.samplers import schedules
from jaxgen.samplers.diffusion import ddim, ddpm
from jaxgen.samplers.langevin import langevin

__all__ = ["langevin", "ddim", "ddpm", "schedules"]
