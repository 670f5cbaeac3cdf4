"""The generic training loop: `jaxgen.train.train(config, workdir)` (docs/design.md §6)."""
from jaxgen.train.loop import TrainingDiverged, init_state, load_config, save_config, train

__all__ = ["train", "init_state", "load_config", "save_config", "TrainingDiverged"]
