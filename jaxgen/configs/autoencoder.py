"""The autoencoder family's default: the reference autoencoder (docs/reference.md §1) on 16x16 digits."""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "autoencoder"
  c.data.image_size = 16                  # the 8x8 digits upsampled x2; must divide by 2 ** len(encoder_features)
  m = c.model
  m.encoder_features = (32, 64)           # Conv 3x3 stride 2 + activation per entry: one halving of the side each
  m.decoder_features = (64, 32)           # ConvTranspose/upsample widths, one per encoder entry (same count)
  m.latent_dim = 2                        # embedding dimension (2: plottable, the reference)
  m.batch_norm = False                    # BatchNorm after each conv
  m.activation = "relu"                   # "relu" | "leaky_relu" (slope 0.3, Keras' default)
  m.decoder = "transpose"                 # "transpose" (Conv2DTranspose) | "upsample" (UpSampling2D + Conv + BN)
  m.output_layer = "conv"                 # last layer: "conv" (Conv 3x3 stride 1) | "conv_transpose", sigmoid
  m.recon_loss = "bce"                    # "bce" (from logits) | "mse", averaged over pixels
  m.box_decay = 0.99                      # EMA decay of the embeddings' min/max: the box `sample` draws from
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
