"""Checkpoints of a family State with Orbax: atomic (written to a temporary directory, renamed when complete),
newest N kept, saved asynchronously. Each step holds `state` (the State pytree) and `progress` (JSON: what an
exact resume needs besides the State); checkpoints of older jaxgen versions (<step>/default) still restore.
A failed save raises CheckpointSaveError naming the step and the cause, an unreadable one CheckpointReadError.
"""
import os
import re
import time

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from etils import epath

from jaxgen.errors import JaxgenError, RunFailure, warn
from jaxgen.train import collectives

STATE, PROGRESS, LEGACY = "state", "progress", "default"
UNREADABLE = "unreadable_checkpoints"  # where a damaged checkpoint is moved (next to checkpoints/)


class CheckpointSaveError(RunFailure):
  """A checkpoint could not be written; the earlier checkpoints are intact."""


class CheckpointReadError(JaxgenError):
  """A checkpoint step exists but cannot be read (damaged or incompatible)."""


# The repr of a Python object (a library that raised `Error(self.method)`): not a reason a user can act on.
OBJECT_REPR = re.compile(r"<(?:bound method|function|built-in method|method) | object at 0x[0-9a-f]+>")


def _reason(e: BaseException) -> str:
  """The first line of `e`'s message, or '' when it is empty or an object's repr."""
  lines = [line for line in str(e).strip().splitlines() if line.strip()]
  text = lines[0] if lines else ""
  return "" if OBJECT_REPR.search(text) else text


def root_cause(e: BaseException) -> str:
  """The innermost OSError (or else the first line of the first exception in the chain with a readable message)
  of an exception chain, as one short phrase."""
  seen, cur, found, chain = set(), e, None, []
  while cur is not None and id(cur) not in seen:
    seen.add(id(cur))
    chain.append(cur)
    if isinstance(cur, OSError):
      found = cur
    cur = cur.__cause__ or cur.__context__
  if found is not None:
    where = f": {found.filename}" if isinstance(getattr(found, "filename", None), (str, bytes)) else ""
    return f"{found.strerror or _reason(found) or type(found).__name__}{where}"
  e = next((c for c in chain if _reason(c)), e)
  first = _reason(e)
  if not first:
    return f"{type(e).__name__} (no further reason given)"
  code = re.search(r"os_error_code='(\d+)'", first)  # TensorStore's wording of an OS error
  if code:
    where = re.search(r'file "([^"]+)"', first)
    return os.strerror(int(code.group(1))) + (f": {where.group(1)}" if where else "")
  if "tensorstore" in first.lower() or "reading array" in first or "OCDBT" in first:
    # TensorStore's message ends in its whole JSON spec (thousands of characters): keep the innermost reason
    # ("Requested byte range [0, 8426) is not valid for value of size 2808") and the file it names.
    detail = re.split(r"\s*\[(?:tensorstore_spec|source locations)[^=]*=", first)[0]
    reason = detail.rsplit(": ", 1)[-1].strip()[:200] if ": " in detail else ""
    where = re.findall(r'local file "([^"]+)"', detail)
    return ("its array data is damaged or truncated" + (f": {reason}" if reason else "")
            + (f" in {where[-1]}" if where else ""))
  return f"{type(e).__name__}: {first}".strip()


def manager(directory, keep: int = 3, async_save: bool = True, read_only: bool = False) -> ocp.CheckpointManager:
  """A CheckpointManager over `directory` (local or gs://) keeping the newest `keep` steps.

  read_only: for sample.py/evaluate: creates and deletes nothing (works on read-only work directories).
  """
  # read_only: no directory creation and no clean-up of temporary directories; nothing else writes until a save
  # (Orbax's own read_only option would warn on every load).
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                         cleanup_tmp_directories=not read_only,
                                         enable_async_checkpointing=async_save)
  path = epath.Path(directory)
  if "://" not in str(directory):
    path = path.absolute()
  return ocp.CheckpointManager(path, options=options)


def save(mngr: ocp.CheckpointManager, step: int, state, progress: dict | None = None) -> None:
  """Saves `state` (+ the JSON dict `progress`) as checkpoint `step` (asynchronously when enabled).
  Raises CheckpointSaveError if this save, or an earlier asynchronous one, failed."""
  args = ocp.args.Composite(**{STATE: ocp.args.StandardSave(state), PROGRESS: ocp.args.JsonSave(progress or {})})
  _reported(mngr, step, mngr.save, step, args=args, force=True)


def _reported(mngr, step, fn, *args, **kwargs):
  """`fn(*args, **kwargs)`, any failure raised as one CheckpointSaveError naming `step` and the cause."""
  try:
    return fn(*args, **kwargs)
  except Exception as e:
    raise _save_error(mngr, step, e) from None


def _save_error(mngr, step, e) -> CheckpointSaveError:
  try:
    kept = sorted(s for s in mngr.all_steps() if s != step)
  except Exception:
    kept = []
  intact = (f"the earlier checkpoint{'s' if len(kept) > 1 else ''} (step{'s' if len(kept) > 1 else ''} "
            f"{', '.join(map(str, kept))}) {'are' if len(kept) > 1 else 'is'} intact" if kept
            else "no earlier checkpoint exists")
  what = f"checkpoint step {step}" if step is not None else "a checkpoint"
  error = CheckpointSaveError(f"could not save {what} in {mngr.directory} ({root_cause(e)}); training stopped and "
                              f"{intact}. Free space (or fix the cause) and run the same command to resume.")
  error.cause = root_cause(e)   # the reason alone, for callers that word their own message (jaxgen.convert)
  return error


def _step_items(mngr, step) -> set:
  directory = epath.Path(mngr.directory) / str(step)
  return {p.name for p in directory.iterdir()} if directory.exists() else set()


def restore(mngr: ocp.CheckpointManager, state_like, step: int | None = None, with_progress: bool = False):
  """Restores checkpoint `step` (default: the latest) into the structure and shardings of `state_like`.

  Returns (state, step), or (state, step, progress dict) when `with_progress`. Raises JaxgenError when the
  step does not exist and CheckpointReadError (naming the step and the cause) when it cannot be read.
  """
  step = mngr.latest_step() if step is None else step
  if step is None:
    raise JaxgenError(f"no checkpoint found in {mngr.directory}; train first with train.py --workdir=...")
  if step not in mngr.all_steps():
    raise JaxgenError(f"checkpoint step {step} not found in {mngr.directory}; "
                      f"available steps: {sorted(mngr.all_steps())}.")
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
  try:
    items = _step_items(mngr, step)
    if LEGACY in items and STATE not in items:
      state = ocp.StandardCheckpointer().restore(epath.Path(mngr.directory) / str(step) / LEGACY, abstract)
      progress = {}
    else:
      args = {STATE: ocp.args.StandardRestore(abstract)}
      if with_progress and PROGRESS in items:
        args[PROGRESS] = ocp.args.JsonRestore()
      out = mngr.restore(step, args=ocp.args.Composite(**args))
      state, progress = out[STATE], (out[PROGRESS] if PROGRESS in args else {}) or {}
  except Exception as e:  # a damaged, truncated or incompatible checkpoint
    raise CheckpointReadError(f"checkpoint step {step} in {mngr.directory} cannot be read ({root_cause(e)})") from None
  return (state, step, progress) if with_progress else (state, step)


def all_finite(tree) -> bool:
  """True when every floating-point leaf of `tree` is free of NaN and Inf (one device reduction)."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)]
  return bool(jnp.all(jnp.stack(leaves))) if leaves else True


class Checkpointer:
  """The checkpoints of one training run: restore the newest readable one, save asynchronously, close.

  A damaged newest checkpoint is moved to `<workdir>/unreadable_checkpoints/` with a warning and the previous
  one is used. `on_note(step, complete)` hears of every checkpoint that exists or is being written (the
  runtime names it in a lost-peer message); `saved` lists the steps this run wrote.
  """

  def __init__(self, directory, keep: int, on_note=lambda step, complete: None):
    self.mngr = manager(directory, keep=keep)
    self.on_note = on_note
    self.saved: list[int] = []

  def restore_newest(self, state_like):
    """(state, step, progress) of the newest readable checkpoint, or (state_like, 0, {}) when there is none."""
    while self.mngr.latest_step() is not None:
      step = self.mngr.latest_step()
      try:
        state, step, progress = restore(self.mngr, state_like, step, with_progress=True)
        self.on_note(step, True)
        return state, step, progress
      except CheckpointReadError as e:
        aside = epath.Path(self.mngr.directory).parent / UNREADABLE / f"{step}-{int(time.time())}"
        if jax.process_index() == 0:
          aside.parent.mkdir(parents=True, exist_ok=True)
          (epath.Path(self.mngr.directory) / str(step)).rename(aside)
        collectives.sync("moved unreadable checkpoint")
        warn(f"{e}; moved it to {aside} and falling back to the previous checkpoint.")
        self.mngr.reload()
    self.on_note(None, True)
    return state_like, 0, {}

  @property
  def last_good(self) -> int | None:
    """The newest checkpoint on disk or in flight (the one a restart resumes from)."""
    return self.saved[-1] if self.saved else self.mngr.latest_step()

  def save(self, step: int, state, progress: dict, block: bool = False) -> None:
    """Saves `step` asynchronously (`block`: waits until it is complete); a failure of the previous save is
    reported now, with its step (CheckpointSaveError)."""
    if self.saved:
      _reported(self.mngr, self.saved[-1], self.mngr.wait_until_finished)
      self.on_note(self.saved[-1], True)
    save(self.mngr, step, state, progress)
    self.on_note(step, False)
    self.saved.append(step)
    if block:
      _reported(self.mngr, step, self.mngr.wait_until_finished)
      self.on_note(step, True)

  def check(self) -> None:
    """Raises CheckpointSaveError when an asynchronous save has failed (cheap; called after every step)."""
    _reported(self.mngr, self.saved[-1] if self.saved else None, self.mngr.check_for_errors)

  def close(self, failed: bool) -> None:
    """Waits for a save in flight and closes. After a failure (failed=True) nothing here raises: the save
    completes or is absent, never half-written, and the error that stopped the run is the one reported."""
    if not failed:
      _reported(self.mngr, self.saved[-1] if self.saved else None, self.mngr.wait_until_finished)
      self.mngr.close()
      return
    for fn in (self.mngr.wait_until_finished, self.mngr.close):
      try:
        fn()
      except Exception:  # the run already failed; this is cleanup
        pass
