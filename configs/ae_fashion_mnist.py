"""Autoencoder on Fashion-MNIST, 32x32x1 in [0, 1], 2-d embedding — notebook 03_vae/01_autoencoder (docs/reference.md §1).

  python train.py --config=configs/ae_fashion_mnist.py --workdir=runs/ae_fashion
  python sample.py --workdir=runs/ae_fashion --num=18                 # uniform in the embedding box
  python sample.py --workdir=runs/ae_fashion --latent_grid=15         # 15x15 decoded grid over the box

Encoder Conv 32/64/128 3x3 s2 ReLU -> Dense 2; decoder Dense 2048 -> 4x4x128 -> Conv2DTranspose 128/64/32 3x3 s2
ReLU -> Conv 1 3x3 (sigmoid); 343,043 parameters. BCE (mean over pixels), Adam 1e-3, batch 100, 3 epochs.
`--config.model.decoder=upsample` swaps in the UpSampling2D + Conv + BatchNorm + LeakyReLU decoder.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "autoencoder"
  c.data.name = "tfds/fashion_mnist"
  c.data.image_size = 32
  c.data.channels = 1
  c.data.pad = 2                      # 28 -> 32 with zeros, as np.pad in the notebook
  c.data.range = "unit"               # x / 255

  m = c.model
  m.encoder_features = (32, 64, 128)  # Conv2D 3x3 stride 2 "same", ReLU
  m.decoder_features = (128, 64, 32)  # Conv2DTranspose 3x3 stride 2 "same", ReLU
  m.latent_dim = 2                    # EMBEDDING_DIM
  m.batch_norm = False
  m.activation = "relu"
  m.decoder = "transpose"             # "transpose" (reference) | "upsample" (UpSampling2D + Conv + BN + LeakyReLU)
  m.output_layer = "conv"             # Conv2D(1, 3x3, sigmoid)
  m.recon_loss = "bce"                # binary_crossentropy on the sigmoid output (from logits)
  m.box_decay = 0.99                  # EMA of per-batch embedding min/max -> the sampling box

  o = c.optim
  o.learning_rate = 1e-3              # compile(optimizer="adam"): Keras Adam defaults
  o.b1, o.b2, o.eps = 0.9, 0.999, 1e-7

  t = c.train
  t.batch_size = 100                  # BATCH_SIZE
  t.num_steps = 3 * 600               # EPOCHS = 3; 60,000 / 100 = 600 steps per epoch
  t.log_every = 100
  t.eval_every = 600                  # once per epoch (validation on the test set)
  t.checkpoint_every = 600
  t.sample_every = 600
  t.num_sample_images = 18            # the notebook decodes 18 points (6x3)
  return c
