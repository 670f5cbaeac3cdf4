"""A corpus of hostile StyleGAN2-ADA network pickles, written here (raw opcodes or the official layout with one thing
wrong), and a runner that converts each in a forked child and reports how it ended.

  python tests/hostile_pickles.py DIR    writes DIR/<case>.pkl, then prints one JSON line per case:
      {"case", "status" (the child's exit status; -N: killed by signal N), "line" (its stderr), "seconds" (wall),
       "cpu_seconds" (the child's user + system time), "rss_mb" (the child's peak RSS above its RSS at the start)}

The runner imports the converter (and so JAX) once and forks per case: every case costs milliseconds, not a new
Python + JAX start. The parent never starts a JAX backend, so forking is safe. The child emulates the command line:
a JaxgenError is one `error:` line and exit 2, anything else a traceback and exit 1.
"""
import collections
import json
import os
import pickle
import resource
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylegan2_twin as twin  # noqa: E402
import torch_pickle_writer as writer  # noqa: E402
from torch_pickle_writer import Global, Reduce  # noqa: E402

KW = {"z_dim": 4, "c_dim": 0, "w_dim": 4, "img_resolution": 4, "img_channels": 1,
      "mapping_kwargs": {"num_layers": 1}, "synthesis_kwargs": {"channel_base": 16, "channel_max": 4}}
CASE_SECONDS = 5.0
CASE_RSS_MB = 300.0

# --- raw opcodes ---------------------------------------------------------------------------------------------------
P = pickle
PROTO4 = P.PROTO + b"\x04"


def s(text: str) -> bytes:
  data = text.encode()
  return P.BINUNICODE + struct.pack("<I", len(data)) + data


def g(module: str, name: str) -> bytes:
  return P.GLOBAL + f"{module}\n{name}\n".encode()


def i(n: int) -> bytes:
  return P.BININT + struct.pack("<i", n)


def put(k: int) -> bytes:
  return P.LONG_BINPUT + struct.pack("<I", k)


def get(k: int) -> bytes:
  return P.LONG_BINGET + struct.pack("<I", k)


def program(*parts: bytes) -> bytes:
  return PROTO4 + b"".join(parts) + P.STOP


def doubling(levels: int, lists: bool = False) -> bytes:
  """t0 = (); t_{k+1} = (t_k, t_k) (or lists [t_k, t_k]) through the memo: a few opcodes per level make a value
  of 2^levels parts."""
  out = (P.EMPTY_LIST if lists else P.EMPTY_TUPLE) + put(0)
  for k in range(levels):
    pair = P.MARK + get(k) + get(k) + P.LIST if lists else get(k) + get(k) + P.TUPLE2
    out += P.POP + pair + put(k + 1)
  return out


def persistent_raw(state: bytes, class_name: bytes = None) -> bytes:
  """_reconstruct_persistent_obj({"type": "class", "class_name": ..., "state": <state>})."""
  return (g("torch_utils.persistence", "_reconstruct_persistent_obj") + P.EMPTY_DICT + s("type") + s("class")
          + P.SETITEM + s("class_name") + (class_name or s("Generator")) + P.SETITEM + s("state") + state
          + P.SETITEM + P.TUPLE1 + P.REDUCE)


def root(g_ema: bytes) -> bytes:
  return program(P.EMPTY_DICT, s("G_ema"), g_ema, P.SETITEM)


def numpy_dtype(name: str, state: bytes) -> bytes:
  return g("numpy", "dtype") + s(name) + P.NEWFALSE + P.NEWTRUE + P.TUPLE3 + P.REDUCE + state + P.BUILD


PLAIN_F4 = P.MARK + i(3) + s("<") + P.NONE * 3 + i(-1) + i(-1) + i(0) + P.TUPLE


def numpy_array(dtype: bytes, shape: tuple, data: bytes) -> bytes:
  dims = P.MARK + b"".join(i(d) for d in shape) + P.TUPLE
  return (g("numpy.core.multiarray", "_reconstruct") + g("numpy", "ndarray") + i(0) + P.TUPLE1 + P.SHORT_BINBYTES
          + b"\x01b" + P.TUPLE3 + P.REDUCE + P.MARK + i(1) + dims + dtype + P.NEWFALSE + P.BINBYTES
          + struct.pack("<I", len(data)) + data + P.TUPLE + P.BUILD)


def deep_module_chain(levels: int) -> bytes:
  """G_ema whose _modules nest `levels` persistent objects (top-down prefixes, then the closing opcodes)."""
  prefix = (g("torch_utils.persistence", "_reconstruct_persistent_obj") + P.EMPTY_DICT + s("type") + s("class")
            + P.SETITEM + s("class_name") + s("Generator") + P.SETITEM + s("state") + P.EMPTY_DICT + s("_modules")
            + P.EMPTY_DICT + s("m"))
  suffix = P.SETITEM + P.SETITEM + P.SETITEM + P.TUPLE1 + P.REDUCE
  return program(P.EMPTY_DICT, s("G_ema"), prefix * levels, P.NONE, suffix * levels, P.SETITEM)


# --- the official layout with one thing wrong ----------------------------------------------------------------------

def state_dict():
  rng = np.random.default_rng(0)
  return {name: (twin.fir() if name.endswith("resample_filter") else rng.normal(size=shape)).astype(np.float32)
          for name, shape in twin.official_shapes(4, 1, 4, 4, 1, 16, 4).items()}


def official(kw=None, sd=None, protocol=4, **state) -> bytes:
  """The official layout (torch_pickle_writer) of a tiny generator; `state` replaces entries of G_ema's state."""
  g_ema = writer.module_tree(sd if sd is not None else state_dict(), kw if kw is not None else KW)
  g_ema.args[0]["state"].update(state)
  return dumps({"G": None, "G_ema": g_ema}, protocol)


def dumps(obj, protocol=4) -> bytes:
  import io
  f = io.BytesIO()
  writer.Pickler(f, protocol=protocol).dump(obj)
  return f.getvalue()


def tensor_record(storage_values, size, stride, offset=0):
  storage = Reduce(Global("torch.storage", "_load_from_bytes"),
                   (writer.storage_bytes(np.asarray(storage_values, np.float32)),))
  return Reduce(Global("torch._utils", "_rebuild_tensor_v2"),
                (storage, offset, size, stride, False, collections.OrderedDict()))


def with_tensor(record) -> bytes:
  g_ema = writer.persistent("Generator", {"_parameters": {"weight": record}, "_init_kwargs": KW}, "")
  return dumps({"G_ema": g_ema})


def kw(**changes):
  out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in KW.items()}
  for key, value in changes.items():
    if value is MISSING:
      out.pop(key)
    else:
      out[key] = value
  return out


MISSING = object()


def corpus() -> dict:
  """{case name: file bytes}: one per class of hostile or broken file, and valid files of every protocol."""
  ed = g("dnnlib.util", "EasyDict") + P.EMPTY_TUPLE + P.REDUCE
  od = g("collections", "OrderedDict") + P.EMPTY_TUPLE + P.REDUCE
  interface = P.EMPTY_DICT + s("__array_interface__") + P.EMPTY_DICT + s("data") + i(4096) + P.NEWFALSE \
      + P.TUPLE2 + P.SETITEM + P.SETITEM
  out = {
      # 1. raw memory reads: BUILD on a container, a dtype with a field at an offset, huge offsets
      "array_interface_on_easydict": root(ed + interface + P.BUILD),
      "array_interface_on_ordereddict": root(od + interface + P.BUILD),
      "build_on_persistent_object": root(persistent_raw(P.EMPTY_DICT) + P.EMPTY_DICT + s("state_dict") + i(1)
                                         + P.SETITEM + P.BUILD),
      "dtype_field_at_offset_64": root(numpy_dtype("f4", P.MARK + i(3) + s("<") + P.NONE + s("a") + P.TUPLE1
                                                   + P.EMPTY_DICT + s("a") + g("numpy", "dtype") + P.POP + i(64)
                                                   + P.SETITEM + i(4) + i(1) + i(0) + P.TUPLE)),
      "dtype_huge_offset": root(numpy_dtype("f4", P.MARK + i(3) + s("<") + P.NONE * 3 + i(1 << 30) + i(-1) + i(0)
                                            + P.TUPLE)),
      "dtype_void_400mb": root(numpy_dtype("V400000000", PLAIN_F4)),
      "dtype_object": root(numpy_array(numpy_dtype("O", PLAIN_F4), (3,), b"\0" * 24)),
      "dtype_structured_name": root(numpy_dtype("f4,i4", PLAIN_F4)),
      # 2. memory bombs
      "stride_zero_tensor": with_tensor(tensor_record([1.0], (300_000_000,), (0,))),
      "stride_zero_2d": with_tensor(tensor_record([1.0, 2.0], (2, 100_000_000), (1, 0))),
      "overlapping_strides": with_tensor(tensor_record(np.zeros(20_000), (10_000, 10_000), (1, 1))),
      "tensor_past_storage": with_tensor(tensor_record([1.0, 2.0], (3,), (1,))),
      "ndarray_object_call": root(g("numpy", "ndarray") + i(300_000_000) + P.TUPLE1 + s("O") + P.TUPLE2
                                  + P.REDUCE),
      "reconstruct_object_dtype": root(numpy_array(numpy_dtype("O", PLAIN_F4), (300_000_000,), b"")),
      "array_shape_exceeds_data": root(numpy_array(numpy_dtype("f4", PLAIN_F4), (100_000_000,), b"\0" * 8)),
      "void_scalar_400mb": root(g("numpy.core.multiarray", "scalar") + numpy_dtype("V400000000", PLAIN_F4)
                                + P.SHORT_BINBYTES + b"\x00" + P.TUPLE2 + P.REDUCE),
      "shared_lists_as_storage": root(g("torch.storage", "_load_from_bytes")
                                      + doubling(40, lists=True) + P.TUPLE1 + P.REDUCE),
      "binbytes8_length_2_62": root(P.BINBYTES8 + struct.pack("<Q", 1 << 62) + b"xx"),
      "memo_index_2_32": root(P.NONE + put(0xFFFF_FFFF)),
      "memo_get_unset": root(get(7)),
      "long_integer_1mb": root(P.LONG4 + struct.pack("<i", 1 << 20) + b"\x7f" * (1 << 20)),
      "too_many_opcodes": root(P.NONE + (P.NONE + P.POP) * 600_000),
      "truncated_storage_count": with_tensor(Reduce(Global("torch._utils", "_rebuild_tensor_v2"), (Reduce(
          Global("torch.storage", "_load_from_bytes"), (writer.storage_bytes(np.zeros(4, np.float32))[:-20]
                                                        + struct.pack("<q", 1 << 60),)), 0, (4,), (1,)))),
      # 3. hangs: hashing or printing shared structures
      "shared_tuple_dict_key": root(P.EMPTY_DICT + doubling(100) + i(1) + P.SETITEM),
      "shared_tuple_small_dict_key": root(P.EMPTY_DICT + doubling(3) + i(1) + P.SETITEM),
      "frozenset_of_shared_tuples": root(P.MARK + doubling(100) + P.FROZENSET),
      "set_of_shared_tuples": root(g("builtins", "set") + P.MARK + doubling(100) + P.LIST + P.TUPLE1 + P.REDUCE),
      "shared_list_as_class_name": root(persistent_raw(P.EMPTY_DICT, doubling(60, lists=True))),
      "list_as_class_name": root(persistent_raw(P.EMPTY_DICT, P.EMPTY_LIST)),
      "cyclic_list": root(P.EMPTY_LIST + put(0) + get(0) + P.APPEND),
      # deep nesting
      "nested_lists_100k": root(P.EMPTY_LIST * 100_000 + P.APPEND * 99_999),
      "nested_tuples_100k": root(P.NONE + P.TUPLE1 * 100_000),
      "nested_object_arrays": root((g("numpy", "ndarray") + i(1) + P.TUPLE1 + s("O") + P.TUPLE2 + P.REDUCE) * 3),
      "module_chain_20000": deep_module_chain(20_000),
      # code execution and opcodes a network pickle has no use for
      "os_system": root(g("os", "system") + s("true") + P.TUPLE1 + P.REDUCE),
      "builtins_eval_protocol2": P.PROTO + b"\x02" + g("__builtin__", "eval") + s("1") + P.TUPLE1 + P.REDUCE + P.STOP,
      "inst_opcode": b"(S'x'\nios\nsystem\n.",
      "ext_opcode": root(P.EXT1 + b"\x01"),
      "storage_type_called": root(g("torch", "FloatStorage") + i(1 << 30) + P.TUPLE1 + P.REDUCE),
      "newobj_of_set": root(g("builtins", "set") + P.EMPTY_TUPLE + P.NEWOBJ),
      "persistent_id_outside_storage": root(P.NONE + P.BINPERSID),
      "not_a_pickle": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
      "empty_file": b"",
      "trailing_garbage": program(P.EMPTY_DICT) + b"garbage",
      # 4. readable pickles, unusable contents: one line each
      "no_g_ema_mixed_keys": program(P.EMPTY_DICT, i(1), s("a"), P.SETITEM, s("b"), i(2), P.SETITEM),
      "root_is_a_list": program(P.EMPTY_LIST),
      "img_resolution_missing": official(kw(img_resolution=MISSING)),
      "img_resolution_str": official(kw(img_resolution="8")),
      "img_resolution_zero": official(kw(img_resolution=0)),
      "img_resolution_float": official(kw(img_resolution=4.0)),
      "img_resolution_not_pow2": official(kw(img_resolution=12)),
      "img_resolution_huge": official(kw(img_resolution=1 << 40)),
      "c_dim_missing": official(kw(c_dim=MISSING)),
      "c_dim_str": official(kw(c_dim="10")),
      "c_dim_negative": official(kw(c_dim=-1)),
      "c_dim_bool": official(kw(c_dim=True)),
      "z_dim_none": official(kw(z_dim=None)),
      "mapping_kwargs_list": official(kw(mapping_kwargs=[1, 2])),
      "num_layers_str": official(kw(mapping_kwargs={"num_layers": "2"})),
      "conv_clamp_str": official(kw(synthesis_kwargs={"channel_base": 16, "channel_max": 4, "conv_clamp": "x"})),
      "int_kwargs_key": official({**kw(), 7: 1}),
      "int_parameter_name": official(_parameters={0: writer.parameter(np.zeros(3))}),
      "parameters_as_list": official(_parameters=[writer.parameter(np.zeros(3))]),
      "modules_as_list": official(_modules=[1, 2]),
      "parameter_is_a_string": official(_parameters={"w": "not a tensor"}),
      "submodule_is_an_int": official(_modules={"mapping": 3}),
      "buffers_set_is_a_list": official(_non_persistent_buffers_set=["w_avg"]),
      "wrong_tensor_shape": official(sd={k: (v[..., :1] if k.endswith("fc0.weight") else v)
                                         for k, v in state_dict().items()}),
      "missing_w_avg": official(sd={k: v for k, v in state_dict().items() if not k.endswith("w_avg")}),
      "not_a_generator": dumps({"G_ema": writer.persistent("Discriminator", {"_init_kwargs": KW}, "")}),
      "architecture_resnet": official(kw(synthesis_kwargs={"channel_base": 16, "channel_max": 4,
                                                           "architecture": "resnet"})),
  }
  for protocol in range(6):
    out[f"valid_protocol_{protocol}"] = official(protocol=protocol)
  return out


# --- the runner ----------------------------------------------------------------------------------------------------

def _rss_mb() -> float:
  with open("/proc/self/status") as f:
    return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def run_case(path: str, out_dir: str) -> dict:
  """Converts `path` in a forked child (stderr to a file); its exit status, error line, time and peak RSS growth."""
  err_path, rss_path = path + ".stderr", path + ".rss"
  t0 = time.time()
  pid = os.fork()
  if pid == 0:  # the child: the command line's error handling, then os._exit (no teardown of the parent's state)
    with open(rss_path, "w") as f:
      f.write(str(_rss_mb()))
    fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 2)
    signal_alarm(int(CASE_SECONDS * 4))
    status = 0
    try:
      from jaxgen.convert import stylegan2_ada
      from jaxgen.errors import JaxgenError
      try:
        stylegan2_ada.generator_state(path)
      except JaxgenError as e:
        os.write(2, f"error: {' '.join(str(e).split())}\n".encode())
        status = 2
    except BaseException:
      import traceback
      os.write(2, traceback.format_exc().encode())
      status = 1
    os._exit(status)
  _, wait_status, usage = os.wait4(pid, 0)
  seconds = time.time() - t0
  code = os.waitstatus_to_exitcode(wait_status)
  text, base = open(err_path).read(), float(open(rss_path).read())
  return {"case": os.path.basename(path)[:-4], "status": code, "line": text, "seconds": round(seconds, 3),
          "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3), "rss_mb": round(usage.ru_maxrss / 1024 - base, 1)}


def signal_alarm(seconds: int) -> None:
  import signal
  signal.alarm(seconds)   # a hang ends as SIGALRM (status -14), which the test reports


def main(out_dir: str) -> None:
  from jaxgen.convert import stylegan2_ada  # noqa: F401  (JAX imported once, before the forks)
  from jaxgen.convert import torch_pickle  # noqa: F401
  os.makedirs(out_dir, exist_ok=True)
  for name, data in corpus().items():
    path = os.path.join(out_dir, name + ".pkl")
    with open(path, "wb") as f:
      f.write(data)
    print(json.dumps(run_case(path, out_dir)), flush=True)
  assert "jax" not in sys.modules or not _backend_started(), "the parent must not start a JAX backend"


def _backend_started() -> bool:
  from jax._src import xla_bridge
  return bool(getattr(xla_bridge, "_backends", {}))


if __name__ == "__main__":
  resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
  main(sys.argv[1])
