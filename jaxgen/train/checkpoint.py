"""Checkpoints of a family State with Orbax (atomic directories, keep-last-N, async saves).

Orbax writes each step into a temporary directory and renames it when complete, so a crash or a
preemption mid-save never leaves a half-written checkpoint that a restart would pick up.
"""
import os

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from jaxgen.errors import JaxgenError


def manager(directory: str, keep: int = 3, async_save: bool = True) -> ocp.CheckpointManager:
  """A CheckpointManager over `directory` keeping the newest `keep` steps."""
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                         enable_async_checkpointing=async_save)
  return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def save(mngr: ocp.CheckpointManager, step: int, state) -> None:
  """Saves the pytree leaves of `state` as checkpoint `step` (asynchronously when enabled)."""
  mngr.save(step, args=ocp.args.StandardSave(state), force=True)


def restore(mngr: ocp.CheckpointManager, state_like, step: int | None = None):
  """Restores checkpoint `step` (default: the latest) into the structure and shardings of `state_like`."""
  step = mngr.latest_step() if step is None else step
  if step is None:
    raise JaxgenError(f"no checkpoint found in {mngr.directory}; train first with train.py --workdir=...")
  if step not in mngr.all_steps():
    raise JaxgenError(f"checkpoint step {step} not found in {mngr.directory}; "
                      f"available steps: {sorted(mngr.all_steps())}.")
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
  return mngr.restore(step, args=ocp.args.StandardRestore(abstract)), step


def all_finite(tree) -> bool:
  """True when every floating-point leaf of `tree` is free of NaN and Inf (one device reduction)."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)]
  return bool(jnp.all(jnp.stack(leaves))) if leaves else True
