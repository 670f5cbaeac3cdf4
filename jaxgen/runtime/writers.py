"""Where training reports go: metrics.jsonl, TensorBoard event files, and the terminal.

Writers never hang and never stop a run: every record is written synchronously by the calling thread, a
failed write (disk full, I/O error) is rolled back so the file stays well-formed, the record is kept in
memory and retried at the next write, and one warning line goes to stderr. `MetricsWriter.disk_full` tells
the loop that the last failure was ENOSPC/EDQUOT, so it can checkpoint (or stop) at once.

TensorBoard files (`events.out.tfevents.*`) hold tensorboardX's Event protos framed as TFRecords: the scalars
under namespaced tags (`train/loss`, `train/steps_per_sec`, `eval/loss`, ...; metrics.jsonl keeps the flat
names `loss`, `steps_per_sec`, `eval_loss`) and the sample grids as PNG images (tag `samples`).
`tensorboard --logdir runs` shows them (the `tensorboard` extra installs TensorBoard).
"""
import errno
import io
import json
import os
import socket
import struct
import sys
import time

import numpy as np
from etils import epath
from PIL import Image
from tensorboardX.proto import event_pb2, summary_pb2
from tensorboardX.record_writer import masked_crc32c

from jaxgen.errors import warn
from jaxgen.train.actions import format_duration
from jaxgen.fileio import append_bytes, atomic_write

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
PNG_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "P": 3, "RGBA": 4}  # PIL mode -> the Summary.Image colorspace


def tensorboard_tag(name: str, prefix: str = "") -> str:
  """The TensorBoard tag of a metrics.jsonl key: `loss` -> `train/loss`, prefix "eval_" -> `eval/loss`."""
  return f"{prefix.rstrip('_') or 'train'}/{name}"


def png_image(png: bytes) -> summary_pb2.Summary.Image:
  """A Summary.Image of PNG bytes, its height, width and channels read from the PNG header."""
  with Image.open(io.BytesIO(png)) as image:
    width, height = image.size
    channels = PNG_CHANNELS.get(image.mode, 3)
  return summary_pb2.Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=png)


def tfrecord(event: event_pb2.Event) -> bytes:
  """One TFRecord as TensorBoard reads event files: length, its masked CRC-32C, data, its masked CRC-32C."""
  data = event.SerializeToString()
  length = struct.pack("<Q", len(data))
  return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


class EventFileWriter:
  """Appends scalar and image summaries to a new `events.out.tfevents.<time>.<host>.<pid>` file in `logdir`,
  synchronously (tensorboardX's own writer queues records for a thread, which would not see a full disk in time)."""

  def __init__(self, logdir):
    name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.jaxgen"
    self.path = os.path.join(os.fspath(logdir), name)
    self._pending, self._started = [], False  # the first record (file_version) is queued with the first event

  def add_scalars(self, step: int, scalars: dict) -> None:
    """Writes one Event holding all `scalars` ({tag: number}) at `step`; raises OSError (the file is left
    well-formed and the record is kept for the next call)."""
    self._add(step, [summary_pb2.Summary.Value(tag=tag, simple_value=float(v)) for tag, v in scalars.items()])

  def add_image(self, step: int, tag: str, png: bytes) -> None:
    """Writes one Event holding the PNG image `png` under `tag` at `step`; raises OSError as `add_scalars`."""
    self._add(step, [summary_pb2.Summary.Value(tag=tag, image=png_image(png))])

  def _add(self, step: int, values: list) -> None:
    if not self._started:
      self._pending.append(tfrecord(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")))
      self._started = True
    event = event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values))
    self._pending.append(tfrecord(event))
    self.flush()

  def flush(self) -> None:
    if self._pending:
      append_bytes(self.path, b"".join(self._pending))
      self._pending = []


# --- metrics.jsonl + TensorBoard ----------------------------------------------------------------------------

class MetricsWriter:
  """Appends one JSON object per line to `<workdir>/metrics.jsonl` and writes TensorBoard scalars (namespaced
  tags, `tensorboard_tag`) and sample images.

  `write` never raises on an I/O error: the failed records stay queued (retried at the next `write` or
  `flush`), one warning is printed per failure episode, and `disk_full` is set while the disk is full.
  """

  def __init__(self, workdir, tensorboard: bool = True):
    self.path = os.path.join(os.fspath(workdir), "metrics.jsonl")
    self._tb = EventFileWriter(workdir) if tensorboard else None
    self._pending: list[str] = []
    self._failing = False
    self.disk_full = False

  def resume(self, step: int, pending) -> None:
    """Continues the logs of a run resumed at `step`: drops lines logged after it (a run that died past its last
    checkpoint redoes those steps) and lines that are not complete JSON records (a write cut short by a crash or a
    full disk), then writes the lines its checkpoint kept (`pending()` at the save) that the file lacks."""
    path = epath.Path(self.path)
    raw = path.read_bytes() if path.exists() else b""
    kept, bad = [], 0
    for line in raw.splitlines():
      try:   # bytes that are not UTF-8 (a damaged disk block) make a bad line like a half-written one
        text = line.decode("utf-8")
        if text.strip() and int(json.loads(text).get("step", 0)) <= step:
          kept.append(text + "\n")
      except (ValueError, TypeError, AttributeError):
        bad += 1
    if bad:
      warn(f"{self.path}: dropped {bad} incomplete or damaged line(s) (a write cut short by a crash or a full "
           "disk, or bytes that are not UTF-8 text).")
    if "".join(kept).encode() != raw:
      data = "".join(kept)
      atomic_write(self.path, lambda tmp: epath.Path(tmp).write_text(data))
    have = {line.rstrip("\n") for line in kept}
    self._pending = [line for line in pending if line.rstrip("\n") not in have] + self._pending
    self.flush()

  def pending(self) -> list[str]:
    """The metrics.jsonl lines not yet written (a checkpoint keeps them, so a full disk loses no record)."""
    return list(self._pending)

  def write(self, step: int, scalars: dict, prefix: str = "") -> bool:
    """Queues and writes one record (metrics.jsonl keys `prefix + name`, TensorBoard tags `tensorboard_tag`);
    True when everything queued so far is on disk."""
    scalars = {k: float(v) for k, v in scalars.items()}
    self._pending.append(json.dumps({"step": int(step), **{prefix + k: v for k, v in scalars.items()}}) + "\n")
    tags = {tensorboard_tag(k, prefix): v for k, v in scalars.items()}
    tb_ok = self._try(self._tb.add_scalars, int(step), tags) if self._tb is not None else True
    return self.flush() and tb_ok

  def add_image(self, step: int, tag: str, path) -> bool:
    """Adds the PNG file at `path` (local or gs://, e.g. a sample grid the loop wrote) to TensorBoard as image
    `tag` at `step`; True when it is on disk. Never raises: an unreadable file is one warning."""
    if self._tb is None:
      return True
    try:
      png = epath.Path(path).read_bytes()
    except OSError as e:
      warn(f"cannot read {path} for TensorBoard ({e.strerror or e}); training continues.")
      return False
    return self._try(self._tb.add_image, int(step), tag, png)

  def flush(self) -> bool:
    """Writes the queued records; True on success (also when nothing was queued)."""
    ok = True
    if self._pending and self._try(append_bytes, self.path, "".join(self._pending).encode()):
      self._pending = []
    elif self._pending:
      ok = False
    if self._tb is not None and not self._try(self._tb.flush):
      ok = False
    if ok and self._failing:
      self._failing, self.disk_full = False, False
      warn(f"writing {self.path} works again; the queued records were written.")
    return ok

  def _try(self, fn, *args) -> bool:
    try:
      fn(*args)
      return True
    except OSError as e:
      self.disk_full = e.errno in DISK_FULL
      if not self._failing:
        warn(f"cannot write the training logs ({e.strerror or e}: {getattr(e, 'filename', '') or self.path}); "
             "training continues, the records are kept in memory and retried.")
      self._failing = True
      return False

  @property
  def files(self) -> list[str]:
    return [self.path] + ([self._tb.path] if self._tb is not None else [])

  def close(self) -> None:
    self.flush()


class Progress:
  """Progress of a run: a tqdm bar on an interactive terminal, plain lines otherwise (logs, pipes).

  Every line names the step out of the total, the metrics, the rate and the estimated time left.
  """

  def __init__(self, start: int, total: int, enabled: bool = True, stream=None):
    self.enabled = enabled
    self.stream = stream or sys.stdout
    self.interactive = enabled and self.stream.isatty()
    self._bar, self.total, self._last = None, total, start

  def begin(self, step: int) -> None:
    """Shows the bar (interactive terminals) once the first step (after `step`) is about to run."""
    self._last = step
    if self.interactive and self._bar is None:
      from tqdm import tqdm
      self._bar = tqdm(total=self.total, initial=self._last, unit="step", dynamic_ncols=True, file=self.stream)

  def update(self, step: int, scalars: dict, steps_per_sec: float, keys=None) -> None:
    if not self.enabled:
      return
    text = " ".join(f"{k}={scalars[k]:.4g}" for k in keys or scalars if k in scalars)
    left = (self.total - step) / steps_per_sec if steps_per_sec > 0 else float("nan")
    if self._bar is not None:
      self._bar.update(step - self._last)
      self._bar.set_postfix_str(text)
    else:
      eta = format_duration(left) if np.isfinite(left) else "?"
      print(f"step {step}/{self.total} ({100 * step // max(self.total, 1)}%): {text} | "
            f"{steps_per_sec:.2f} steps/s, {eta} left", file=self.stream, flush=True)
    self._last = step

  def message(self, text: str) -> None:
    if not self.enabled:
      return
    if self._bar is not None:
      self._bar.write(text, file=self.stream)
    else:
      print(text, file=self.stream, flush=True)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
      self._bar = None
