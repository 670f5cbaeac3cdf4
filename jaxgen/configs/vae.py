"""The VAE family's default: the autoencoder's networks and recipe (docs/reference.md §2) with a Gaussian latent
and the reference's loss weighting, on 16x16 digits."""
from jaxgen.configs import autoencoder


def get_config():
  c = autoencoder.get_config()
  c.family = "vae"
  m = c.model
  del m.box_decay                         # the VAE samples its N(0, I) prior, not a box of embeddings
  m.recon_weight = 500.0                  # loss = recon_weight * reconstruction + KL (the reference's BETA), > 0
  m.recon_reduction = "mean"              # reconstruction over pixels: "mean" (Keras) | "sum" (with weight 1: the ELBO)
  return c
