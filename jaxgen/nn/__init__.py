"""Shared Flax Linen building blocks (Keras-default layers, U-Net, embeddings, modulated convolutions)."""
