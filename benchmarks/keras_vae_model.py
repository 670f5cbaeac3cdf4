"""The reference VAE of notebook 03_vae/02_vae_fashion (docs/reference.md §2) in Keras 3 (TensorFlow backend),
trained on Fashion-MNIST read from the IDX .gz files: the Keras side of benchmarks/vae_keras.py.

  /work/keras-venv/bin/python benchmarks/keras_vae_model.py --data=DIR [--epochs=5] [--limit=N] [--seed=0]

Runs in a separate environment with Keras (it imports only the standard library, NumPy and TensorFlow/Keras;
TensorFlow only inside `main`, so the helpers load without it). Trains with `fit` as the notebook does (batch
100, shuffled, no validation during fit), then scores the test images with the notebook's `test_step`.
Prints one JSON object on stdout (progress goes to stderr): versions, parameter counts, per-epoch wall
seconds and the epoch means fit reports (total_loss, reconstruction_loss = BETA·mean-BCE, kl_loss), the
test-set means (all 10,000 images), fingerprints of the training and test files (all images, whatever --limit)
and the loss probe (`probe_arrays`).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import sys
import time

import numpy as np

IMAGE_SIZE = 32
CHANNELS = 1
BATCH_SIZE = 100
EMBEDDING_DIM = 2
EPOCHS = 5
BETA = 500
LEARNING_RATE = 0.0005

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FILES = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}


def read_idx(path: str) -> np.ndarray:
  """An IDX file (gzip-compressed when the name ends in .gz): magic 0x0000 TTDD, D big-endian uint32 sizes, data."""
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    raw = f.read()
  if raw[:2] != b"\x00\x00" or raw[2] not in IDX_DTYPES:
    raise ValueError(f"{path}: not an IDX file (magic {raw[:4].hex()})")
  ndim = raw[3]
  dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
  data = np.frombuffer(raw, IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
  if data.size != int(np.prod(dims)):
    raise ValueError(f"{path}: {data.size} values for dims {dims}")
  return data.reshape(dims)


def preprocess(imgs: np.ndarray) -> np.ndarray:
  """The notebook's `preprocess`: /255 to float32, zero-pad 28 -> 32, add the channel axis."""
  imgs = imgs.astype("float32") / 255.0
  imgs = np.pad(imgs, ((0, 0), (2, 2), (2, 2)), constant_values=0.0)
  return np.expand_dims(imgs, -1)


def load_split(data_dir: str, split: str, limit: int = 0) -> np.ndarray:
  """Preprocessed images (N, 32, 32, 1) of "train" or "test"; the first `limit` images when limit > 0."""
  imgs = read_idx(os.path.join(data_dir, FILES[split]))
  return preprocess(imgs[:limit] if limit else imgs)


def data_fingerprint(x: np.ndarray, chunk: int = 5000) -> dict:
  """Order-free summary of a set of images in [0, 1]: count, pixel mean, and the SHA-1 of the sorted per-image
  sums of the 0..255 pixel values (equal for the same images in any order)."""
  sums = np.concatenate([np.rint(np.asarray(x[i:i + chunk], np.float64).reshape(len(x[i:i + chunk]), -1) * 255.0)
                         .sum(axis=1) for i in range(0, len(x), chunk)]).astype(np.int64)
  pixels = int(np.prod(x.shape[1:]))
  return {"n": int(len(x)), "pixel_mean": float(sums.sum() / 255.0 / (len(x) * pixels)),
          "sha1_sorted_sums": hashlib.sha1(np.sort(sums).tobytes()).hexdigest()}


def probe_arrays(seed: int = 0, batch: int = 8) -> dict:
  """Fixed inputs for comparing the loss definitions of both sides: images x in [0, 1] (some exactly 0 and 1,
  as the padded border and saturated pixels are), decoder logits, z_mean and z_log_var."""
  rng = np.random.default_rng(seed)
  x = rng.uniform(0, 1, (batch, IMAGE_SIZE, IMAGE_SIZE, CHANNELS)).astype(np.float32)
  x[:, :2] = 0.0
  x[:, -2:] = 1.0
  logits = rng.normal(0, 3, x.shape).astype(np.float32)
  mean = rng.normal(0, 1, (batch, EMBEDDING_DIM)).astype(np.float32)
  logvar = rng.normal(0, 1, (batch, EMBEDDING_DIM)).astype(np.float32)
  return {"x": x, "logits": logits, "mean": mean, "logvar": logvar}


# --------------------------------------------------------------------------------------------------------------
# Keras (imported inside the functions below).


def build(seed: int):
  """(encoder, decoder, vae) as the notebook builds them, in the Keras 3 API."""
  import keras
  import tensorflow as tf
  from keras import layers, losses, metrics, models, ops

  class Sampling(layers.Layer):
    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
      z_mean, z_log_var = inputs
      epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
      return z_mean + ops.exp(0.5 * z_log_var) * epsilon

  encoder_input = layers.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, CHANNELS), name="encoder_input")
  x = layers.Conv2D(32, (3, 3), strides=2, activation="relu", padding="same")(encoder_input)
  x = layers.Conv2D(64, (3, 3), strides=2, activation="relu", padding="same")(x)
  x = layers.Conv2D(128, (3, 3), strides=2, activation="relu", padding="same")(x)
  shape_before_flattening = tuple(x.shape[1:])
  x = layers.Flatten()(x)
  z_mean = layers.Dense(EMBEDDING_DIM, name="z_mean")(x)
  z_log_var = layers.Dense(EMBEDDING_DIM, name="z_log_var")(x)
  z = Sampling()([z_mean, z_log_var])
  encoder = models.Model(encoder_input, [z_mean, z_log_var, z], name="encoder")

  decoder_input = layers.Input(shape=(EMBEDDING_DIM,), name="decoder_input")
  x = layers.Dense(int(np.prod(shape_before_flattening)))(decoder_input)
  x = layers.Reshape(shape_before_flattening)(x)
  x = layers.Conv2DTranspose(128, (3, 3), strides=2, activation="relu", padding="same")(x)
  x = layers.Conv2DTranspose(64, (3, 3), strides=2, activation="relu", padding="same")(x)
  x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
  decoder_output = layers.Conv2D(CHANNELS, (3, 3), strides=1, activation="sigmoid", padding="same",
                                 name="decoder_output")(x)
  decoder = models.Model(decoder_input, decoder_output, name="decoder")

  class VAE(models.Model):
    def __init__(self, encoder, decoder, **kwargs):
      super().__init__(**kwargs)
      self.encoder = encoder
      self.decoder = decoder
      self.total_loss_tracker = metrics.Mean(name="total_loss")
      self.reconstruction_loss_tracker = metrics.Mean(name="reconstruction_loss")
      self.kl_loss_tracker = metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
      return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, inputs):
      z_mean, z_log_var, z = self.encoder(inputs)
      reconstruction = self.decoder(z)
      return z_mean, z_log_var, reconstruction

    def train_step(self, data):
      if isinstance(data, tuple):  # Keras 3 may hand fit's x over as a 1-tuple
        data = data[0]
      with tf.GradientTape() as tape:
        z_mean, z_log_var, reconstruction = self(data)
        reconstruction_loss = tf.reduce_mean(
            BETA * losses.binary_crossentropy(data, reconstruction, axis=(1, 2, 3)))
        kl_loss = tf.reduce_mean(tf.reduce_sum(
            -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var)), axis=1))
        total_loss = reconstruction_loss + kl_loss
      grads = tape.gradient(total_loss, self.trainable_weights)
      self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
      self.total_loss_tracker.update_state(total_loss)
      self.reconstruction_loss_tracker.update_state(reconstruction_loss)
      self.kl_loss_tracker.update_state(kl_loss)
      return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
      if isinstance(data, tuple):
        data = data[0]
      z_mean, z_log_var, reconstruction = self(data)
      reconstruction_loss = tf.reduce_mean(
          BETA * losses.binary_crossentropy(data, reconstruction, axis=(1, 2, 3)))
      kl_loss = tf.reduce_mean(tf.reduce_sum(
          -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var)), axis=1))
      total_loss = reconstruction_loss + kl_loss
      return {"loss": total_loss, "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}

  vae = VAE(encoder, decoder)
  vae.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE))
  return encoder, decoder, vae


def probe_losses(arrays: dict) -> dict:
  """The notebook's loss formulas on `probe_arrays`, the decoder output being Keras' sigmoid of the logits, in a
  tf.function as in fit (graph mode: where Keras keeps the logits of a sigmoid output, the BCE uses them)."""
  import keras
  import tensorflow as tf
  from keras import losses

  @tf.function
  def f(x, logits, z_mean, z_log_var):
    reconstruction = keras.activations.sigmoid(logits)
    reconstruction_loss = tf.reduce_mean(BETA * losses.binary_crossentropy(x, reconstruction, axis=(1, 2, 3)))
    kl_loss = tf.reduce_mean(tf.reduce_sum(-0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var)), axis=1))
    return {"total_loss": reconstruction_loss + kl_loss, "reconstruction_loss": reconstruction_loss,
            "kl_loss": kl_loss}

  out = f(*(tf.constant(arrays[k]) for k in ("x", "logits", "mean", "logvar")))
  return {k: float(v) for k, v in out.items()}


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--data", required=True, help="folder with train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz")
  p.add_argument("--epochs", type=int, default=EPOCHS)
  p.add_argument("--limit", type=int, default=0, help="train on the first N training images (0: all 60,000)")
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args(argv)

  t_start = time.perf_counter()
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import keras
  import tensorflow as tf
  t_import = time.perf_counter() - t_start

  keras.utils.set_random_seed(args.seed)
  x_train = load_split(args.data, "train", args.limit)
  x_test = load_split(args.data, "test")
  encoder, decoder, vae = build(args.seed)

  epochs = []

  class EpochLog(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
      self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
      rec = {"epoch": epoch + 1, "wall_s": time.perf_counter() - self.t0,
             **{k: float(v) for k, v in (logs or {}).items()}}
      epochs.append(rec)
      print("keras epoch {epoch}: {wall_s:.1f}s total_loss={total_loss:.4f} reconstruction_loss="
            "{reconstruction_loss:.4f} kl_loss={kl_loss:.4f}".format(**rec), file=sys.stderr, flush=True)

  t0 = time.perf_counter()
  vae.fit(x_train, epochs=args.epochs, batch_size=BATCH_SIZE, shuffle=True, verbose=0, callbacks=[EpochLog()])
  fit_s = time.perf_counter() - t0

  t0 = time.perf_counter()
  test_step = tf.function(vae.test_step)
  sums, n = {}, 0
  for i in range(0, len(x_test) - BATCH_SIZE + 1, BATCH_SIZE):
    out = test_step(tf.constant(x_test[i:i + BATCH_SIZE]))
    for k, v in out.items():
      sums[k] = sums.get(k, 0.0) + float(v)
    n += 1
  test = {("total_loss" if k == "loss" else k): v / n for k, v in sums.items()}
  test.update(batches=n, wall_s=time.perf_counter() - t0)

  report = {
      "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                   "numpy": np.__version__, "backend": keras.backend.backend()},
      "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                  "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
      "params": {"encoder": int(encoder.count_params()), "decoder": int(decoder.count_params())},
      "train_images": int(len(x_train)), "steps_per_epoch": int(np.ceil(len(x_train) / BATCH_SIZE)),
      "epochs": epochs, "test": test, "fit_s": fit_s, "import_s": t_import,
      "total_s": time.perf_counter() - t_start,
      "data": {"train": data_fingerprint(x_train if not args.limit else load_split(args.data, "train")),
               "test": data_fingerprint(x_test)},
      "probe": probe_losses(probe_arrays()),
  }
  print(json.dumps(report))
  return 0


if __name__ == "__main__":
  sys.exit(main())
