"""Latent-space tools: interpolation, attribute vectors, truncation, PCA/boundary directions, style mixing."""
