"""The config schema: overrides are checked against the config file's own keys and types, old names get a hint."""
import pytest

from jaxgen import config as config_lib, families
from jaxgen.errors import JaxgenError
from tests.conftest import load_config


def test_overrides_of_existing_keys_and_types_pass():
  c = load_config("ddm_digits")
  config_lib.check_overrides(c, {"train.num_steps": "300", "model.ema_decay": "0.99", "model.widths": "(8, 16)",
                                 "model.ema_warmup": "false", "data.name": "toy2d/moons", "optim.learning_rate": "1"})


@pytest.mark.parametrize("key, text, needle", [
    ("train.num_stepz", "3", "did you mean 'train.num_steps'"),
    ("model.ema", "0.9", "did you mean 'model.ema_decay'"),            # renamed key
    ("optim.lr", "1e-3", "did you mean 'optim.learning_rate'"),
    ("train.num_steps", "abc", "expected an integer"),
    ("model.ema_decay", "high", "expected a number"),
    ("model.ema_warmup", "maybe", "expected true or false"),
    ("model.widths", "wide", "expected a tuple"),
])
def test_bad_overrides_name_the_key_and_what_is_allowed(key, text, needle):
  with pytest.raises(JaxgenError) as e:
    config_lib.check_overrides(load_config("ddm_digits"), {key: text})
  assert needle in str(e.value) and key in str(e.value)


def test_renamed_keys_are_gone_from_every_config():
  import glob, os
  from tests.conftest import ROOT
  for path in glob.glob(os.path.join(ROOT, "configs", "*.py")):
    keys = config_lib.flat_keys(load_config(os.path.basename(path)[:-3]))
    stale = [old for old in config_lib.RENAMED_KEYS if old in keys]
    assert not stale, (path, stale)


def test_recorded_config_of_an_earlier_version_upgrades_to_todays_names():
  recorded = {"family": "diffusion", "model": {"ema": 0.99, "widths": [4, 8]}, "optim": {"lr": 0.5}}
  up = config_lib.upgrade_recorded(recorded)
  assert up["model"]["ema_decay"] == 0.99 and "ema" not in up["model"]
  assert up["optim"]["learning_rate"] == 0.5 and "lr" not in up["optim"]
  assert up["model"]["dtype"] == "float32" and up["model"]["widths"] == [4, 8]   # added shared keys, kept values
  assert recorded["model"]["ema"] == 0.99                                           # the input is not modified


def test_a_config_missing_a_family_key_is_one_clear_error():
  c = load_config("ddm_digits")
  del c.model["schedule"]
  with pytest.raises(JaxgenError, match="'schedule' that the diffusion family needs"):
    families.check_config(c)
