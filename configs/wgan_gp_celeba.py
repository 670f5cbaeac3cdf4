"""WGAN-GP on CelebA 64x64x3 in [-1, 1] — the reference notebook 04_gan/02_wgan_gp (docs/reference.md §5).

  python train.py --config=configs/wgan_gp_celeba.py --workdir=runs/wgan_gp_celeba
  python sample.py --workdir=runs/wgan_gp_celeba --num=64

Needs CelebA prepared for TFDS (`tfds/celeb_a`). One train_step = 3 critic updates (fresh latents, same real batch,
as the notebook) + 1 generator update.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "gan"
  c.data.name = "tfds/celeb_a"
  c.data.image_size = 64
  c.data.channels = 3
  c.data.range = "symmetric"          # (x - 127.5) / 127.5

  m = c.model
  m.objective = "wgan_gp"
  m.latent_dim = 128                  # Z_DIM
  m.num_classes = 0
  m.g_features = (512, 256, 128, 64)  # ConvT 512 (4x4 valid), 256, 128, 64 (stride 2) -> ConvT 3, tanh (bias)
  m.d_features = (64, 128, 256, 512)  # Conv stride 2; no normalisation; linear output
  m.critic_second_slope = 0.3         # the notebook's 2nd critic activation is LeakyReLU() = Keras' 0.3 (§9.4)
  m.dropout = 0.3
  m.bn_momentum = 0.9
  m.n_critic = 3                      # CRITIC_STEPS
  m.gp_weight = 10.0                  # GP_WEIGHT
  m.gp_alpha_dist = "uniform"         # paper (Gulrajani et al.): alpha ~ U[0,1]; "normal" = the notebook's N(0,1)
  m.critic_data = "same"              # the notebook reuses the real batch for all 3 critic updates; "split": paper
  m.clip_value = 0.01                  # weight clipping bound (objective "wgan" only)
  m.label_noise = 0.0                  # noisy BCE targets (objective "bce" only)

  o = c.optim
  o.name = "adam"
  o.learning_rate = 2e-4
  o.b1 = 0.5
  o.b2 = 0.9                          # the notebook first sets 0.999, then overrides it to 0.9
  o.eps = 1e-7                        # Keras Adam epsilon
  o.decay = "none"                    # constant learning rate, as the reference ("linear": decay to 0 over the run)

  t = c.train
  t.batch_size = 512                  # BATCH_SIZE
  t.num_steps = 400                   # fit(epochs=200, steps_per_epoch=2) = 400 generator steps (1,200 critic steps)
  t.log_every = 10
  t.checkpoint_every = 100
  t.sample_every = 100
  t.num_sample_images = 64
  return c
