"""Reads PyTorch network pickles as inert data, without PyTorch and without running code from the file.

A pickle is a small program: its GLOBAL opcodes name callables that `pickle.load` imports and calls. This reader
resolves only an allow-list of names, each to a local function that builds plain data:

  torch._utils._rebuild_tensor_v2 / _rebuild_parameter(_with_state)   -> numpy.ndarray (bounds-checked view, copied)
  torch.storage._load_from_bytes (a tensor's storage: a complete legacy, zip-free `torch.save` stream inside the
      pickle: magic number, protocol 1001, system info, a pickle whose persistent ids name the storages, their keys,
      then per storage an int64 element count and the raw little-endian bytes)        -> 1-D numpy array
  torch.<Type>Storage                                                  -> the storage's numpy dtype
  torch_utils.persistence._reconstruct_persistent_obj                  -> `PersistentObject(class_name, state)`:
      the official `persistent_class` pickles carry their Python source as a string; it is never executed, the
      module's attributes (parameters, buffers, submodules, init kwargs) are read from the pickled state.
  dnnlib.util.EasyDict, collections.OrderedDict, builtins.set, numpy scalars/arrays   -> plain containers

Any other name raises `UnsafePickleError` before anything is called, so `os.system` & co. never run.
"""
import collections
import dataclasses
import io
import pickle
import struct
from typing import Any

import numpy as np

try:
  from numpy._core import multiarray as _multiarray     # numpy >= 2
except ImportError:  # pragma: no cover
  from numpy.core import multiarray as _multiarray

TORCH_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_PROTOCOL = 1001

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
  """The pickle names a global that a network pickle does not contain (or is malformed)."""


@dataclasses.dataclass
class PersistentObject:
  """An official `persistent_class` object as data: its class name and its pickled `__dict__`."""
  class_name: str
  state: dict

  def init_kwargs(self) -> dict:
    return dict(self.state.get("_init_kwargs") or {})

  def state_dict(self, prefix: str = "") -> dict:
    """{dotted name: array} of parameters and persistent buffers, submodules recursively (torch's state_dict)."""
    out = {}
    skip = set(self.state.get("_non_persistent_buffers_set") or ())
    for name, value in (self.state.get("_parameters") or {}).items():
      if value is not None:
        out[prefix + name] = value
    for name, value in (self.state.get("_buffers") or {}).items():
      if value is not None and name not in skip:
        out[prefix + name] = value
    for name, module in (self.state.get("_modules") or {}).items():
      if isinstance(module, PersistentObject):
        out.update(module.state_dict(f"{prefix}{name}."))
      elif module is not None:
        raise UnsafePickleError(f"submodule {prefix}{name} is not a persistent network object")
    return out


class EasyDict(dict):
  """dnnlib.util.EasyDict as a plain dict (attribute access is not needed here)."""


def _reconstruct_persistent_obj(meta):
  if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
    raise UnsafePickleError("a persistent object without a class record")
  return PersistentObject(str(meta.get("class_name")), meta["state"])


def _rebuild_tensor_v2(storage, offset, size, stride, *unused):
  storage = np.asarray(storage)
  size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(offset)
  if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
    raise UnsafePickleError(f"a tensor with size {size}, stride {stride}, offset {offset}")
  if 0 in size:
    return np.zeros(size, storage.dtype)
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if last >= storage.size:   # as_strided would read outside the storage
    raise UnsafePickleError(f"a tensor of size {size} reads past its storage of {storage.size} elements")
  view = np.lib.stride_tricks.as_strided(storage[offset:], size, [s * storage.itemsize for s in stride])
  return np.array(view)


def _rebuild_parameter(data, *unused):
  return data


# torch.<Type>Storage globals resolve to these markers (only ever named inside persistent ids).
STORAGE_TYPES = {name: type(name, (), {"dtype": np.dtype(dtype)}) for name, dtype in STORAGE_DTYPES.items()}


class _StorageRef:
  def __init__(self, dtype):
    self.dtype = np.dtype(dtype)
    self.array = None


def _load_from_bytes(data: bytes):
  """A storage pickled by torch: the legacy torch.save stream of one storage -> 1-D numpy array."""
  f = io.BytesIO(data)
  if RestrictedUnpickler(f).load() != TORCH_MAGIC:
    raise UnsafePickleError("a tensor storage without torch's magic number")
  if RestrictedUnpickler(f).load() != TORCH_PROTOCOL:
    raise UnsafePickleError("a tensor storage in an unknown torch protocol")
  info = RestrictedUnpickler(f).load()
  if not (isinstance(info, dict) and info.get("little_endian", True)):
    raise UnsafePickleError("a big-endian tensor storage")
  storages = {}

  def persistent_load(pid):
    if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
      raise UnsafePickleError(f"an unknown persistent id {pid!r:.60}")
    _, storage_type, key, _location, _numel = pid[:5]
    if storage_type not in STORAGE_TYPES.values():
      raise UnsafePickleError(f"a storage of type {storage_type!r:.60}")
    if len(pid) > 5 and pid[5] is not None:
      raise UnsafePickleError("a storage view (legacy format) is not supported")
    if key not in storages:
      storages[key] = _StorageRef(storage_type.dtype)
    return storages[key]

  root = RestrictedUnpickler(f, storage_ids=persistent_load).load()
  keys = RestrictedUnpickler(f).load()
  for key in keys:
    ref = storages[key]
    (count,) = struct.unpack("<q", f.read(8))
    raw = f.read(count * ref.dtype.itemsize)
    if count < 0 or len(raw) != count * ref.dtype.itemsize:
      raise UnsafePickleError("a truncated tensor storage")
    ref.array = np.frombuffer(raw, ref.dtype).copy()
  if not isinstance(root, _StorageRef) or root.array is None:
    raise UnsafePickleError("a tensor storage record without data")
  return root.array


ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    **{(module, name): getattr(_multiarray, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name in ("_reconstruct", "scalar")},
    **{("torch", name): marker for name, marker in STORAGE_TYPES.items()},
}


class RestrictedUnpickler(pickle.Unpickler):
  """pickle.Unpickler whose globals come only from `ALLOWED`; anything else raises UnsafePickleError."""

  def __init__(self, file, storage_ids=None):
    super().__init__(file)
    self._storage_ids = storage_ids     # persistent ids are allowed only inside a storage's torch.save stream

  def find_class(self, module: str, name: str) -> Any:
    try:
      return ALLOWED[(module, name)]
    except KeyError:
      raise UnsafePickleError(f"it refers to {module}.{name}, which a network pickle does not contain") from None

  def persistent_load(self, pid):
    if self._storage_ids is not None:
      return self._storage_ids(pid)
    raise UnsafePickleError(f"an unexpected persistent id {pid!r:.60}")


def load(f) -> Any:
  """Unpickles an open binary file with `RestrictedUnpickler`. Raises UnsafePickleError (or pickle/EOF errors)."""
  return RestrictedUnpickler(f).load()
