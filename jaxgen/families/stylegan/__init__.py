"""Style-based GAN family (StyleGAN2, Karras et al. 2020), from CPU-sized models to the published StyleGAN2-ADA
generator (model.arch = "compact" | "stylegan2_ada"; networks in jaxgen.nn.stylegan_compact / jaxgen.nn.stylegan2).

  model.py     hyperparameters (HParams), State, config checks, network construction
  training.py  losses (logistic + R1, WGAN-GP), style-mixing regularisation, train_step
  outputs.py   rendering, sample, sample_outputs (truncation, interpolation, directions, style mixing)

`state.generator.mapping(params, z)` (B, z_dim) -> (B, w_dim) and `.synthesis(params, w_plus, key, noise_mode)`
(B, L, w_dim) -> (B, R, R, C) in [-1, 1] are pure functions for the latent tools (docs/design.md §10).
"""
from jaxgen.families.stylegan.model import HParams, State, build_networks, init, make_optimizer, validate_config
from jaxgen.families.stylegan.outputs import (SAMPLE_OPTIONS, class_probability_along, find_direction, render, sample,
                                              sample_latents, sample_outputs)
from jaxgen.families.stylegan.training import LOSS_KEYS, d_loss, g_loss, generate_mixed, r1_penalty, train_step

eval_step = None
save_figures = None

__all__ = ["HParams", "State", "LOSS_KEYS", "SAMPLE_OPTIONS", "validate_config", "build_networks", "make_optimizer",
           "init", "train_step", "sample", "eval_step", "sample_outputs", "save_figures", "class_probability_along",
           "find_direction", "render", "sample_latents", "d_loss", "g_loss", "generate_mixed", "r1_penalty"]
