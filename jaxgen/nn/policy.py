"""How a family's networks compute: the compute dtype (`model.dtype`) and the convolution formulation
(`model.conv_impl`), applied to a Flax module without changing its parameters.

  net = policy.configure(EnergyNet(...), config)      # the module itself when both keys have their defaults
  net.init(key, x)                                    # float32 parameters, whatever the compute dtype
  net.apply(variables, x, ...)                        # outputs float32

Mixed precision (`model.dtype = "bfloat16"`), the standard recipe on TPUs and recent GPUs:
  - parameters, optimizer state, EMA and BatchNorm statistics are stored in float32 (`init` is unchanged, so a
    checkpoint does not depend on the compute dtype);
  - `apply` hands the network a bfloat16 copy of its "params" collection and of its first argument (the network's
    input: images, latents or W+); the other arguments (labels, noise levels, noise maps) pass unchanged and the
    networks cast them where they use them, so e.g. the diffusion noise level enters the sinusoidal embedding in
    float32. Every matmul and convolution then runs in bfloat16; `jaxgen.nn.layers.BatchNorm` normalises in
    float32 and returns the input's dtype;
  - every floating output (and the updated BatchNorm statistics) is cast back to float32, so losses, the gradient
    penalty, R1, Langevin and diffusion sampler updates are float32 arithmetic. Gradients reach the float32
    parameters through the casts (float32 gradients of a bfloat16 forward pass).

Convolution formulation (`model.conv_impl`): "auto" (per backend: `jaxgen.nn.conv.resolve_impl`), or "lax" /
"matmul" / "space_to_depth" forced for every `jaxgen.nn.layers` convolution left at impl="auto" in the network.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgen.errors import choice
from jaxgen.nn import conv

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def validate(config) -> None:
  """model.dtype and model.conv_impl are known names (JaxgenError otherwise)."""
  choice("model.dtype", config.model.dtype, tuple(DTYPES))
  choice("model.conv_impl", config.model.conv_impl, conv.FORCEABLE_IMPLS)


def cast_floating(tree, dtype):
  """Every floating-point leaf of `tree` as `dtype` (integer, bool and key leaves unchanged)."""
  return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a, tree)


@dataclasses.dataclass(frozen=True)
class Policy:
  """A Flax module with a compute dtype and a forced convolution formulation (hashable: a static State field).

  `init` and `apply` take the module's arguments (including `method=`, `mutable=`, `rngs=`); other attributes
  are the module's.
  """
  module: nn.Module
  dtype: str = "float32"
  conv_impl: str = "auto"

  def init(self, *args, **kwargs):
    with conv.conv_impl_scope(self.conv_impl):
      return self.module.init(*args, **kwargs)

  def apply(self, variables, *args, **kwargs):
    dtype = DTYPES[self.dtype]
    if dtype != jnp.float32:
      variables = {**variables, "params": cast_floating(variables["params"], dtype)} if "params" in variables \
          else variables
      args = (cast_floating(args[0], dtype),) + args[1:] if args else args
    with conv.conv_impl_scope(self.conv_impl):
      out = self.module.apply(variables, *args, **kwargs)
    return cast_floating(out, jnp.float32) if dtype != jnp.float32 else out

  def __getattr__(self, name: str) -> Any:
    if name.startswith("__") or name == "module":
      raise AttributeError(name)
    return getattr(self.module, name)


def configure(module: nn.Module, config):
  """`module` under the config's model.dtype and model.conv_impl (the module itself for float32 and "auto")."""
  validate(config)
  m = config.model
  if m.dtype == "float32" and m.conv_impl == "auto":
    return module
  return Policy(module, m.dtype, m.conv_impl)
