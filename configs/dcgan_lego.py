"""DCGAN on the LEGO bricks images, 64x64x1 in [-1, 1] — the reference notebook 04_gan/01_dcgan (docs/reference.md §4).

  python train.py --config=configs/dcgan_lego.py --workdir=runs/dcgan_lego \
      --config.data.name=folder:/path/to/lego-brick-images/dataset
  python sample.py --workdir=runs/dcgan_lego --num=64

Data: Kaggle joosthazelzet/lego-brick-images, folder `dataset/` (grayscale, resized to 64x64, no crop). One
train_step = one simultaneous D and G update from the same forward pass, label noise 0.1.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "gan"
  c.data.name = "folder:data/lego"     # placeholder: point it at the extracted dataset/ folder
  c.data.image_size = 64
  c.data.channels = 1
  c.data.range = "symmetric"           # (x - 127.5) / 127.5

  m = c.model
  m.objective = "bce"
  m.latent_dim = 100                   # Z_DIM
  m.num_classes = 0
  m.g_features = (512, 256, 128, 64)   # ConvT 512 (4x4 valid), 256, 128, 64 (stride 2), each BN(0.9)+LeakyReLU(0.2)
  m.d_features = (64, 128, 256, 512)   # Conv stride 2, BN(0.9) from the 2nd, LeakyReLU(0.2), Dropout(0.3); no biases
  m.dropout = 0.3
  m.bn_momentum = 0.9
  m.label_noise = 0.1                  # NOISE_PARAM: real targets 1 + 0.1 U, fake targets -0.1 U
  m.n_critic = 1                       # critic updates per generator update (wgan/wgan_gp; bce updates both at once)
  m.gp_weight = 10.0                   # gradient-penalty weight (wgan_gp only)
  m.gp_alpha_dist = "uniform"          # interpolation weight law of the penalty (wgan_gp only)
  m.critic_data = "same"               # critic batches: "same" real batch for every update, or "split"
  m.clip_value = 0.01                  # weight clipping bound (objective "wgan" only)
  m.critic_second_slope = 0.3          # LeakyReLU slope after the 2nd critic conv (wgan/wgan_gp critic only)

  o = c.optim
  o.name = "adam"
  o.learning_rate = 2e-4
  o.b1 = 0.5
  o.b2 = 0.999
  o.eps = 1e-7
  o.decay = "none"                    # constant learning rate, as the reference ("linear": decay to 0 over the run)

  t = c.train
  t.batch_size = 128
  # EPOCHS = 300 over the 40,000 images of the Kaggle set: 300 * ceil(40000 / 128) = 300 * 313 = 93,900 steps.
  t.num_steps = 93900
  t.log_every = 100
  t.checkpoint_every = 2000
  t.sample_every = 2000
  t.num_sample_images = 64
  return c
