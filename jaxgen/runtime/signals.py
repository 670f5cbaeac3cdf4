"""Preemption: the first SIGTERM/SIGINT becomes a request the training loop takes between steps (save, then
return cleanly); a second signal of the same kind gets its default action and ends the process at once."""
import os
import signal


class Preemption:
  """A context manager; `requested` is the signal's name once one arrived (None before)."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.requested = None
    self._previous = {}

  def __enter__(self):
    for sig in self.SIGNALS:
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread: no handler, nothing to restore
        pass
    return self

  def _handle(self, signum, frame):
    if self.requested:  # the second signal: stop waiting for a clean save
      signal.signal(signum, signal.SIG_DFL)
      os.kill(os.getpid(), signum)
      return
    self.requested = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, previous in self._previous.items():
      signal.signal(sig, previous)
