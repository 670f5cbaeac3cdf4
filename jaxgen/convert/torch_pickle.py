"""Reads PyTorch network pickles as inert data, without PyTorch, without running code from the file, within a stated
memory and time budget (docs/importer.md).

A pickle is a small program for a stack machine: GLOBAL opcodes name callables that `pickle.load` imports and
calls, BUILD calls `__setstate__`, and shared or deeply nested values can make hashing, printing or freeing them
take forever. Safety here is by construction, in two passes over each pickle stream:

1. `prepass` walks the opcode stream (pickletools) before anything is built and simulates the stack with inert
   nodes. It bounds the opcodes, memo indices, nesting depth and the size a value would have written out without
   sharing; resolves every global against `GLOBALS` (with Python's own name mapping for protocols < 3); allows a
   call (REDUCE), a class instantiation (NEWOBJ) or BUILD only where `GLOBALS` says so and with arguments of the
   right shape; accepts only str/int dict keys and set members (so hashing is bounded); refuses cycles and changes
   to a container after it was put into another one; and refuses INST, OBJ, EXT*, out-of-band buffers.
2. Only then does the C unpickler run, its globals resolved from the same table to local functions:

  torch._utils._rebuild_tensor_v2 / _rebuild_parameter(_with_state)   -> numpy.ndarray (copied out of its storage;
      no stride 0 on a dimension longer than 1, no more elements than the storage, all tensors together no more
      bytes than the file)
  torch.storage._load_from_bytes (a tensor's storage: a complete legacy, zip-free `torch.save` stream inside the
      pickle: magic number, protocol 1001, system info, a pickle whose persistent ids name the storages, their keys,
      then per storage an int64 element count and the raw little-endian bytes)        -> read-only 1-D numpy array
  torch.<Type>Storage                                                  -> a marker naming the storage's dtype
  torch_utils.persistence._reconstruct_persistent_obj                  -> `PersistentObject(class_name, state)`:
      the official `persistent_class` pickles carry their Python source as a string; it is never executed, the
      module's attributes (parameters, buffers, submodules, init kwargs) are read from the pickled state.
  dnnlib.util.EasyDict, collections.OrderedDict, builtins.set/frozenset, copyreg._reconstructor, _codecs.encode,
      builtins.bytes                                                   -> plain containers, bytes
  numpy.dtype, numpy.core.multiarray._reconstruct / scalar, _frombuffer -> `NumpyDType` / `NumpyArray` records (and
      numpy scalars) built here from numeric dtypes only: no object, void or structured dtype, no field offsets,
      no `__array_interface__`; NumPy itself never sees a pickled state.

Every problem raises `UnsafePickleError` (one line, bounded length) before anything from the file is called.
"""
import _compat_pickle
import collections
import dataclasses
import io
import math
import pickle
import pickletools
import struct
import time
from typing import Any

import numpy as np

TORCH_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_PROTOCOL = 1001

# --- the budget (docs/importer.md) ---------------------------------------------------------------------------------
MAX_FILE_BYTES = 4 << 30        # a network pickle larger than this is refused before it is read
MAX_OPCODES = 1 << 20           # opcodes in all the file's pickle streams together (FFHQ-1024: ~100 k)
MAX_DEPTH = 100                 # nesting of containers (FFHQ-1024: ~40)
MAX_EXPANDED = 1 << 21          # parts of one value written out without sharing (FFHQ-1024: ~100 k)
MAX_INT_BITS = 512              # integers are sizes, strides and hyperparameters
TIME_BUDGET_S = 30.0            # plus 1 s per 50 MB of file
SECONDS_PER_BYTE = 1 / 50e6
SLACK_BYTES = 1 << 20           # tensors together may hold the file's bytes plus this much

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
NUMERIC_DTYPES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")


class UnsafePickleError(pickle.UnpicklingError):
  """The pickle is not a network pickle this reader accepts (an unknown global, a malformed or hostile structure,
  over the budget)."""


def describe(value) -> str:
  """A short, bounded description of a pickled value for messages (never its repr, which could be huge)."""
  if type(value) is str:
    return repr(value[:60]) + ("..." if len(value) > 60 else "")
  if type(value) in (int, bool) and (type(value) is bool or abs(value) < 10**18):
    return repr(value)
  return f"a {type(value).__name__}"


# --- runtime values ------------------------------------------------------------------------------------------------

class EasyDict(dict):
  """dnnlib.util.EasyDict as a plain dict (attribute access is not needed here)."""


MAPPINGS = (dict, collections.OrderedDict, EasyDict)


@dataclasses.dataclass(frozen=True)
class Marker:
  """A global that may only be named as an argument (a storage type, numpy.ndarray, builtins.dict)."""
  name: str
  dtype: Any = None


@dataclasses.dataclass
class PersistentObject:
  """An official `persistent_class` object as data: its class name and its pickled `__dict__`."""
  class_name: str
  state: dict

  def init_kwargs(self) -> dict:
    kwargs = self.state.get("_init_kwargs")
    return {} if kwargs is None else string_keys(kwargs, f"{self.class_name[:40]} _init_kwargs")

  def state_dict(self) -> dict:
    """{dotted name: array} of parameters and persistent buffers, submodules included (torch's state_dict)."""
    out, todo = {}, [("", self)]
    while todo:
      prefix, module = todo.pop()
      out.update(_own_tensors(prefix, module))
      children = mapping(module.state.get("_modules") or {}, f"{prefix or 'G'} _modules")
      for name, child in reversed(list(children.items())):
        _check_name(name, prefix, "submodule")
        if isinstance(child, PersistentObject):
          todo.append((f"{prefix}{name}.", child))
        elif child is not None:
          raise UnsafePickleError(f"submodule {prefix}{name} is {describe(child)}, not a persistent network object")
    return out


def mapping(value, what: str) -> dict:
  """`value` when it is a dict (dict, OrderedDict, EasyDict); UnsafePickleError naming `what` otherwise."""
  if type(value) not in MAPPINGS:
    raise UnsafePickleError(f"{what} is {describe(value)} where a dict belongs")
  return value


def string_keys(value, what: str) -> dict:
  """`value` (a dict) as a plain dict whose keys are all strings; UnsafePickleError naming `what` otherwise."""
  out = dict(mapping(value, what))
  bad = next((k for k in out if type(k) is not str), None)
  if bad is not None:
    raise UnsafePickleError(f"{what} has a key {describe(bad)}; keyword names are strings")
  return out


def _check_name(name, prefix: str, what: str) -> None:
  if type(name) is not str or not name or "." in name:
    raise UnsafePickleError(f"a {what} of {prefix or 'G'} is named {describe(name)}; names are non-empty strings "
                            "without '.'")


def _own_tensors(prefix: str, module: PersistentObject) -> dict:
  """A module's parameters and persistent buffers, each checked to be an array built by this reader."""
  state = module.state
  skip = state.get("_non_persistent_buffers_set") or set()
  if type(skip) not in (set, frozenset):
    raise UnsafePickleError(f"{prefix or 'G'} _non_persistent_buffers_set is {describe(skip)}")
  out = {}
  for group in ("_parameters", "_buffers"):
    for name, value in mapping(state.get(group) or {}, f"{prefix or 'G'} {group}").items():
      _check_name(name, prefix, group[1:-1])
      if value is None or (group == "_buffers" and name in skip):
        continue
      if type(value) is not np.ndarray:
        raise UnsafePickleError(f"{prefix}{name} is {describe(value)}, not a tensor")
      out[prefix + name] = value
  return out


class NumpyDType:
  """numpy.dtype(name) of a numeric name, byte order from its pickled state (checked to be a plain scalar type)."""

  def __init__(self, name=None, align=False, copy=True):
    if type(name) is not str or name not in NUMERIC_DTYPES:
      raise UnsafePickleError(f"a numpy dtype {describe(name)}; only {', '.join(NUMERIC_DTYPES)} are read")
    self.name, self.dtype = name, None

  def __setstate__(self, state):
    plain = (type(state) is tuple and len(state) == 8 and state[0] == 3 and type(state[1]) is str
             and state[1] in "<>|=" and len(state[1]) == 1 and state[2] is None and state[3] is None
             and state[4] is None and all(type(v) is int for v in state[5:]) and state[5:] == (-1, -1, 0))
    if not plain:
      raise UnsafePickleError(f"numpy dtype {self.name!r} with a state other than a plain scalar type's "
                              "(fields, offsets, sub-arrays or flags)")
    order = {"=": "<", "|": "<"}.get(state[1], state[1])
    self.dtype = np.dtype(self.name).newbyteorder(order)


class NumpyArray:
  """A pickled numpy array (`_reconstruct` + BUILD) as a record; `.array` is a numeric np.ndarray of native order."""

  def __init__(self, reader, cls=None, shape=None, code=None):
    if not isinstance(cls, Marker) or cls.name != "numpy.ndarray":
      raise UnsafePickleError(f"numpy _reconstruct of {describe(cls)}")
    self._reader, self.array = reader, None

  def __setstate__(self, state):
    if type(state) is not tuple or len(state) not in (4, 5):
      raise UnsafePickleError("a numpy array state that is not (version, shape, dtype, fortran, data)")
    _, shape, dtype, fortran, data = state if len(state) == 5 else (1, *state)
    if type(dtype) is not NumpyDType or dtype.dtype is None or type(fortran) is not bool:
      raise UnsafePickleError("a numpy array of a dtype this reader did not build")
    shape = _int_tuple(shape, "numpy array shape")
    if type(data) is not bytes or len(data) != math.prod(shape) * dtype.dtype.itemsize:
      raise UnsafePickleError(f"a numpy array of shape {shape} whose data is not exactly its "
                              f"{math.prod(shape) * dtype.dtype.itemsize} bytes")
    self._reader.charge(len(data))
    flat = np.frombuffer(data, dtype.dtype).astype(dtype.dtype.newbyteorder("="))
    self.array = flat.reshape(shape, order="F" if fortran else "C")


def _int_tuple(value, what: str) -> tuple:
  if type(value) not in (tuple, list) or len(value) > 32 or any(type(v) is not int or v < 0 for v in value):
    raise UnsafePickleError(f"a {what} that is not a short tuple of integers >= 0")
  return tuple(value)


# --- pass 1: the opcode stream, before anything is built -----------------------------------------------------------

KEY_KINDS = ("str", "int", "bool")      # what may be hashed: dict keys, set members
MUTABLE = ("list", "dict", "set")
BUILDERS = {"array_builder": "array", "dtype_builder": "dtype"}


class Node:
  """An inert stand-in for one value of the simulated stack: its kind, nesting depth and size written out."""
  __slots__ = ("kind", "depth", "size", "sealed", "value", "items", "keys_only")

  def __init__(self, kind: str, value=None, items=()):
    self.kind, self.value, self.items, self.sealed = kind, value, list(items), False
    self.depth, self.size, self.keys_only = 1, 1, True
    for item in self.items:
      self.adopt(item)

  def adopt(self, child: "Node") -> None:
    """`child` goes into this container: it may not change any more; depth and size grow within the bounds."""
    if child is self:
      raise UnsafePickleError(f"a {self.kind} that contains itself (a cyclic structure)")
    if child.kind in BUILDERS:
      raise UnsafePickleError(f"a {child.kind.replace('_', ' ')} used before its state was set")
    if self.sealed and self.kind in MUTABLE:
      raise UnsafePickleError(f"a {self.kind} changed after it was put into another value (a shared or cyclic "
                              "structure)")
    child.sealed = True
    self.depth = max(self.depth, child.depth + 1)
    self.size += child.size
    self.keys_only = self.keys_only and child.kind in KEY_KINDS
    if self.depth > MAX_DEPTH:
      raise UnsafePickleError(f"values nested more than {MAX_DEPTH} deep")
    if self.size > MAX_EXPANDED:
      raise UnsafePickleError(f"a value of more than {MAX_EXPANDED} parts when written out (shared structure)")


def _key(node: Node, where: str) -> Node:
  if node.kind not in KEY_KINDS:
    raise UnsafePickleError(f"a {node.kind} as a {where}; only strings and integers are accepted")
  return node


SCALAR_OPS = {
    **dict.fromkeys(("BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"), "int"),
    **dict.fromkeys(("FLOAT", "BINFLOAT"), "float"),
    **dict.fromkeys(("STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
                     "BINUNICODE8"), "str"),
    **dict.fromkeys(("BINBYTES", "SHORT_BINBYTES", "BINBYTES8"), "bytes"),
    "BYTEARRAY8": "bytearray", "NONE": "none", "NEWTRUE": "bool", "NEWFALSE": "bool",
    "EMPTY_LIST": "list", "EMPTY_DICT": "dict", "EMPTY_SET": "set", "EMPTY_TUPLE": "tuple",
}
LEAVES = {kind: Node(kind) for kind in ("int", "float", "bytes", "bytearray", "none", "bool")}
REFUSED_OPS = ("INST", "OBJ", "EXT1", "EXT2", "EXT4", "NEXT_BUFFER", "READONLY_BUFFER", "DUP")


class Prepass:
  """Checks one pickle stream's opcodes (see the module docstring); `run` returns (end offset, protocol)."""

  def __init__(self, reader, storage_ids: bool):
    self.reader, self.storage_ids = reader, storage_ids
    self.stack, self.marks, self.memo, self.proto = [], [], {}, 0

  def run(self, f: io.BytesIO) -> tuple[int, int]:
    try:
      for op, arg, _ in pickletools.genops(f):
        self.reader.tick()
        name = op.name
        if name in SCALAR_OPS:   # the common case inline (the pre-pass is most of the time a hostile file costs)
          self.scalar(SCALAR_OPS[name], arg)
        else:
          self.step(name, arg)
        if name == "STOP":
          if len(self.stack) != 1 or self.marks:
            raise UnsafePickleError("a pickle that does not end with exactly one value")
          return f.tell(), self.proto
    except UnsafePickleError:
      raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError, struct.error) as e:
      raise UnsafePickleError(f"a malformed pickle ({type(e).__name__}: {str(e)[:120]})") from None
    raise UnsafePickleError("a truncated pickle (no STOP opcode)")

  def pop(self) -> Node:
    if not self.stack or (self.marks and len(self.stack) == self.marks[-1]):
      raise UnsafePickleError("a pickle that pops an empty stack")
    return self.stack.pop()

  def pop_mark(self) -> list:
    if not self.marks:
      raise UnsafePickleError("a pickle that pops a mark it never set")
    at = self.marks.pop()
    items, self.stack[at:] = self.stack[at:], []
    return items

  def top(self) -> Node:
    if not self.stack or (self.marks and len(self.stack) == self.marks[-1]):
      raise UnsafePickleError("a pickle that uses an empty stack")
    return self.stack[-1]

  def scalar(self, kind: str, arg) -> None:
    if kind == "int" and arg.bit_length() > MAX_INT_BITS:
      raise UnsafePickleError(f"an integer of more than {MAX_INT_BITS} bits")
    if kind in MUTABLE or kind in ("str", "tuple"):
      self.stack.append(Node(kind, arg if kind == "str" and len(arg) <= 256 else None))
    else:  # immutable leaves carry nothing of their own: one shared node per kind
      self.stack.append(LEAVES[kind])

  def step(self, name: str, arg) -> None:
    if name == "INT":               # protocol 0: "I01\n" and "I00\n" are True and False
      self.scalar("bool" if type(arg) is bool else "int", arg)
    elif name in REFUSED_OPS:
      raise UnsafePickleError(f"the {name} opcode, which a network pickle does not contain")
    else:
      getattr(self, "op_" + name)(arg)

  # -- structure
  def op_MARK(self, arg):
    self.marks.append(len(self.stack))

  def op_POP(self, arg):
    if self.marks and len(self.stack) == self.marks[-1]:
      self.marks.pop()
    else:
      self.pop()

  def op_POP_MARK(self, arg):
    self.pop_mark()

  def op_TUPLE(self, arg):
    self.stack.append(Node("tuple", items=self.pop_mark()))

  def _tuple_n(self, n):
    items = [self.pop() for _ in range(n)][::-1]
    self.stack.append(Node("tuple", items=items))

  op_TUPLE1 = lambda self, arg: self._tuple_n(1)
  op_TUPLE2 = lambda self, arg: self._tuple_n(2)
  op_TUPLE3 = lambda self, arg: self._tuple_n(3)

  def op_LIST(self, arg):
    self.stack.append(Node("list", items=self.pop_mark()))

  def op_DICT(self, arg):
    items = self.pop_mark()
    if len(items) % 2:
      raise UnsafePickleError("a DICT opcode with an odd number of items")
    self.stack.append(Node("dict", items=[_key(n, "dict key") if i % 2 == 0 else n for i, n in enumerate(items)]))

  def op_FROZENSET(self, arg):
    self.stack.append(Node("frozenset", items=[_key(n, "set member") for n in self.pop_mark()]))

  def _add(self, kinds, items, where):
    target = self.top()
    if target.kind not in kinds:
      raise UnsafePickleError(f"{where} on a {target.kind}")
    for item in items:
      target.adopt(item)

  def op_APPEND(self, arg):
    self._add(("list",), [self.pop()], "APPEND")

  def op_APPENDS(self, arg):
    self._add(("list",), self.pop_mark(), "APPENDS")

  def op_SETITEM(self, arg):
    value, key = self.pop(), self.pop()
    self._add(("dict",), [_key(key, "dict key"), value], "SETITEM")

  def op_SETITEMS(self, arg):
    items = self.pop_mark()
    if len(items) % 2:
      raise UnsafePickleError("a SETITEMS opcode with an odd number of items")
    self._add(("dict",), [_key(n, "dict key") if i % 2 == 0 else n for i, n in enumerate(items)], "SETITEMS")

  def op_ADDITEMS(self, arg):
    self._add(("set",), [_key(n, "set member") for n in self.pop_mark()], "ADDITEMS")

  # -- memo
  def _memo_put(self, index):
    if not 0 <= index <= MAX_OPCODES:
      raise UnsafePickleError(f"a memo index of {index} (more than the opcodes a pickle may hold)")
    self.memo[index] = self.top()

  op_PUT = op_BINPUT = op_LONG_BINPUT = lambda self, arg: self._memo_put(arg)
  op_MEMOIZE = lambda self, arg: self._memo_put(len(self.memo))

  def _memo_get(self, index):
    node = self.memo.get(index)
    if node is None:
      raise UnsafePickleError(f"a memo reference to {index}, which was never stored")
    if node.kind in BUILDERS:
      raise UnsafePickleError(f"a {node.kind.replace('_', ' ')} referenced before its state was set")
    self.stack.append(node)

  op_GET = op_BINGET = op_LONG_BINGET = lambda self, arg: self._memo_get(arg)

  # -- globals and calls
  def op_PROTO(self, arg):
    if not 0 <= arg <= pickle.HIGHEST_PROTOCOL:
      raise UnsafePickleError(f"pickle protocol {arg}")
    self.proto = arg

  def op_FRAME(self, arg):
    pass

  def op_STOP(self, arg):
    pass

  def op_GLOBAL(self, arg):
    module, _, name = arg.partition(" ")
    self.stack.append(self.reader.global_node(module, name, self.proto))

  def op_STACK_GLOBAL(self, arg):
    name, module = self.pop(), self.pop()
    if module.kind != "str" or name.kind != "str" or module.value is None or name.value is None:
      raise UnsafePickleError("a STACK_GLOBAL whose module and name are not short strings")
    self.stack.append(self.reader.global_node(module.value, name.value, self.proto))

  def op_REDUCE(self, arg):
    args, func = self.pop(), self.pop()
    self.stack.append(self.reader.call_node(func, args, "call"))

  def op_NEWOBJ(self, arg):
    args, cls = self.pop(), self.pop()
    self.stack.append(self.reader.call_node(cls, args, "new"))

  def op_NEWOBJ_EX(self, arg):
    kwargs, args, cls = self.pop(), self.pop(), self.pop()
    if kwargs.kind != "dict" or kwargs.items:
      raise UnsafePickleError("NEWOBJ_EX with keyword arguments")
    self.stack.append(self.reader.call_node(cls, args, "new"))

  def op_BUILD(self, arg):
    state, target = self.pop(), self.top()
    if target.kind not in BUILDERS:
      raise UnsafePickleError(f"BUILD (setting the state) of a {target.kind}; only numpy arrays and dtypes are "
                              "rebuilt from a state")
    target.kind = BUILDERS[target.kind]
    target.adopt(state)

  def _persistent(self, pid: Node):
    if not self.storage_ids:
      raise UnsafePickleError("a persistent id outside a tensor storage")
    self.stack.append(Node("storage", items=[pid]))

  op_PERSID = lambda self, arg: self._persistent(Node("str"))
  op_BINPERSID = lambda self, arg: self._persistent(self.pop())


# --- pass 2: the allowed globals and what they build ---------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Global:
  """An allowed global: `role` "call" (REDUCE), "new" (REDUCE or NEWOBJ of a class) or "marker" (an argument
  only); `kind`: the simulated kind of what it returns; `args`: a check of the argument nodes (pass 1)."""
  role: str
  kind: str = "object"
  args: Any = None


def _no_args(items) -> bool:
  return not items


def _set_args(items) -> bool:
  return not items or (len(items) == 1 and items[0].kind in ("list", "tuple") and items[0].keys_only)


def _reconstructor_args(items) -> bool:
  return (len(items) == 3 and items[0].kind == "global" and items[0].value in ("dnnlib.util.EasyDict",
          "collections.OrderedDict") and items[1].kind == "global" and items[1].value == "builtins.dict"
          and items[2].kind in ("dict", "none"))


def _encode_args(items) -> bool:
  return len(items) == 2 and items[0].kind == "str" and items[1].kind == "str"


GLOBALS = {
    "collections.OrderedDict": Global("new", "dict", _no_args),
    "dnnlib.util.EasyDict": Global("new", "dict", _no_args),
    "copyreg._reconstructor": Global("call", "dict", _reconstructor_args),
    "builtins.set": Global("call", "set", _set_args),
    "builtins.frozenset": Global("call", "frozenset", _set_args),
    "builtins.bytes": Global("call", "bytes", _no_args),
    "_codecs.encode": Global("call", "bytes", _encode_args),
    "builtins.dict": Global("marker"),
    "torch._utils._rebuild_tensor_v2": Global("call"),
    "torch._utils._rebuild_parameter": Global("call"),
    "torch._utils._rebuild_parameter_with_state": Global("call"),
    "torch.storage._load_from_bytes": Global("call"),
    "torch_utils.persistence._reconstruct_persistent_obj": Global("call"),
    "numpy.dtype": Global("call", "dtype_builder"),
    "numpy.ndarray": Global("marker"),
    "numpy.core.multiarray._reconstruct": Global("call", "array_builder"),
    "numpy._core.multiarray._reconstruct": Global("call", "array_builder"),
    "numpy.core.multiarray.scalar": Global("call"),
    "numpy._core.multiarray.scalar": Global("call"),
    "numpy.core.numeric._frombuffer": Global("call"),
    "numpy._core.numeric._frombuffer": Global("call"),
    **{f"torch.{name}": Global("marker") for name in STORAGE_DTYPES},
}


def standard_name(module: str, name: str, proto: int) -> str:
  """`module.name` after Python's own renaming of Python 2 names in protocols < 3 (pickle's find_class)."""
  if proto < 3:
    if (module, name) in _compat_pickle.NAME_MAPPING:
      module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
      module = _compat_pickle.IMPORT_MAPPING[module]
  return f"{module}.{name}"


class Reader:
  """One file's read: the budget (opcodes, time, tensor bytes) and the functions the allowed globals resolve to."""

  def __init__(self, file_bytes: int):
    self.opcodes, self.tensor_bytes = 0, 0
    self.max_tensor_bytes = file_bytes + SLACK_BYTES
    self.deadline = time.monotonic() + TIME_BUDGET_S + file_bytes * SECONDS_PER_BYTE
    self.functions = {
        "collections.OrderedDict": collections.OrderedDict, "dnnlib.util.EasyDict": EasyDict,
        "copyreg._reconstructor": _reconstructor, "builtins.set": set, "builtins.frozenset": frozenset,
        "builtins.bytes": bytes, "_codecs.encode": _latin1,
        "torch._utils._rebuild_tensor_v2": self.rebuild_tensor,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "torch.storage._load_from_bytes": self.load_storage,
        "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
        "numpy.dtype": NumpyDType, "numpy.core.multiarray._reconstruct": self.numpy_array,
        "numpy._core.multiarray._reconstruct": self.numpy_array,
        "numpy.core.multiarray.scalar": _numpy_scalar, "numpy._core.multiarray.scalar": _numpy_scalar,
        "numpy.core.numeric._frombuffer": self.numpy_frombuffer, "numpy._core.numeric._frombuffer":
            self.numpy_frombuffer,
        **{f"torch.{name}": Marker(f"torch.{name}", np.dtype(dtype)) for name, dtype in STORAGE_DTYPES.items()},
        "numpy.ndarray": Marker("numpy.ndarray"), "builtins.dict": Marker("builtins.dict"),
    }

  # -- the budget
  def tick(self) -> None:
    self.opcodes += 1
    if not self.opcodes & 4095:
      if self.opcodes > MAX_OPCODES:
        raise UnsafePickleError(f"more than {MAX_OPCODES} pickle opcodes")
      self.check_time()

  def check_time(self) -> None:
    if time.monotonic() > self.deadline:
      raise UnsafePickleError("reading it took longer than its time budget")

  def charge(self, nbytes: int) -> None:
    self.tensor_bytes += nbytes
    if self.tensor_bytes > self.max_tensor_bytes:
      raise UnsafePickleError(f"its tensors would hold more bytes ({self.tensor_bytes}) than the file does")
    self.check_time()

  # -- pass 1 hooks
  def global_node(self, module: str, name: str, proto: int) -> Node:
    full = standard_name(module, name, proto)
    if full not in GLOBALS:
      raise UnsafePickleError(f"it refers to {full[:120]}, which a network pickle does not contain")
    return Node("global", full)

  def call_node(self, func: Node, args: Node, how: str) -> Node:
    if func.kind != "global" or args.kind != "tuple":
      raise UnsafePickleError(f"a call of a {func.kind} with a {args.kind} of arguments")
    spec = GLOBALS[func.value]
    allowed = ("call", "new") if how == "call" else ("new",)
    if spec.role not in allowed:
      raise UnsafePickleError(f"{'a call' if how == 'call' else 'an instantiation'} of {func.value}, which a "
                              "network pickle only names")
    if spec.args is not None and not spec.args(args.items):
      raise UnsafePickleError(f"{func.value} with arguments a network pickle does not give it")
    return Node(spec.kind, items=[func, args])

  # -- pass 2
  def load(self, f: io.BytesIO, storage_ids=None):
    """One pickle from `f` (at its position): checked by `Prepass`, then unpickled with the allowed globals."""
    start = f.tell()
    end, proto = Prepass(self, storage_ids is not None).run(f)
    f.seek(start)
    unpickler = _Unpickler(f, self, proto, storage_ids)
    value = unpickler.load()
    if f.tell() != end:
      raise UnsafePickleError("a pickle that the checker and the reader see differently")
    return value

  def rebuild_tensor(self, storage, offset, size, stride, *unused):
    """torch's _rebuild_tensor_v2: a copy of the strided view of `storage` (a storage array built here)."""
    if type(storage) is not np.ndarray or storage.ndim != 1 or type(offset) is not int:
      raise UnsafePickleError("a tensor whose storage was not read from a tensor storage record")
    size, stride = _int_tuple(size, "tensor size"), _int_tuple(stride, "tensor stride")
    if len(size) != len(stride) or offset < 0:
      raise UnsafePickleError(f"a tensor with size {size}, stride {stride}, offset {offset}")
    numel = math.prod(size)
    if any(s == 0 and n > 1 for n, s in zip(size, stride)):
      raise UnsafePickleError(f"a tensor of size {size} with stride 0 (an expanded view)")
    if numel > storage.size:
      raise UnsafePickleError(f"a tensor of size {size} has more elements than its storage ({storage.size})")
    self.charge(numel * storage.itemsize)
    if numel == 0:
      return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:   # as_strided would read outside the storage
      raise UnsafePickleError(f"a tensor of size {size} reads past its storage of {storage.size} elements")
    view = np.lib.stride_tricks.as_strided(storage[offset:], size, [s * storage.itemsize for s in stride],
                                           writeable=False)
    return np.array(view)

  def load_storage(self, data):
    """A storage pickled by torch: the legacy torch.save stream of one storage -> read-only 1-D numpy array."""
    if type(data) is not bytes:
      raise UnsafePickleError(f"a tensor storage record of {describe(data)}")
    f = io.BytesIO(data)
    if self.load(f) != TORCH_MAGIC:
      raise UnsafePickleError("a tensor storage without torch's magic number")
    if self.load(f) != TORCH_PROTOCOL:
      raise UnsafePickleError("a tensor storage in an unknown torch protocol")
    info = self.load(f)
    if type(info) not in MAPPINGS or info.get("little_endian", True) is not True:
      raise UnsafePickleError("a big-endian tensor storage")
    storages = {}
    root = self.load(f, storage_ids=lambda pid: _storage_ref(pid, storages))
    keys = self.load(f)
    if type(keys) is not list or any(type(k) is not str or k not in storages for k in keys):
      raise UnsafePickleError("a tensor storage whose key list names unknown storages")
    view = memoryview(data)
    for key in keys:
      ref = storages[key]
      pos = f.tell()
      (count,) = struct.unpack("<q", data[pos:pos + 8]) if len(data) >= pos + 8 else (-1,)
      nbytes = count * ref.dtype.itemsize
      if count < 0 or pos + 8 + nbytes > len(data):
        raise UnsafePickleError("a truncated tensor storage (its element count exceeds its bytes)")
      ref.array = np.frombuffer(view[pos + 8:pos + 8 + nbytes], ref.dtype)
      f.seek(pos + 8 + nbytes)
    if not isinstance(root, StorageRef) or root.array is None:
      raise UnsafePickleError("a tensor storage record without data")
    return root.array

  def numpy_array(self, *args):
    return NumpyArray(self, *args)

  def numpy_frombuffer(self, data=None, dtype=None, shape=None, order=None):
    """numpy's protocol-5 array (in-band buffer) as a `NumpyArray` record."""
    record = NumpyArray(self, Marker("numpy.ndarray"))
    record.__setstate__((1, shape, dtype, order == "F", bytes(data) if type(data) is bytearray else data))
    return record


class StorageRef:
  def __init__(self, dtype):
    self.dtype, self.array = dtype, None


def _storage_ref(pid, storages: dict) -> StorageRef:
  if not (type(pid) is tuple and len(pid) >= 5 and pid[0] == "storage"):
    raise UnsafePickleError("a persistent id that is not a storage")
  _, storage_type, key, _location, _numel = pid[:5]
  if not isinstance(storage_type, Marker) or storage_type.dtype is None or type(key) is not str:
    raise UnsafePickleError("a storage of an unknown type")
  if len(pid) > 5 and pid[5] is not None:
    raise UnsafePickleError("a storage view (legacy format) is not supported")
  if key not in storages:
    storages[key] = StorageRef(storage_type.dtype)
  return storages[key]


def _reconstructor(cls, base, state):
  return cls() if state is None else cls(state)


def _latin1(text, encoding):
  if type(text) is not str or encoding not in ("latin1", "latin-1"):
    raise UnsafePickleError("_codecs.encode other than bytes written by a protocol-0..2 pickle")
  return text.encode("latin-1")


def _rebuild_parameter(data, *unused):
  if type(data) is not np.ndarray:
    raise UnsafePickleError(f"a parameter of {describe(data)}, not a tensor")
  return data


def _reconstruct_persistent_obj(meta):
  if type(meta) not in MAPPINGS or meta.get("type") != "class" or type(meta.get("class_name")) is not str:
    raise UnsafePickleError("a persistent object without a class record")
  return PersistentObject(meta["class_name"], mapping(meta.get("state"), f"{meta['class_name'][:40]} state"))


def _numpy_scalar(dtype, data=None):
  if type(dtype) is not NumpyDType or dtype.dtype is None or type(data) is not bytes \
      or len(data) != dtype.dtype.itemsize:
    raise UnsafePickleError("a numpy scalar that is not a number of a numeric dtype")
  return np.frombuffer(data, dtype.dtype)[0]


class _Unpickler(pickle.Unpickler):
  """The C unpickler over a stream `Prepass` accepted: globals from `Reader.functions`, persistent ids only inside
  a tensor storage's stream."""

  def __init__(self, file, reader: Reader, proto: int, storage_ids=None):
    super().__init__(file)
    self._reader, self._proto, self._storage_ids = reader, proto, storage_ids

  def find_class(self, module: str, name: str) -> Any:
    full = standard_name(module, name, self._proto)
    if full not in GLOBALS:   # unreachable after the pre-pass; kept as the second lock
      raise UnsafePickleError(f"it refers to {full[:120]}, which a network pickle does not contain")
    return self._reader.functions[full]

  def persistent_load(self, pid):
    if self._storage_ids is None:
      raise UnsafePickleError("a persistent id outside a tensor storage")
    return self._storage_ids(pid)


def load_bytes(data: bytes) -> Any:
  """The network pickle held in `data`, as inert data. Raises UnsafePickleError (one line) on anything else."""
  reader = Reader(len(data))
  f = io.BytesIO(data)
  try:
    value = reader.load(f)
  except UnsafePickleError:
    raise
  except RecursionError:
    raise UnsafePickleError("a structure nested too deeply") from None
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
          OverflowError, UnicodeError, MemoryError, struct.error) as e:
    raise UnsafePickleError(f"a malformed pickle ({type(e).__name__}: {str(e)[:120]})") from None
  if f.tell() != len(data):
    raise UnsafePickleError(f"{len(data) - f.tell()} bytes after the pickle's end")
  return value


def load(f) -> Any:
  """Reads an open binary file (at most MAX_FILE_BYTES) with `load_bytes`."""
  data = f.read(MAX_FILE_BYTES + 1)
  if len(data) > MAX_FILE_BYTES:
    raise UnsafePickleError(f"a file larger than {MAX_FILE_BYTES >> 30} GiB (the importer's memory budget)")
  return load_bytes(data)
