"""The family protocol: every registered family implements `jaxgen.families.Family` with the same part names and
signatures, and `check_config` validates a config once with one-line errors."""
import dataclasses
import importlib
import inspect

import pytest

from jaxgen import families
from jaxgen.errors import JaxgenError
from tests.conftest import load_config

PARTS = ("validate_config", "build_networks", "make_optimizer", "init", "train_step", "sample")
HOOKS = {"eval_step": ["state", "batch", "key"], "sample_outputs": ["state", "config", "key", "num", "options"],
         "save_figures": ["state", "config", "directory", "step"]}


def _params(fn, drop_self=False):
  names = [p.name for p in inspect.signature(fn).parameters.values()]
  return names[1:] if drop_self else names


@pytest.mark.parametrize("name", sorted(families.FAMILIES))
def test_family_implements_the_protocol(name):
  family = importlib.import_module(families.FAMILIES[name])
  assert isinstance(family, families.Family)
  assert families.get(name) is family
  for part in PARTS:
    assert _params(getattr(family, part)) == _params(getattr(families.Family, part), drop_self=True), part
  for hook, params in HOOKS.items():
    fn = getattr(family, hook)
    assert fn is None or (callable(fn) and _params(fn) == params), hook
  assert dataclasses.is_dataclass(family.HParams) and family.HParams.__dataclass_params__.frozen
  assert dataclasses.is_dataclass(family.State) and hasattr(family.State, "replace")   # flax.struct.dataclass
  assert getattr(family.State, "__dataclass_params__").frozen
  for keys in (family.LOSS_KEYS, family.SAMPLE_OPTIONS):
    assert isinstance(keys, tuple) and all(isinstance(k, str) for k in keys)


def test_check_config_returns_the_family():
  assert families.check_config(load_config("ddm_digits")) is families.get("diffusion")


@pytest.mark.parametrize("edit, match", [
    (lambda c: setattr(c, "family", "flow"), "family='flow' is not a known family"),
    (lambda c: c.model.__delitem__("schedule"), "'schedule' that the diffusion family needs"),
    (lambda c: setattr(c.data, "channels", 2), "data.channels=2"),
    (lambda c: setattr(c.model, "schedule", "square"), "model.schedule"),
])
def test_check_config_rejects_with_one_line(edit, match):
  c = load_config("ddm_digits")
  edit(c)
  with pytest.raises(JaxgenError, match=match) as e:
    families.check_config(c)
  assert "\n" not in str(e.value)
