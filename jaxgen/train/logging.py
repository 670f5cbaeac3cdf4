"""Where training reports go: metrics.jsonl, TensorBoard event files, and the terminal."""
import json
import os
import sys
import time

import numpy as np


class MetricsWriter:
  """Appends one JSON object per line to `<workdir>/metrics.jsonl` and writes TensorBoard scalars."""

  def __init__(self, workdir: str, tensorboard: bool = True):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._tb = None
    if tensorboard:
      try:
        from tensorboardX import SummaryWriter
        self._tb = SummaryWriter(logdir=workdir, flush_secs=30)
      except ImportError:  # TensorBoard files are optional; metrics.jsonl always exists.
        self._tb = None

  def truncate_after(self, step: int) -> None:
    """Drops lines logged after `step` (a run that died past its last checkpoint redoes those steps)."""
    if not os.path.exists(self.path):
      return
    with open(self.path) as f:
      lines = [l for l in f if l.strip() and json.loads(l).get("step", 0) <= step]
    tmp = self.path + ".tmp"
    with open(tmp, "w") as f:
      f.writelines(lines)
    os.replace(tmp, self.path)

  def write(self, step: int, scalars: dict, prefix: str = "") -> None:
    record = {"step": int(step)}
    record.update({prefix + k: float(v) for k, v in scalars.items()})
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self._tb is not None:
      for k, v in scalars.items():
        self._tb.add_scalar(prefix + k, float(v), int(step))

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def format_metrics(scalars: dict, keys=None) -> str:
  keys = keys or list(scalars)
  return " ".join(f"{k}={scalars[k]:.4g}" for k in keys if k in scalars)


class Progress:
  """A progress bar (step, loss, steps/s) on an interactive terminal; plain log lines otherwise."""

  def __init__(self, start: int, total: int, enabled: bool = True):
    self.interactive = enabled and sys.stderr.isatty()
    self._bar = None
    self._start_time = time.time()
    if self.interactive:
      from tqdm import tqdm
      self._bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
    self._last = start

  def update(self, step: int, scalars: dict, steps_per_sec: float, keys=None) -> None:
    text = format_metrics(scalars, keys)
    if self._bar is not None:
      self._bar.update(step - self._last)
      self._bar.set_postfix_str(f"{text} {steps_per_sec:.2f} steps/s")
    else:
      print(f"step {step}: {text} ({steps_per_sec:.2f} steps/s)", flush=True)
    self._last = step

  def message(self, text: str) -> None:
    if self._bar is not None:
      self._bar.write(text)
    else:
      print(text, flush=True)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()


def to_scalars(tree) -> dict:
  return {k: float(np.asarray(v)) for k, v in tree.items()}
