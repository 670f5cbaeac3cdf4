"""Converters from other frameworks' checkpoints to jaxgen work directories: `python -m jaxgen.convert
stylegan2_ada NETWORK.pkl --workdir=DIR` reads NVIDIA's StyleGAN2-ADA pickles (`G_ema`) without PyTorch and without
executing anything from the file (jaxgen.convert.torch_pickle; README.md, "NVIDIA's pretrained ... generator").
"""
