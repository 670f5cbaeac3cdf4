"""Data sets as batches (docs/design.md §5).

`config.data.name` is one of
  toy2d/<name>    8gaussians, 25gaussians, swissroll, moons, checkerboard, rings: 2-D points sampled in JAX from a
                  key (an infinite stream; see `jaxgen.data.toy2d` for the constants).
  digits          scikit-learn's bundled 8x8 digits (1,797 images, labels 0-9), fixed 1437/360 train/test split.
  tfds/<name>     mnist, fashion_mnist, cifar10, celeb_a, oxford_flowers102 through `tfds.data_source`
                  (array_record files prepared once; see `jaxgen.data.tfds_source`).
  folder:<path>   every PNG/JPEG under <path> (recursively), fixed 90/10 train/test split; labelled by
                  first-level sub-folder when data.label = "subfolder".

Images are preprocessed by `jaxgen.data.preprocess` (to [0,1] -> pad -> bilinear squash to data.image_size ->
channels -> data.range) into float32 NHWC. Batches are dicts {"x": float32, "label": int32 (B,)} with "label"
present exactly when `num_classes(config) > 0`.

Names, shapes, classes and split loading live in `jaxgen.data.catalog`; training batches in `jaxgen.data.pipeline`.
"""
from jaxgen.data import sources, toy2d
from jaxgen.data.catalog import (TFDS_NAMES, check_name, example_batch, example_shape, is_toy2d, load_split,
                                 num_classes, open_source, parse_name)
from jaxgen.data.pipeline import Pipeline


def make_pipeline(config, split: str = "train") -> Pipeline:
  """Deterministic batch source for the training loop; see `jaxgen.data.pipeline.Pipeline`."""
  return Pipeline(config, split)
