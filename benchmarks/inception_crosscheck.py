"""Writes tests/fixtures/inception_pytorch_fid.npz: pool3 features of pytorch-fid's own FID Inception-v3 with seeded
random weights, which tests/test_inception.py compares with jaxgen's port (jaxgen.metrics.inception) without PyTorch.

Needs PyTorch and pytorch-fid, and neither JAX nor jaxgen (run it in a separate environment):

  python3 -m venv /tmp/torch-venv
  /tmp/torch-venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
  /tmp/torch-venv/bin/pip install pytorch-fid numpy
  /tmp/torch-venv/bin/python benchmarks/inception_crosscheck.py

The network is pytorch-fid's `InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True)`,
built by the package's own code path (`fid_inception_v3`: torchvision's Inception3 with the FIDInceptionA/C/E_1/E_2
blocks), except that the download of pt_inception-2015-12-05 (`load_state_dict_from_url`) is replaced by
`tests/inception_twin.random_state(SEED)`, which the package then loads with its strict `load_state_dict` (so the
twin's names and shapes are exactly the package's). The inputs are `inception_twin.images(SEED)` / 255, NCHW, in
eval mode; the model resizes (bilinear, align_corners=False) to 299 and scales 2x - 1 itself.

The fixture (np.savez_compressed): seed; images_32 (3, 32, 32, 3) and images_64 (2, 64, 64, 3) uint8 NHWC;
features (5, 2048) float32 (the 32 x 32 images first); names and shapes (the state dict pytorch-fid built, with
num_batches_tracked left out; shapes as a (K, 4) zero-padded int array plus ndim); versions (JSON).
"""
import argparse
import json
import os
import platform
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import inception_twin  # noqa: E402  (NumPy only: the state dict's names and shapes, and the seeded weights)

SEED = 20261207
OUT = os.path.join(ROOT, "tests", "fixtures", "inception_pytorch_fid.npz")


def build_model(seed: int):
  """pytorch-fid's InceptionV3 (pool3 output) with inception_twin.random_state(seed) in place of the download.

  Returns (model in eval mode, the state dict of the whole FID Inception it was cut from, pytorch-fid's version).
  """
  import pytorch_fid
  from pytorch_fid import inception as pf

  built, loaded = [], []

  def fake_download(url, *args, **kwargs):
    assert url == pf.FID_WEIGHTS_URL, url
    loaded.append({k: torch.from_numpy(v) for k, v in inception_twin.random_state(seed).items()})
    return loaded[-1]

  def keep(build=pf.fid_inception_v3):        # the package's fid_inception_v3, remembering what it returns
    built.append(build())
    return built[-1]

  patched = {"load_state_dict_from_url": fake_download, "fid_inception_v3": keep}
  real = {k: getattr(pf, k) for k in patched}
  for k, v in patched.items():
    setattr(pf, k, v)
  try:
    model = pf.InceptionV3([pf.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True,
                           use_fid_inception=True)
  finally:
    for k, v in real.items():
      setattr(pf, k, v)
  assert len(built) == 1 and len(loaded) == 1, "InceptionV3 did not build the FID Inception through fid_inception_v3"
  model.eval()
  state = built[0].state_dict()
  for name, value in loaded[0].items():               # load_state_dict (strict) took every array as it was
    assert torch.equal(state[name], value), name
  return model, state, pytorch_fid.__version__


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--seed", type=int, default=SEED)
  p.add_argument("--out", default=OUT)
  a = p.parse_args(argv)

  torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
  model, full, fid_version = build_model(a.seed)
  shapes = {k: tuple(v.shape) for k, v in full.items() if not k.endswith("num_batches_tracked")}
  assert shapes == inception_twin.state_shapes(), "tests/inception_twin.py disagrees with pytorch-fid's network"

  images = inception_twin.images(a.seed)
  feats = []
  with torch.no_grad():
    for batch in images:
      x = torch.from_numpy(batch.astype(np.float32) / np.float32(255.0)).permute(0, 3, 1, 2).contiguous()
      (out,) = model(x)                                            # (N, 2048, 1, 1)
      feats.append(out[:, :, 0, 0].numpy().astype(np.float32))
  features = np.concatenate(feats)

  # the same images in float64 (weights and inputs cast up): how far float32 PyTorch is from exact arithmetic
  with torch.no_grad():
    model64 = model.double()
    f64 = np.concatenate([model64(torch.from_numpy(b.astype(np.float64) / 255.0).permute(0, 3, 1, 2))[0][:, :, 0, 0]
                          .numpy() for b in images])
    model.float()

  names = list(shapes)
  dims = np.zeros((len(names), 4), np.int64)
  for i, n in enumerate(names):
    dims[i, :len(shapes[n])] = shapes[n]
  versions = {"torch": torch.__version__, "pytorch_fid": fid_version, "numpy": np.__version__,
              "torchvision": __import__("torchvision").__version__, "python": platform.python_version()}
  os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
  np.savez_compressed(a.out, seed=np.int64(a.seed), images_32=images[0], images_64=images[1], features=features,
                      names=np.array(names), shapes=dims, ndim=np.array([len(shapes[n]) for n in names]),
                      versions=np.array(json.dumps(versions, sort_keys=True)))
  err64 = float(np.abs(features - f64).max())
  print(json.dumps({"out": a.out, "bytes": os.path.getsize(a.out), "features_shape": list(features.shape),
                    "feature_abs_max": float(np.abs(features).max()), "feature_std": float(features.std()),
                    "float32_vs_float64_max_abs": err64, "versions": versions}, indent=1))


if __name__ == "__main__":
  main()
