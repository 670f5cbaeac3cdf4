"""Latent-space tools: interpolation, attribute vectors, truncation, PCA/boundary/saved directions, edits,
style mixing. `from jaxgen import latent` makes every submodule available (latent.directions, latent.edits, ...)."""
from jaxgen.latent import attributes, directions, edits, grid, interpolate, mixing, truncation

__all__ = ["attributes", "directions", "edits", "grid", "interpolate", "mixing", "truncation"]
