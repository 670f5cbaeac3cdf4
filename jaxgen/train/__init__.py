"""The training loop and what it is built from (docs/design.md §6); `jaxgen.runtime.train` runs it for train.py."""
from jaxgen.train.actions import TrainingDiverged
from jaxgen.train.loop import Hooks, train

__all__ = ["Hooks", "TrainingDiverged", "train"]
