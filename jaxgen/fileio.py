"""Writing files so that a failure (a full disk, a kill) never leaves a half-written file a user or a resumed run
would trust: whole-file replacement (`atomic_write`) and all-or-nothing appends (`append_bytes`). Local paths and
object stores (gs://, through etils.epath) alike.
"""
import os
import shutil
import tempfile

from etils import epath


def _write_all(fd: int, data: bytes) -> None:
  view = memoryview(data)
  while view:
    view = view[os.write(fd, view):]


def append_bytes(p, data: bytes) -> None:
  """Appends `data` to the file `p` all or nothing: on an error the file is cut back to its old size and the error
  re-raised. Local files are appended in place; object stores (gs://), which cannot append, are rewritten."""
  if "://" in os.fspath(p):  # an object store
    p = epath.Path(p)
    p.write_bytes((p.read_bytes() if p.exists() else b"") + data)
    return
  fd = os.open(os.fspath(p), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
  try:
    size = os.fstat(fd).st_size
    try:
      _write_all(fd, data)
    except OSError:
      try:
        os.ftruncate(fd, size)  # truncating frees space, so it works on a full disk
      except OSError:
        pass
      raise
  finally:
    os.close(fd)


def sync_directory(directory) -> None:
  """fsync of a directory, so a rename in it survives a power cut (best effort: some filesystems refuse)."""
  try:
    fd = os.open(os.fspath(directory) or ".", os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


def atomic_write(target, write) -> None:
  """Writes the file `target` all or nothing: the one way jaxgen writes a user-visible file (sample.py --out,
  config.json, converted work directories, sample grids).

  `write(tmp)` writes a temporary file in the same directory with the same extension (writers that pick the format
  by extension keep working); it is flushed to disk (fsync) and renamed over `target` (os.replace), then the
  directory is synced. On any failure the temporary file is removed and `target` keeps its previous contents; an
  OSError is raised again with `target` as its filename. Object stores (gs://) replace objects whole: the file is
  written locally and copied.
  """
  target = os.fspath(target)
  if "://" in target:
    with tempfile.TemporaryDirectory(prefix="jaxgen_write_") as scratch:
      local = os.path.join(scratch, os.path.basename(target))
      write(local)
      epath.Path(local).copy(epath.Path(target), overwrite=True)
    return
  directory, name = os.path.split(os.path.abspath(target))
  stem, ext = os.path.splitext(name)
  tmp = os.path.join(directory, f".{stem}.tmp-{os.getpid()}{ext}")
  try:
    write(tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
      os.fsync(fd)
    finally:
      os.close(fd)
    os.replace(tmp, target)
  except BaseException as e:
    try:
      os.remove(tmp)
    except OSError:
      pass
    if isinstance(e, OSError):
      raise OSError(e.errno, e.strerror or str(e), target) from None
    raise
  sync_directory(directory)


def copy_file_atomic(source, target) -> None:
  """Copies `source` over `target` with `atomic_write`."""
  atomic_write(target, lambda tmp: shutil.copyfile(os.fspath(source), tmp))
