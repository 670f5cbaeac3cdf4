"""Data sets as batches (docs/design.md §5: the `config.data.name` forms toy2d/<name>, digits, tfds/<name>,
folder:<path>, the preprocessing and the pipeline).

Batches are dicts {"x": float32 (B, H, W, C) in data.range or (B, 2) points, "label": int32 (B,)} with "label"
present exactly when `num_classes(config) > 0`. Names, shapes, classes and split loading live in
`jaxgen.data.catalog`; training batches in `jaxgen.data.pipeline`.
"""
from jaxgen.data import sources, toy2d
from jaxgen.data.catalog import (TFDS_NAMES, check_name, example_batch, example_shape, is_toy2d, load_split,
                                 num_classes, open_source, parse_name)
from jaxgen.data.pipeline import Pipeline


def make_pipeline(config, split: str = "train") -> Pipeline:
  """Deterministic batch source for the training loop; see `jaxgen.data.pipeline.Pipeline`."""
  return Pipeline(config, split)
