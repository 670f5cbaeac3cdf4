"""The VAE family's default: the reference Fashion-MNIST VAE (docs/reference.md §2) on 16x16 digits."""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "vae"
  c.data.image_size = 16                  # the 8x8 digits upsampled x2; must divide by 2 ** len(encoder_features)
  m = c.model
  m.encoder_features = (32, 64)           # Conv 3x3 stride 2 + activation per entry: one halving of the side each
  m.decoder_features = (64, 32)           # ConvTranspose/upsample widths, one per encoder entry (same count)
  m.latent_dim = 2                        # dimension of z (z_mean and z_log_var heads)
  m.batch_norm = False                    # BatchNorm after each conv (and the decoder's dense layer)
  m.activation = "relu"                   # "relu" | "leaky_relu" (slope 0.3, Keras' default)
  m.decoder = "transpose"                 # "transpose" (Conv2DTranspose) | "upsample" (UpSampling2D + Conv + BN)
  m.output_layer = "conv"                 # last layer: "conv" (Conv 3x3 stride 1) | "conv_transpose", sigmoid
  m.recon_loss = "bce"                    # "bce" (from logits) | "mse"
  m.recon_weight = 500.0                  # loss = recon_weight * reconstruction + KL (the reference's BETA), > 0
  m.recon_reduction = "mean"              # reconstruction over pixels: "mean" (Keras) | "sum" (with weight 1: the ELBO)
  o = c.optim                             # Adam
  o.learning_rate = 1e-3
  o.b1, o.b2, o.eps = 0.9, 0.999, 1e-7    # Keras' Adam defaults
  t = c.train
  t.batch_size = 100
  t.num_steps = 600                       # ~42 epochs of the 1,437 training digits
  t.eval_every = 200
  t.checkpoint_every = 300
  t.sample_every = 300
  t.num_sample_images = 36
  return c
