"""Scores a trained run with the offline metrics that fit its family and data set.

  python -m jaxgen.evaluate --workdir=runs/vae_digits [--num=1000] [--json=FILE] [--seed=0] [--iwae_k=100]
                            [--steps=K]   # sampler steps for EBM/diffusion runs
                            [--dot_steps=N]   # GANs: 0 scores the generator without config.sample's DOT
                            [--overwrite]     # replace an existing result instead of writing a new file
                            [--sampler=NAME] [--guidance=W]   # diffusion sampler / classifier-free guidance
                            [--nfe=5,10,20,50,100]   # diffusion: quality vs NFE per sampler (curve PNG + JSON)

What is measured depends on the run (`plan`; docs/design.md §11): toy 2-D mode metrics, classifier-feature
Fréchet distance / confidence / label entropy (/ label accuracy) / k-NN precision and recall beside their real
floors ("*_real": as many real training images scored the same way), the VAE's importance-weighted likelihood
bound, and Inception FID/KID where its weights are cached. The table gives each number with whether lower or
higher is better and the samples it rests on, and says how the samples were drawn (for a GAN whose config.sample
has dot_steps > 0: moved by discriminator optimal transport, DOT, after the generator).

The numbers are written as JSON ("metrics", and per metric "measured_on" and "better"; "sampling"), never over an
earlier result: by default to <workdir>/evaluate.json, or, when that exists, to the first free evaluate_2.json,
evaluate_3.json, ...; an existing --json=FILE is refused. --overwrite replaces the file instead. The last line names
the file written.

Several processes (the hosts of a TPU slice or GPU cluster, as train.py): the same command on every host with
--jax_distributed or --coordinator_address/--num_processes/--process_id; every process computes the metrics,
process 0 alone prints and writes the JSON.
"""
from __future__ import annotations

import json
import math
import os
import time

from absl import flags, logging

from jaxgen import cli
from jaxgen.configs import sample_options as options_lib
from jaxgen.errors import JaxgenError


def _define_flags():
  if "iwae_k" in flags.FLAGS:  # defined already (by cli.start)
    return
  flags.DEFINE_string("workdir", None, "A work directory written by train.py.")
  flags.DEFINE_integer("num", None, "Samples to score (default 2500 for toy2d, 1000 for images).")
  flags.DEFINE_string("json", None, "Where to write the metrics (default <workdir>/evaluate.json, or the first free "
                      "evaluate_N.json when it exists). An existing file is replaced only with --overwrite.")
  flags.DEFINE_bool("overwrite", False, "Replace an existing --json file (or <workdir>/evaluate.json) instead of "
                    "refusing it (or writing evaluate_N.json).")
  flags.DEFINE_integer("seed", 0, "Sampling seed.")
  flags.DEFINE_integer("step", None, "Checkpoint step to load (default: the latest).")
  flags.DEFINE_integer("steps", None, "Sampler steps (EBM Langevin / diffusion), overriding config.sample.steps.")
  flags.DEFINE_integer("dot_steps", None, "GANs: discriminator optimal transport steps, overriding "
                       "config.sample.dot_steps (0: score the generator's own samples).")
  flags.DEFINE_integer("iwae_k", 100, "Importance samples K of the VAE likelihood bound (K=1: the ELBO).")
  flags.DEFINE_string("sampler", None, "Diffusion: ddim, ddpm, dpm_solver_2m or heun, overriding config.sample.")
  flags.DEFINE_float("guidance", None, "Class-conditional diffusion: guidance weight w, overriding config.sample.")
  flags.DEFINE_string("nfe", None, "Diffusion: score every sampler at these network-evaluation budgets, e.g. "
                      "5,10,20,50,100; writes a curve PNG and JSON (default <workdir>/quality_vs_nfe.json).")
  cli.define_distributed_flags()


def _command_line_options() -> dict:
  """The sample options set on the command line (--steps, --dot_steps, --sampler, --guidance)."""
  f = flags.FLAGS
  return {name: f[name].value for name in ("steps", "dot_steps", "sampler", "guidance") if f[name].value is not None}


def _describe_result(path: str) -> str:
  """'step 2000, dot_steps=0' for an earlier evaluate JSON: its step, command-line sample options and DOT."""
  try:
    with open(path) as f:
      old = json.load(f)
    options = "".join(f", {k}={v}" for k, v in sorted(old.get("sample_options", {}).items()))
    dot = (old.get("sampling") or {}).get("dot")
    return f"step {old['step']}{options}" + (f", moved by DOT ({dot['steps']} steps)" if dot else "")
  except (OSError, ValueError, KeyError, TypeError, AttributeError):
    return "not a result jaxgen.evaluate can read"


def output_path(json_flag: str | None, workdir: str, overwrite: bool) -> tuple[str, str]:
  """(where the JSON goes, what that means for an earlier file: "" or a note for the last line). An earlier result
  is never replaced without --overwrite: the default <workdir>/evaluate.json moves on to the first free
  evaluate_N.json (N = 2, 3, ...), an existing --json=FILE is a JaxgenError."""
  if json_flag:
    if not os.path.exists(json_flag):
      return json_flag, ""
    if not overwrite:
      raise JaxgenError(f"--json={json_flag!r} exists (an earlier result: {_describe_result(json_flag)}); pass "
                        "--overwrite to replace it, or another --json.")
    return json_flag, f"replaced the earlier result ({_describe_result(json_flag)}): --overwrite"
  first = os.path.join(workdir, "evaluate.json")
  if not os.path.exists(first):
    return first, ""
  if overwrite:
    return first, f"replaced the earlier result ({_describe_result(first)}): --overwrite"
  n = 2
  while os.path.exists(os.path.join(workdir, f"evaluate_{n}.json")):
    n += 1
  return (os.path.join(workdir, f"evaluate_{n}.json"),
          f"a new file: {first} ({_describe_result(first)}) is kept; --overwrite would replace it")


def write_result(result: dict, path: str, overwrite: bool) -> None:
  """Writes `result` as JSON to `path`; without `overwrite` only as a new file (a file that appeared since
  `output_path` chose the name is an error, not replaced)."""
  with open(path, "w" if overwrite else "x") as f:
    json.dump(result, f, indent=2)


def _check_flags(argv) -> None:
  """JaxgenError for arguments that are not flags, a missing --workdir, --num < 2 or --iwae_k < 1."""
  f = flags.FLAGS
  if len(argv) > 1:
    raise JaxgenError(f"unexpected arguments {argv[1:]!r}; use --flag=value (see --help).")
  if not f.workdir:
    raise JaxgenError("--workdir is required: a directory written by train.py.")
  if f.num is not None and f.num < 2:
    raise JaxgenError(f"--num={f.num} must be an integer >= 2.")
  if f.iwae_k < 1:
    raise JaxgenError(f"--iwae_k={f.iwae_k} must be a positive integer.")


def _early_checks(argv) -> None:
  """What the flags, config.json and the files show, before JAX loads: a bad flag, a missing workdir, an option
  the run's family does not take, an existing --json without --overwrite."""
  f = flags.FLAGS
  _check_flags(argv)
  options_lib.check_sample(cli.recorded_family(f.workdir), _command_line_options())
  output_path(f.json, f.workdir, f.overwrite)


if __name__ == "__main__":  # --help and the early checks answer here, before the imports below load JAX
  cli.start("python -m jaxgen.evaluate", _define_flags, _early_checks)

import jax  # the imports that load JAX come after the early --help above, on purpose
import numpy as np

from jaxgen import data as jdata
from jaxgen.data.pipeline import Pipeline
from jaxgen.metrics import classifier as clf_lib
from jaxgen.metrics.classifier import CLASSIFIER_DATASETS
from jaxgen.metrics import frechet, inception, likelihood, nfe_curve, toy2d
from jaxgen.run import load
from jaxgen.train import collectives

SAMPLE_BATCH = 250
PRECISION_RECALL_K = 3      # Kynkäänniemi et al. 2019's neighbourhood size


def _model_classes(config) -> int:
  model = config.get("model", None)
  return int(model.get("num_classes", 0) or 0) if model is not None else 0


def plan(config) -> list[str]:
  """The metric groups that fit a run: any of "toy2d", "classifier", "likelihood"."""
  groups = []
  if jdata.is_toy2d(config):
    groups.append("toy2d")
  elif config.data.name in CLASSIFIER_DATASETS:
    groups.append("classifier")
  if config.family == "vae" and not jdata.is_toy2d(config):
    groups.append("likelihood")
  if inception_applies(config):
    groups.append("inception")
  return groups


def inception_applies(config) -> bool:
  """3-channel image data and the FID Inception weights in the cache (jaxgen.metrics.inception.weights_path)."""
  return (not jdata.is_toy2d(config) and int(config.data.get("channels", 0) or 0) == 3
          and inception.weights_available())


def inception_metrics(run, key, num: int, options: dict | None = None, kid_subset: int = 1000) -> dict:
  """Inception FID and KID (mean, std over 100 subsets of min(kid_subset, num)) of `num` samples against `num`
  real images of the test split (a seeded permutation, read batch by batch), in [0, 1] at the data's size."""
  extractor = inception.InceptionExtractor()
  d = run.config.data
  fake = extractor.features(_to_unit(sample_in_batches(run, key, num, **(options or {})), d.range))
  pipe, real, step = Pipeline(run.config, "test"), [], 0
  try:
    while sum(r.shape[0] for r in real) < num:
      real.append(extractor.features(_to_unit(pipe.batch(step)["x"], d.range)))
      step += 1
  finally:
    pipe.close()
  real = np.concatenate(real)[:num]
  kid, kid_std = frechet.kernel_inception_distance(fake, real, num_subsets=100, subset_size=kid_subset)
  return {"inception_fid": frechet.frechet_distance_from_features(fake, real), "inception_kid": kid,
          "inception_kid_std": kid_std, "inception_num_real": int(real.shape[0])}


def sample_in_batches(run, key, num: int, batch: int = SAMPLE_BATCH, **options) -> np.ndarray:
  """`num` samples drawn `batch` at a time (fold_in(key, i) for batch i), concatenated."""
  out = []
  for i, start in enumerate(range(0, num, batch)):
    n = min(batch, num - start)
    out.append(np.asarray(run.sample(jax.random.fold_in(key, i), n, **options), np.float32))
  return np.concatenate(out)


def _to_unit(x, data_range: str) -> np.ndarray:
  x = np.asarray(x, np.float32)
  return (x + 1.0) / 2.0 if data_range == "symmetric" else x


def toy2d_metrics(run, key, num: int, options: dict | None = None) -> dict:
  k_sample, k_ref = jax.random.split(key)
  samples = sample_in_batches(run, k_sample, num, batch=max(num, 1), **(options or {}))
  return toy2d.toy_metrics(samples, run.config.data.name, key=k_ref)


def _seeded_subset(x: np.ndarray, num: int, seed: int = 0) -> np.ndarray:
  """min(num, len(x)) rows of x drawn without replacement by NumPy's PCG64 seeded with `seed` (all of x, in
  order, when num >= len(x)), so every run and the floor see the same reference images."""
  if num >= x.shape[0]:
    return x
  return x[np.sort(np.random.default_rng(seed).choice(x.shape[0], num, replace=False))]


def classifier_metrics(run, key, num: int, verbose: bool = False, options: dict | None = None,
                       k: int = PRECISION_RECALL_K) -> tuple[dict, dict]:
  """(metrics, classifier info) of `num` samples in the classifier's features.

  References, all from the real test split: `fd` compares against the statistics of the whole split (the best
  estimate of the real distribution); `precision` / `recall` (k-NN manifolds, `metrics.manifold`, k = 3) against
  min(num, num_test) test images drawn with seed 0, because the k-NN radii grow as a set gets sparser and the
  paper compares equal numbers of real and generated points. The floor of every metric ("fd_real",
  "confidence_real", "precision_real", "recall_real") scores min(num, num_train) real TRAINING images (seed 0)
  exactly as the samples, against the same references: what a perfect sampler would get at this N. Training
  images, not half of the test split, because the test split's halves differ (MNIST's come from different
  writers). Precision and recall are NaN (None in the JSON) when a set has no k-th neighbour (num <= k).
  """
  d = run.config.data
  clf = clf_lib.get_classifier(d.name, image_size=d.image_size, channels=d.channels, pad=d.get("pad", 0),
                               data_dir=d.get("data_dir", "") or "", seed=0, verbose=verbose)
  real_cfg = clf.spec.data_config()
  test = jdata.load_split(real_cfg, "test")
  test_feats = clf.features(test["x"])
  real_stats = frechet.feature_statistics(test_feats)
  pr_ref = _seeded_subset(test_feats, num)
  n_classes = _model_classes(run.config)
  t0 = time.time()
  if n_classes > 0:
    per_class = -(-num // n_classes)
    images, labels = [], []
    for c in range(n_classes):
      images.append(sample_in_batches(run, jax.random.fold_in(key, c), per_class, **{**(options or {}), "label": c}))
      labels.append(np.full(per_class, c, np.int32))
    images, labels = np.concatenate(images)[:num], np.concatenate(labels)[:num]
  else:
    images, labels = sample_in_batches(run, key, num, **(options or {})), None
  sample_seconds = time.time() - t0
  if images.shape[1:3] != (d.image_size, d.image_size):
    raise ValueError(f"samples have shape {images.shape[1:]}, the config's data.image_size is {d.image_size}")
  metrics = clf_lib.image_metrics(clf, images, test["x"], labels=labels, real_stats=real_stats,
                                  precision_recall_reference=pr_ref, k=k)
  train = jdata.load_split(real_cfg, "train")
  floor_images = _seeded_subset(train["x"], num)
  real = clf_lib.image_metrics(clf, floor_images, test["x"], real_stats=real_stats,
                               precision_recall_reference=pr_ref, k=k)
  for name in ("fd", "confidence", "precision", "recall"):
    metrics[f"{name}_real"] = real[name]
  metrics["sample_seconds"] = sample_seconds
  info = {"name": clf.name, "test_accuracy": clf.test_accuracy, "num_test": int(test["x"].shape[0]),
          "num_real_for_fd_real": int(floor_images.shape[0]), "num_samples": int(images.shape[0]),
          "num_real_floor": int(floor_images.shape[0]), "num_test_for_precision_recall": int(pr_ref.shape[0]),
          "precision_recall_k": int(k)}
  return metrics, info


def likelihood_fns(run):
  """(encode(x) -> (mean, logvar), log_px_given_z(z, x) -> (B,)) for a VAE run, from the family's functions."""
  fam, state = run.family, run.state
  if not hasattr(fam, "encode"):
    raise JaxgenError(f"family {run.config.family!r} exposes no encode(state, x); cannot bound log p(x).")

  def encode(x):
    out = fam.encode(state, x)
    return out[0], out[1]

  if hasattr(fam, "log_px_given_z"):
    return encode, lambda z, x: fam.log_px_given_z(state, z, x)
  if hasattr(fam, "decode_logits"):
    return encode, lambda z, x: likelihood.bernoulli_log_likelihood(fam.decode_logits(state, z), x)
  raise JaxgenError(f"family {run.config.family!r} exposes no decoder log-likelihood; cannot bound log p(x).")


def likelihood_metrics(run, key, num_samples: int = 100, max_images: int = 1000, batch: int = 100) -> dict:
  """Mean IWAE bound (K = num_samples) and ELBO (K = 1) in nats per image on up to `max_images` test images."""
  encode, log_px_given_z = likelihood_fns(run)
  cfg = run.config
  x_all = np.asarray(jdata.load_split(cfg, "test")["x"], np.float32)[:max_images]

  @jax.jit
  def bounds(x, k):
    mean, logvar = encode(x)
    k1, kk = jax.random.split(k)
    return (likelihood.iwae_bound(log_px_given_z, x, mean, logvar, k1, 1),
            likelihood.iwae_bound(log_px_given_z, x, mean, logvar, kk, num_samples))

  elbos, iwaes = [], []
  for i, start in enumerate(range(0, x_all.shape[0], batch)):
    x = x_all[start:start + batch]
    e, w = bounds(x, jax.random.fold_in(key, i))
    elbos.append(np.asarray(e))
    iwaes.append(np.asarray(w))
  elbo, iwae = np.concatenate(elbos), np.concatenate(iwaes)
  dims = int(np.prod(x_all.shape[1:]))
  return {"elbo": float(elbo.mean()), f"iwae_k{num_samples}": float(iwae.mean()),
          "nll_bound": float(-iwae.mean()), "bits_per_dim": float(-iwae.mean() / (dims * math.log(2))),
          "num_test_images": int(x_all.shape[0])}


def _count(n: int, what: str) -> str:
  return f"{int(n):,} {what}"


def measured_on(group: str, metrics: dict, info: dict) -> dict:
  """metric -> the images or points it was computed from (e.g. "1,000 samples vs 10,000 test images"), for the
  table and the JSON's "measured_on": every number says how many samples it rests on. `info` holds the group's
  counts: "num" (samples), and for "classifier" the counts of `classifier_metrics`' info, for "likelihood" "k"."""
  n = _count(info["num"], "samples") if "num" in info else ""
  notes = {}
  if group == "toy2d":
    true = f"{n} vs {_count(info['num'], 'true samples')}"
    notes = {key: (true if key in ("energy_distance", "mmd_rbf") else n) for key in metrics}
  elif group == "classifier":
    test, k = _count(info["num_test"], "test images"), info["precision_recall_k"]
    pr_test = _count(info["num_test_for_precision_recall"], "test images")
    floor = _count(info["num_real_floor"], "training images")
    for key in metrics:
      real = key.endswith("_real")
      who = floor if real else n
      base = key[:-len("_real")] if real else key
      if base == "fd":
        notes[key] = f"{who} vs all {test}"
      elif base in ("precision", "recall"):
        notes[key] = f"{who} vs {pr_test}, k={k}"
      elif base == "max_label_entropy":
        notes[key] = f"the maximum, log({round(math.exp(metrics[key]))} classes)"
      else:
        notes[key] = who
  elif group == "likelihood":
    images = _count(metrics.get("num_test_images", 0), "test images")
    notes = {key: (f"{images}, K={info['k']}" if key.startswith("iwae") or key in ("nll_bound", "bits_per_dim")
                   else f"{images}, K=1" if key == "elbo" else "") for key in metrics}
  elif group == "inception":
    real = _count(metrics.get("inception_num_real", 0), "test images")
    notes = {key: ("" if key == "inception_num_real" else f"{n} vs {real}") for key in metrics}
  return notes


def classifier_summary(info: dict) -> str:
  """One line: the classifier and the sample counts of its metrics (the table's heading for them)."""
  return (f"{info['name']} (test accuracy {info['test_accuracy']:.4f}): "
          f"{_count(info.get('num_samples', 0), 'samples')} vs {_count(info['num_test'], 'test images')} "
          f"(precision/recall: vs {_count(info.get('num_test_for_precision_recall', 0), 'test images')}); "
          f"floor (*_real) = {_count(info['num_real_for_fd_real'], 'real training images')}")


def evaluate(run, num: int | None = None, seed: int = 0, iwae_k: int = 100, verbose: bool = False,
             sample_options: dict | None = None) -> dict:
  """All metrics that fit `run` (a `jaxgen.load` Run) as a JSON-ready dict.

  sample_options: passed to `run.sample` on top of config.sample (e.g. {"steps": 100} for EBM/diffusion).
  "measured_on" maps every metric to the images it was computed from (`measured_on`), "better" to "lower",
  "higher", "floor" or "" (`better`), and "sampling" says how the samples were drawn (`sampling`).
  """
  groups = plan(run.config)
  if not groups:
    raise JaxgenError(
        f"no offline metric fits family={run.config.family!r} on data.name={run.config.data.name!r}: image "
        f"metrics need a classifier data set ({', '.join(CLASSIFIER_DATASETS)}); Inception FID needs weights "
        "that are not available offline.")
  key = jax.random.PRNGKey(seed)
  k_toy, k_clf, k_lik = jax.random.split(key, 3)
  result = {"workdir": os.path.abspath(run.workdir), "step": int(run.step), "family": run.config.family,
            "dataset": run.config.data.name, "seed": seed, "sample_options": dict(sample_options or {}),
            "sampling": sampling(run.config, sample_options), "metrics": {}, "measured_on": {}}

  def add(group, metrics, info):
    result["metrics"].update(metrics)
    result["measured_on"].update(measured_on(group, metrics, info))

  if "toy2d" in groups:
    n = int(num or 2500)
    result["num"] = n
    add("toy2d", toy2d_metrics(run, k_toy, n, sample_options), {"num": n})
  if "classifier" in groups:
    n = int(num or 1000)
    result["num"] = n
    metrics, info = classifier_metrics(run, k_clf, n, verbose=verbose, options=sample_options)
    add("classifier", metrics, {**info, "num": n})
    result["classifier"] = info
  if "likelihood" in groups:
    add("likelihood", likelihood_metrics(run, k_lik, num_samples=iwae_k), {"k": iwae_k})
  if "inception" in groups:
    n = int(num or 1000)
    result["num"] = n
    add("inception", inception_metrics(run, jax.random.fold_in(key, 3), n, sample_options), {"num": n})
  result["metrics"] = {k: _json_number(v) for k, v in result["metrics"].items()}
  result["better"] = {k: better(k) for k in result["metrics"]}
  return result


def _json_number(v):
  if isinstance(v, (int, np.integer)):
    return int(v)
  v = float(v)
  return v if math.isfinite(v) else None


# Which way each metric is better (the rest are counts, references or times); iwae_k<K> is higher-is-better too.
LOWER_IS_BETTER = ("fd", "reverse_kl", "energy_distance", "mmd_rbf", "nll_bound", "bits_per_dim", "inception_fid",
                   "inception_kid")
HIGHER_IS_BETTER = ("modes_covered", "high_quality_fraction", "confidence", "label_entropy", "label_accuracy",
                    "precision", "recall", "elbo")
# Unbiased estimates (U-statistics): 0 in expectation when the samples follow the data, so they can dip below 0.
UNBIASED = ("energy_distance", "mmd_rbf", "inception_kid")
UNBIASED_NOTE = ("* unbiased estimate: its expectation is 0 when the samples follow the data, so values near 0 "
                 "can be negative (sampling noise, not an error)")
FLOOR_NOTE = ("floor: the same metric of as many real training images, what a perfect sampler would score at "
              "this number of samples")


def better(metric: str) -> str:
  """"lower" or "higher" (which value is better), "floor" for a *_real metric (real images scored the same way:
  the value to approach), "" for counts, references and times."""
  if metric.endswith("_real"):
    return "floor"
  if metric in LOWER_IS_BETTER:
    return "lower"
  if metric in HIGHER_IS_BETTER or metric.startswith("iwae_k"):
    return "higher"
  return ""


def sampling(config, options: dict | None = None) -> dict:
  """How the samples were drawn: {"settings": config.sample with `options` on top, "from_flags": the option
  names the caller set, "dot": {"steps", "step_size", "k"} when a GAN's samples were moved by discriminator
  optimal transport after the generator, else None}."""
  settings = {**config.sample.to_dict(), **(options or {})}
  dot = None
  if config.family == "gan" and int(settings.get("dot_steps") or 0) > 0:
    dot = {"steps": int(settings["dot_steps"]), "step_size": float(settings["dot_step_size"]),
           "k": float(settings["dot_k"])}
  return {"settings": settings, "from_flags": sorted(options or {}), "dot": dot}


def sampling_lines(result: dict) -> list[str]:
  """The lines of the table's heading that say how the samples were drawn (result["sampling"])."""
  info = result.get("sampling")
  if not info:
    return []
  given = ", ".join(f"{k}={v}" for k, v in sorted(info["settings"].items())) or "the family's defaults"
  source = (f"--{', --'.join(info['from_flags'])} from the command line, the rest from config.sample"
            if info["from_flags"] else "config.sample")
  lines = [f"sampled with {given} ({source})"]
  dot = info["dot"]
  if dot:
    lines.append(f"the samples were moved by DOT (discriminator optimal transport): {dot['steps']} gradient steps "
                 f"of size {dot['step_size']:g} up the critic after the generator (K={dot['k']:g}), so these "
                 "numbers score generator and critic together; --dot_steps=0 scores the generator alone")
  elif result.get("family") == "gan":
    lines.append("the generator's own samples (no DOT: dot_steps=0)")
  return lines


def format_table(result: dict) -> str:
  """A text table: metric, value, which way is better (`better`) and what it was measured on
  (result["measured_on"]), under a heading with the run, how its samples were drawn and, for the classifier
  metrics, the classifier and its sample counts; notes on floors and unbiased estimates below it."""
  notes = result.get("measured_on", {})
  metrics = result["metrics"]
  rows = [("metric", "value", "better", "measured on")]
  for k, v in metrics.items():
    rows.append((k, "n/a" if v is None else (str(v) if isinstance(v, int) else f"{v:.5g}"),
                 better(k) + ("*" if k in UNBIASED else ""), notes.get(k, "")))
  if "classifier" in result:
    rows.append(("classifier_test_accuracy", f"{result['classifier']['test_accuracy']:.4f}", "",
                 _count(result["classifier"]["num_test"], "test images")))
  widths = [max(len(r[i]) for r in rows) for i in range(3)]
  head = (f"{result['family']} on {result['dataset']}, step {result['step']}"
          + (f", {result['num']:,} samples" if "num" in result else ""))
  lines = [head] + sampling_lines(result)
  if "classifier" in result:
    lines.append("classifier " + classifier_summary(result["classifier"]))
  table = [f"  {a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]
  table.insert(1, "  " + "-" * (sum(widths) + 6 + max(len(r[3]) for r in rows)))
  footer = [FLOOR_NOTE] if any(better(k) == "floor" for k in metrics) else []
  footer += [UNBIASED_NOTE] if any(k in UNBIASED for k in metrics) else []
  return "\n".join(lines + table + footer)


def main(argv):
  logging.set_verbosity(logging.ERROR)     # keep orbax's restore chatter out of the table
  FLAGS = flags.FLAGS
  _check_flags(argv)
  options = _command_line_options()
  cli.init_distributed()
  lead = jax.process_index() == 0
  run = load(FLAGS.workdir, step=FLAGS.step)
  if FLAGS.nfe is not None:      # quality vs NFE: every diffusion sampler at every budget (jaxgen.metrics.nfe_curve)
    nfe_curve.run_curve(run, FLAGS.nfe, lambda o: evaluate(run, num=FLAGS.num, seed=FLAGS.seed, iwae_k=FLAGS.iwae_k,
                        sample_options={**options, **o}), json_path=FLAGS.json, lead=lead)
    return

  def choose_output():
    path, note = output_path(FLAGS.json, FLAGS.workdir, FLAGS.overwrite)
    cli.check_writable(path, "--json" if FLAGS.json else "--json (default <workdir>/evaluate.json)")
    return path, note

  path, note = collectives.agree(lambda: choose_output() if lead else (None, ""), "write the JSON")
  result = evaluate(run, num=FLAGS.num, seed=FLAGS.seed, iwae_k=FLAGS.iwae_k, verbose=lead, sample_options=options)
  if not lead:
    return
  print(format_table(result))
  write_result(result, path, FLAGS.overwrite)
  print(f"wrote {path}" + (f" ({note})" if note else ""))


if __name__ == "__main__":
  _define_flags()
  cli.run(main)
