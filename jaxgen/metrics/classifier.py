"""A small CNN classifier trained by jaxgen itself, and the sample-quality metrics built on it (docs/design.md §11).

The "classifier Fréchet distance" below is FID with this CNN's penultimate layer in place of Inception's pool3,
trained on the real training split of the run's own data set, so it needs no downloaded weights; its numbers are
comparable between jaxgen runs on the same data set and image size, not with published FIDs. The metric functions
take any :class:`FeatureExtractor`. `digits` samples of every size are resized to 16x16 (`SCORING_SIZE`, the data
pipeline's bilinear resize) and scored by one classifier, so digits runs compare across image sizes.

Classifiers are deterministic from (data set, image size, channels, pad, seed) on a given machine, and cached in
`$JAXGEN_CACHE/classifiers/<key>/` (default `~/.cache/jaxgen`): flax msgpack plus `meta.json` (test accuracy).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Protocol, runtime_checkable

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from etils import epath

from jaxgen import data as jdata
from jaxgen import fileio
from jaxgen.config import base_config
from jaxgen.data.preprocess import resize_bilinear
from jaxgen.errors import JaxgenError
from jaxgen.metrics import frechet, manifold

ARCH_VERSION = 2          # bump when the architecture or the training recipe changes: invalidates the cache
WORK_SIZE = 32            # the CNN's working resolution; inputs of other sizes are resized bilinearly
SCORING_SIZE = {"digits": 16}   # data set -> the one image size its samples are scored at (see the module doc)
# Data sets whose generated samples the classifier metrics score (evaluate, the EBM buffer histogram).
CLASSIFIER_DATASETS = ("digits", "tfds/mnist", "tfds/fashion_mnist")


def scoring_size(dataset: str, image_size: int) -> int:
  """The image size of the classifier that scores `dataset` samples of size `image_size`."""
  return int(SCORING_SIZE.get(dataset, image_size))


@runtime_checkable
class FeatureExtractor(Protocol):
  """What the image metrics need from a feature network (jaxgen's CNN, or any other)."""

  name: str

  def features(self, images) -> np.ndarray:
    """images float32 (N, H, W, C) in [0, 1] -> features (N, D)."""

  def probabilities(self, images) -> np.ndarray:
    """images float32 (N, H, W, C) in [0, 1] -> class probabilities (N, num_classes)."""


class DigitsCNN(nn.Module):
  """Conv(16, s2) → Conv(32, s2) → Conv(64, s2) (ReLU, 3×3) → Dense(128) → Dense(classes).

  Input: NHWC in [0, 1] at any size/channel count; converted to grey (channel mean), resized to 32×32 and
  centred to [-1, 1]. `__call__` returns (logits (N, classes), features (N, 128)); the features are the
  post-ReLU penultimate activations used for the Fréchet distance.
  """
  num_classes: int = 10
  width: int = 16
  feature_dim: int = 128

  @nn.compact
  def __call__(self, x):
    x = jnp.mean(x, axis=-1, keepdims=True)
    if x.shape[1:3] != (WORK_SIZE, WORK_SIZE):
      x = jax.image.resize(x, (x.shape[0], WORK_SIZE, WORK_SIZE, 1), "bilinear")
    x = 2.0 * x - 1.0
    for mult in (1, 2, 4):                       # 32 -> 16 -> 8 -> 4
      x = nn.relu(nn.Conv(self.width * mult, (3, 3), strides=(2, 2))(x))
    x = x.reshape(x.shape[0], -1)
    h = nn.relu(nn.Dense(self.feature_dim)(x))
    return nn.Dense(self.num_classes)(h), h


@dataclasses.dataclass(frozen=True)
class ClassifierSpec:
  """Which data the classifier is trained on: the run's data settings (range is always [0, 1] here)."""
  dataset: str = "digits"
  image_size: int = 32
  channels: int = 1
  pad: int = 0
  seed: int = 0
  data_dir: str = ""

  @property
  def key(self) -> str:
    name = self.dataset.replace("/", "_").replace(":", "_")
    return f"{name}_{self.image_size}_c{self.channels}_p{self.pad}_s{self.seed}_v{ARCH_VERSION}"

  def data_config(self):
    c = base_config()
    c.data.name = self.dataset
    c.data.image_size = int(self.image_size)
    c.data.channels = int(self.channels)
    c.data.pad = int(self.pad)
    c.data.range = "unit"
    c.data.data_dir = self.data_dir
    return c


@dataclasses.dataclass
class Classifier:
  """A trained DigitsCNN with batched, jitted `logits`, `features` and `probabilities` (FeatureExtractor)."""
  spec: ClassifierSpec
  params: dict
  num_classes: int
  meta: dict
  batch_size: int = 500

  def __post_init__(self):
    self.module = DigitsCNN(num_classes=self.num_classes)
    self._apply = jax.jit(self.module.apply)

  @property
  def name(self) -> str:
    return f"jaxgen-cnn[{self.spec.key}]"

  @property
  def test_accuracy(self) -> float:
    return float(self.meta["test_accuracy"])

  def _run(self, images):
    x = np.asarray(images, np.float32)
    if x.ndim != 4:
      raise ValueError(f"images must be NHWC; got shape {x.shape}")
    x = self.to_scoring_size(x)
    logits, feats = [], []
    for i in range(0, x.shape[0], self.batch_size):
      chunk = x[i:i + self.batch_size]
      n = chunk.shape[0]
      if n < self.batch_size and x.shape[0] > self.batch_size:   # keep one compiled shape
        chunk = np.concatenate([chunk, np.zeros((self.batch_size - n,) + chunk.shape[1:], chunk.dtype)])
      lg, ft = self._apply({"params": self.params}, jnp.asarray(chunk))
      logits.append(np.asarray(lg)[:n])
      feats.append(np.asarray(ft)[:n])
    return np.concatenate(logits), np.concatenate(feats)

  def to_scoring_size(self, images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N, s, s, C) at the classifier's data size s, by the data pipeline's bilinear resize (the
    same function that makes the s x s training images from the source), unchanged when already s x s."""
    return resize_bilinear(images, self.spec.image_size)

  def logits(self, images) -> np.ndarray:
    return self._run(images)[0]

  def features(self, images) -> np.ndarray:
    return self._run(images)[1]

  def probabilities(self, images) -> np.ndarray:
    return np.asarray(jax.nn.softmax(self.logits(images), axis=-1))

  def outputs(self, images) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, C), features (N, D)) in one pass."""
    lg, ft = self._run(images)
    return np.asarray(jax.nn.softmax(lg, axis=-1)), ft


# ----------------------------------------------------------------------------------------------- training


def _train_steps(num_train: int, batch_size: int) -> int:
  """10 epochs, at least 600 steps (~27 epochs of digits) and at most 10,000: 10 epochs is what this small CNN
  needs for >= 99 % on MNIST and >= 90 % on Fashion-MNIST test images (docs/results.md, "Feature classifiers"),
  and the cap keeps a first training of a larger set to a few minutes on a CPU."""
  return int(min(max(600, 10 * num_train // batch_size), 10000))


def train_classifier(spec: ClassifierSpec, train: dict, test: dict, num_classes: int, batch_size: int = 64,
                     learning_rate: float = 1e-3, verbose: bool = False):
  """Trains DigitsCNN on `train` (dict x in [0,1] NHWC, label) deterministically from spec.seed.

  Adam with a cosine-decayed learning rate, data order from NumPy's PCG64 seeded with spec.seed, and random
  ±2-pixel translations (padding with the border) for robustness to slightly misplaced generated digits.
  Returns (params, meta) where meta records the held-out test accuracy.
  """
  t0 = time.time()
  x_train = np.asarray(train["x"], np.float32)
  y_train = np.asarray(train["label"], np.int32)
  model = DigitsCNN(num_classes=num_classes)
  params = model.init(jax.random.PRNGKey(spec.seed), jnp.zeros((1,) + x_train.shape[1:], jnp.float32))["params"]
  num_steps = _train_steps(x_train.shape[0], batch_size)
  tx = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps))
  opt_state = tx.init(params)
  shift = max(1, round(2 * x_train.shape[1] / WORK_SIZE))   # 2 px at the working resolution

  @jax.jit
  def step(params, opt_state, x, y, key):
    kx, ky = jax.random.split(key)
    dx = jax.random.randint(kx, (), -shift, shift + 1)
    dy = jax.random.randint(ky, (), -shift, shift + 1)
    padded = jnp.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
    x = jax.lax.dynamic_slice(padded, (0, shift + dy, shift + dx, 0), x.shape)

    def loss_fn(p):
      logits, _ = model.apply({"params": p}, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  rng = np.random.default_rng(spec.seed)
  n = x_train.shape[0]
  order = np.empty(0, np.int64)
  key = jax.random.PRNGKey(spec.seed + 1)
  loss = float("nan")
  for s in range(num_steps):
    if order.size < batch_size:
      order = np.concatenate([order, rng.permutation(n)])
    idx, order = order[:batch_size], order[batch_size:]
    params, opt_state, loss = step(params, opt_state, x_train[idx], y_train[idx], jax.random.fold_in(key, s))
    if verbose and (s + 1) % 300 == 0:
      print(f"  classifier step {s + 1}/{num_steps}: loss {float(loss):.4f}", flush=True)
  clf = Classifier(spec, params, num_classes, meta={"test_accuracy": float("nan")})
  probs = clf.probabilities(test["x"])
  accuracy = float(np.mean(probs.argmax(-1) == np.asarray(test["label"])))
  meta = {
      "spec": dataclasses.asdict(spec), "arch_version": ARCH_VERSION, "num_classes": int(num_classes),
      "num_train": int(n), "num_test": int(len(test["label"])), "num_steps": num_steps,
      "batch_size": batch_size, "final_train_loss": float(loss), "test_accuracy": accuracy,
      "train_seconds": round(time.time() - t0, 2), "jax_version": jax.__version__,
  }
  return params, meta


def cache_dir() -> str:
  """$JAXGEN_CACHE or ~/.cache/jaxgen."""
  return os.environ.get("JAXGEN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "jaxgen")


def get_classifier(dataset: str = "digits", image_size: int = 32, channels: int = 1, seed: int = 0,
                   pad: int = 0, data_dir: str = "", retrain: bool = False, verbose: bool = False) -> Classifier:
  """The feature classifier for a data set's samples of an image size (its own size: `scoring_size`), trained on
  first use on the "train" split (range [0, 1]) and cached on disk; meta["test_accuracy"] is on the "test" split."""
  spec = ClassifierSpec(dataset, scoring_size(dataset, image_size), int(channels), int(pad), int(seed), data_dir)
  directory = os.path.join(cache_dir(), "classifiers", spec.key)
  params_path = os.path.join(directory, "params.msgpack")
  meta_path = os.path.join(directory, "meta.json")
  if not retrain and os.path.exists(params_path) and os.path.exists(meta_path):
    with open(meta_path) as f:
      meta = json.load(f)
    num_classes = int(meta["num_classes"])
    template = DigitsCNN(num_classes=num_classes).init(
        jax.random.PRNGKey(0), jnp.zeros((1, spec.image_size, spec.image_size, spec.channels)))["params"]
    with open(params_path, "rb") as f:
      params = flax.serialization.from_bytes(template, f.read())
    return Classifier(spec, params, num_classes, meta)
  config = spec.data_config()
  num_classes = jdata.num_classes(config)
  if num_classes <= 0:
    raise JaxgenError(f"data.name={dataset!r} has no labels; the feature classifier needs a labelled data set "
                      "(digits, tfds/mnist, tfds/fashion_mnist, ...).")
  if verbose:
    print(f"Training the feature classifier {spec.key} (cached under {directory}) ...", flush=True)
  train = jdata.load_split(config, "train")
  test = jdata.load_split(config, "test")
  params, meta = train_classifier(spec, train, test, num_classes, verbose=verbose)
  os.makedirs(directory, exist_ok=True)
  weights = flax.serialization.to_bytes(params)
  fileio.atomic_write(params_path, lambda tmp: epath.Path(tmp).write_bytes(weights))
  fileio.atomic_write(meta_path, lambda tmp: epath.Path(tmp).write_text(json.dumps(meta, indent=2)))
  if verbose:
    print(f"  test accuracy {meta['test_accuracy']:.4f} ({meta['train_seconds']} s)", flush=True)
  return Classifier(spec, params, num_classes, meta)


# ------------------------------------------------------------------------------------------------ metrics


def confidence(probs, threshold: float = 0.9) -> float:
  """Fraction of samples whose largest class probability exceeds `threshold` (recognisable samples)."""
  p = np.asarray(probs)
  return float(np.mean(p.max(-1) > threshold))


def label_histogram(probs, num_classes: int | None = None) -> np.ndarray:
  """Normalised histogram (C,) of the predicted (argmax) labels."""
  p = np.asarray(probs)
  counts = np.bincount(p.argmax(-1), minlength=num_classes or p.shape[-1]).astype(np.float64)
  return counts / counts.sum()


def label_entropy(probs) -> float:
  """Entropy (nats) of the predicted-label histogram: log C for a sampler that makes every class equally often,
  0 when it always makes the same class (diversity across classes; mode collapse lowers it)."""
  h = label_histogram(probs)
  nz = h > 0
  return float(-np.sum(h[nz] * np.log(h[nz])))


def label_accuracy(probs, labels) -> float:
  """Fraction of samples the classifier assigns to the label the conditional model was asked for."""
  return float(np.mean(np.asarray(probs).argmax(-1) == np.asarray(labels)))


def image_metrics(extractor: FeatureExtractor, images, real_images, labels=None, real_stats=None,
                  precision_recall_reference=None, k: int = 3) -> dict:
  """The classifier metrics of generated `images` against held-out `real_images` (both NHWC in [0, 1]).

  Returns {"fd": classifier-feature Fréchet distance, "confidence": fraction with max prob > 0.9,
  "label_entropy": nats (max log C), "max_label_entropy": log C, and "label_accuracy" when `labels` (the asked-for
  class per image) is given}. `real_stats` = (mu, cov) skips recomputing the real features. With
  `precision_recall_reference` (real features (R, D), R comparable to N: the k-NN radii depend on the set size)
  also "precision" and "recall" in [0, 1] (`metrics.manifold`, k nearest neighbours), NaN when N or R <= k.
  """
  if hasattr(extractor, "outputs"):
    probs, feats = extractor.outputs(images)
  else:
    probs, feats = extractor.probabilities(images), extractor.features(images)
  if real_stats is None:
    real_stats = frechet.feature_statistics(extractor.features(real_images))
  out = {
      "fd": frechet.frechet_distance(*frechet.feature_statistics(feats), *real_stats),
      "confidence": confidence(probs),
      "label_entropy": label_entropy(probs),
      "max_label_entropy": float(math.log(probs.shape[-1])),
  }
  if labels is not None:
    out["label_accuracy"] = label_accuracy(probs, labels)
  if precision_recall_reference is not None:
    ref = np.asarray(precision_recall_reference)
    if min(ref.shape[0], feats.shape[0]) > k:
      out["precision"], out["recall"] = manifold.precision_recall(ref, feats, k=k)
    else:
      out["precision"] = out["recall"] = float("nan")
  return out
