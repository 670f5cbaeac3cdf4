"""Converters from other frameworks' checkpoints to jaxgen work directories.

  python -m jaxgen.convert stylegan2_ada NETWORK.pkl --workdir=DIR

`stylegan2_ada`: NVIDIA's official StyleGAN2-ADA PyTorch pickles (the `G_ema` generator), read without PyTorch and
without executing anything from the file (jaxgen.convert.torch_pickle).
"""
