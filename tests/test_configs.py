"""configs/*.py as differences: each family default (jaxgen.configs) is the schema, each config file sets only
what differs from it and says what it is in a short docstring."""
import ast
import glob
import json
import os

import pytest

from jaxgen import config as config_lib, configs, families
from jaxgen.errors import JaxgenError
from tests.conftest import ROOT, load_config

NAMES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "configs", "*.py")))
MAX_DOCSTRING_LINES = 6


def _tree(name):
  with open(os.path.join(ROOT, "configs", f"{name}.py")) as f:
    return ast.parse(f.read())


def _dotted(node, aliases):
  """'model.langevin.kind' for `lv.kind` with lv = c.model.langevin; None for anything not rooted in the config."""
  parts = []
  while isinstance(node, ast.Attribute):
    parts.append(node.attr)
    node = node.value
  if isinstance(node, ast.Name) and node.id in aliases:
    return ".".join(([aliases[node.id]] if aliases[node.id] else []) + parts[::-1])
  return None


def assigned_keys(name) -> list[str]:
  """The config keys get_config() of configs/<name>.py assigns (`c.model.x = ...`, `m.x = ...` with m = c.model,
  `o.b1, o.b2 = ...`), in order."""
  fn = next(n for n in _tree(name).body if isinstance(n, ast.FunctionDef) and n.name == "get_config")
  aliases, keys = {}, []
  for stmt in ast.walk(fn):
    if not isinstance(stmt, ast.Assign):
      continue
    for target in stmt.targets:
      if isinstance(target, ast.Name):        # c = family.get_config() or m = c.model
        if isinstance(stmt.value, ast.Call):
          aliases[target.id] = ""
        elif _dotted(stmt.value, aliases) is not None:
          aliases[target.id] = _dotted(stmt.value, aliases)
        continue
      for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
        key = _dotted(t, aliases)
        assert key is not None, f"configs/{name}.py: cannot read the assignment at line {stmt.lineno}"
        keys.append(key)
  return keys


@pytest.mark.parametrize("name", NAMES)
def test_config_is_its_family_default_plus_differences(name):
  tree = _tree(name)
  doc = ast.get_docstring(tree)
  assert doc and len(doc.splitlines()) <= MAX_DOCSTRING_LINES, f"configs/{name}.py: docstring over 6 lines"
  assert "python train.py --config=configs/" in doc, f"configs/{name}.py: its docstring names no train command"
  config = load_config(name)
  default = config_lib.flat_keys(configs.get(config.family))
  mine = config_lib.flat_keys(config)
  assert sorted(mine) == sorted(default), (f"configs/{name}.py: keys differ from jaxgen.configs.{config.family}: "
                                           f"{sorted(set(mine) ^ set(default))}")
  keys = assigned_keys(name)
  assert len(keys) == len(set(keys)), f"configs/{name}.py assigns a key twice"
  repeated = [k for k in keys if json.dumps(mine[k]) == json.dumps(default[k])]
  assert not repeated, f"configs/{name}.py repeats the family default's value of {repeated}"


@pytest.mark.parametrize("family", sorted(families.FAMILIES))
def test_every_family_default_is_valid(family):
  c = configs.get(family)
  assert c.family == family
  families.check_config(c)


def test_unknown_family_has_no_default():
  with pytest.raises(JaxgenError, match="no default config"):
    configs.get("flow")


def test_the_assignment_reader_follows_aliases():
  assert assigned_keys("ebm_toy2d")[:3] == ["data.name", "data.image_size", "data.range"]
  assert "model.langevin.kind" in assigned_keys("ebm_toy2d")
  assert assigned_keys("cgan_digits") == ["model.num_classes"]


def test_readme_quality_table_is_what_quality_py_prints():
  """The README's short quality table is `python benchmarks/quality.py --markdown` of the committed JSON."""
  import importlib.util
  spec = importlib.util.spec_from_file_location("quality", os.path.join(ROOT, "benchmarks", "quality.py"))
  quality = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(quality)
  with open(os.path.join(ROOT, "benchmarks", "results", "quality_cpu.json")) as f:
    table = quality.short_table(json.load(f)["results"])
  with open(os.path.join(ROOT, "README.md")) as f:
    assert table in f.read()
