"""Pure samplers over `lax.scan`, usable with any model function (docs/design.md §4).

  from jaxgen.samplers import langevin, ddim, ddpm, dpm_solver_2m, heun, ddim_invert, schedules
"""
from jaxgen.samplers import guidance, schedules, solvers
from jaxgen.samplers.diffusion import ddim, ddim_invert, ddpm
from jaxgen.samplers.langevin import langevin
from jaxgen.samplers.solvers import dpm_solver_2m, heun

__all__ = ["langevin", "ddim", "ddpm", "dpm_solver_2m", "heun", "ddim_invert", "guidance", "schedules", "solvers"]
