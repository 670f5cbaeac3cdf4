"""The shape of the package (docs/design.md §1): imports point one way, at the top of each module.

Parses every module of jaxgen/ (nothing is imported), so the check is about the source as written.
"""
import ast
import os

from conftest import ROOT

# Top to bottom: a package may import from its own layer or the layers below it, never from one above.
LAYERS = (
    ("jaxgen", "jaxgen.cli", "jaxgen.evaluate", "jaxgen.prepare", "jaxgen.convert"),   # entry points
    ("jaxgen.runtime",),                                                             # operations
    ("jaxgen.train", "jaxgen.run"),                                                  # the loop, loading a run
    ("jaxgen.families",),                                                            # the science
    ("jaxgen.nn", "jaxgen.samplers", "jaxgen.metrics", "jaxgen.data", "jaxgen.latent", "jaxgen.viz"),
    ("jaxgen.configs", "jaxgen.config", "jaxgen.errors", "jaxgen.compile_cache",     # configs as data, errors,
     "jaxgen.fileio"),                                                               # whole-file writes
)
MAX_LOCAL_IMPORTS = 10


def _modules() -> dict:
  out = {}
  for root, _, files in os.walk(os.path.join(ROOT, "jaxgen")):
    for f in files:
      if f.endswith(".py"):
        path = os.path.join(root, f)
        name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
  return out


MODULES = _modules()


def _target(node, name: str, importer: str) -> str | None:
  """The jaxgen module an import names (the longest known prefix), or None for other packages."""
  if isinstance(node, ast.ImportFrom) and node.level:
    base = importer.split(".")[:len(importer.split(".")) - node.level + (MODULES[importer].endswith("__init__.py"))]
    name = ".".join(base + [name])
  while name and name not in MODULES:
    name = name.rpartition(".")[0]
  return name or None


def _imports():
  """(importer, imported module, line, is function-local, source line) for every jaxgen import."""
  out = []
  for mod, path in MODULES.items():
    source = open(path).read()
    lines = source.splitlines()
    tree = ast.parse(source)
    local = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom):
        names = [f"{node.module or ''}.{a.name}".strip(".") for a in node.names]
      else:
        continue
      for name in names:
        target = _target(node, name, mod)
        if target and target != mod:
          out.append((mod, target, node.lineno, id(node) in local, lines[node.lineno - 1]))
  return out


def _layer(module: str) -> int:
  top = ".".join(module.split(".")[:2])
  for i, layer in enumerate(LAYERS):
    if top in layer:
      return i
  raise AssertionError(f"{module} belongs to no layer of tests/test_architecture.py; add its package to LAYERS")


def _cycles(edges: dict) -> list:
  """The strongly connected components with more than one node (Tarjan)."""
  index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, ()):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  for v in list(edges):
    if v not in index:
      visit(v)
  return out


def test_imports_point_down_the_layers():
  upward = [f"{a} -> {b} ({MODULES[a]}:{line})" for a, b, line, _, _ in _imports() if _layer(a) > _layer(b)]
  assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)


def test_no_import_cycles_between_modules_or_packages():
  modules, packages = {}, {}
  for a, b, *_ in _imports():
    modules.setdefault(a, set()).add(b)
    pa, pb = ".".join(a.split(".")[:2]), ".".join(b.split(".")[:2])
    if pa != pb:
      packages.setdefault(pa, set()).add(pb)
  assert _cycles(modules) == []
  assert _cycles(packages) == []


def test_few_function_local_imports_each_with_its_reason():
  local = [(MODULES[a], line, text) for a, _, line, is_local, text in _imports() if is_local]
  assert len(local) <= MAX_LOCAL_IMPORTS, local
  for path, line, text in local:
    previous = open(path).read().splitlines()[line - 2]
    assert "local import:" in text or "local import:" in previous, f"{path}:{line} gives no reason: {text.strip()}"


def test_the_checks_see_what_they_check():
  """The parser finds the imports it judges: a known top-level and a known function-local one."""
  edges = {(a, b): is_local for a, b, _, is_local, _ in _imports()}
  assert edges[("jaxgen.runtime.session", "jaxgen.train.loop")] is False
  assert edges[("jaxgen", "jaxgen.run")] is True
  assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
  assert _layer("jaxgen.families.gan") > _layer("jaxgen.train.loop") > _layer("jaxgen.cli")


def test_no_function_longer_than_80_lines():
  long = [f"{path}:{f.lineno} {f.name} ({f.end_lineno - f.lineno + 1} lines)" for path in MODULES.values()
          for f in ast.walk(ast.parse(open(path).read())) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
          and f.end_lineno - f.lineno + 1 > 80]
  assert not long, long
