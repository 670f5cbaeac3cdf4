"""Writes pickles in the layout of NVIDIA's StyleGAN2-ADA network pickles without PyTorch (for tests).

The official file is `pickle.dump({"G": ..., "D": ..., "G_ema": ..., "augment_pipe": ..., "training_set_kwargs":
...})` of `torch_utils.persistence` objects. Each network object reduces to
`torch_utils.persistence._reconstruct_persistent_obj(meta)`, meta = {"type": "class", "version": 6, "module_src":
<the module's source code>, "class_name": ..., "state": <the module's __dict__: _parameters, _buffers, _modules
(OrderedDicts), _non_persistent_buffers_set (a set), hooks, _init_args, _init_kwargs, ...>}. A parameter reduces to
`torch._utils._rebuild_parameter(tensor, requires_grad, OrderedDict())`, a tensor to
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())`, and a storage to
`torch.storage._load_from_bytes(b)` where b is a legacy `torch.save` stream of that storage: pickles of the magic
number, the protocol 1001 and a system-info dict, a pickle of the storage as the persistent id ("storage",
torch.FloatStorage, key, location, numel, None), a pickle of the key list, then an int64 element count and the raw
little-endian float32 data.
"""
import collections
import io
import pickle
import struct

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
BUFFERS = ("w_avg", "resample_filter", "noise_const")


class Global:
  """A reference module.name written as a GLOBAL opcode (the module is never imported here)."""

  def __init__(self, module, name):
    self.module, self.name = module, name

  def __call__(self, *args):  # pickle only requires reduce functions to be callable
    raise RuntimeError("a marker")


class Reduce:
  def __init__(self, func, args, state=None, dictitems=None):
    self.func, self.args, self.state, self.dictitems = func, args, state, dictitems

  def __reduce__(self):
    return (self.func, self.args, self.state, None, iter(self.dictitems.items()) if self.dictitems else None)


class _Storage:
  def __init__(self, array):
    self.array = array


class Pickler(pickle._Pickler):
  dispatch = pickle._Pickler.dispatch.copy()

  def _save_marker(self, obj):
    self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

  dispatch[Global] = _save_marker


def storage_bytes(array: np.ndarray) -> bytes:
  f = io.BytesIO()
  for obj in (MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}):
    pickle.dump(obj, f, protocol=2)
  storage = _Storage(array)
  p = Pickler(f, protocol=2)
  p.persistent_id = lambda o: (("storage", Global("torch", "FloatStorage"), "140230", "cpu", array.size, None)
                               if o is storage else None)
  p.dump(storage)
  pickle.dump(["140230"], f, protocol=2)
  f.write(struct.pack("<q", array.size))
  f.write(np.ascontiguousarray(array, "<f4").tobytes())
  return f.getvalue()


def tensor(array: np.ndarray, transposed_storage: bool = False):
  """A tensor record; `transposed_storage` stores a 2-D array column-major (a non-contiguous stride)."""
  array = np.asarray(array, np.float32)
  if transposed_storage and array.ndim == 2:
    flat, stride = array.T.reshape(-1), (1, array.shape[0])
  else:
    flat = array.reshape(-1)
    stride = tuple(int(np.prod(array.shape[i + 1:])) for i in range(array.ndim))
  storage = Reduce(Global("torch.storage", "_load_from_bytes"), (storage_bytes(flat),))
  return Reduce(Global("torch._utils", "_rebuild_tensor_v2"),
                (storage, 0, tuple(array.shape), stride, False, collections.OrderedDict()))


def parameter(array, **kw):
  return Reduce(Global("torch._utils", "_rebuild_parameter"), (tensor(array, **kw), True, collections.OrderedDict()))


def persistent(class_name: str, state: dict, module_src: str):
  meta = {"type": "class", "version": 6, "module_src": module_src, "class_name": class_name, "state": state}
  return Reduce(Global("torch_utils.persistence", "_reconstruct_persistent_obj"), (meta,))


def easydict(d: dict):
  return Reduce(Global("dnnlib.util", "EasyDict"), (), None, dict(d))


def _class_name(path: str) -> str:
  last = path.split(".")[-1] if path else ""
  if path == "":
    return "Generator"
  if path in ("mapping", "synthesis"):
    return {"mapping": "MappingNetwork", "synthesis": "SynthesisNetwork"}[path]
  if last.startswith("b") and last[1:].isdigit():
    return "SynthesisBlock"
  if last.startswith("conv"):
    return "SynthesisLayer"
  if last == "torgb":
    return "ToRGBLayer"
  return "FullyConnectedLayer"


def module_tree(state_dict: dict, init_kwargs: dict, path: str = "", module_src: str = "class X: pass\n"):
  """Persistent records for every module of a flat official state dict (as G_ema's)."""
  prefix = path + "." if path else ""
  params, buffers, children = collections.OrderedDict(), collections.OrderedDict(), collections.OrderedDict()
  for name, value in state_dict.items():
    if not name.startswith(prefix):
      continue
    rest = name[len(prefix):]
    if "." in rest:
      children.setdefault(rest.split(".")[0], None)
    elif rest in BUFFERS:
      buffers[rest] = tensor(value)
    else:
      params[rest] = parameter(value, transposed_storage=rest == "weight")
  modules = collections.OrderedDict((c, module_tree(state_dict, {}, prefix + c, module_src)) for c in children)
  state = {"training": False, "_parameters": params, "_buffers": buffers, "_non_persistent_buffers_set": set(),
           "_backward_hooks": collections.OrderedDict(), "_forward_hooks": collections.OrderedDict(),
           "_forward_pre_hooks": collections.OrderedDict(), "_state_dict_hooks": collections.OrderedDict(),
           "_load_state_dict_pre_hooks": collections.OrderedDict(), "_modules": modules,
           "_init_args": (), "_init_kwargs": init_kwargs}
  return persistent(_class_name(path), state, module_src)


def write_network_pickle(path: str, state_dict: dict, init_kwargs: dict, module_src: str = "class X: pass\n",
                         protocol: int = 3):
  """The official file layout; `module_src`: the source string each persistent record carries; `protocol` 0-5 (the
  storages' own torch.save streams are protocol 2, as torch writes them)."""
  data = {"G": None, "D": None, "G_ema": module_tree(state_dict, init_kwargs, "", module_src), "augment_pipe": None,
          "training_set_kwargs": easydict({"resolution": init_kwargs["img_resolution"]})}
  with open(path, "wb") as f:
    Pickler(f, protocol=protocol).dump(data)
