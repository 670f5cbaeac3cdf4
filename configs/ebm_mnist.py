"""Energy-based model on MNIST, 32x32x1 in [-1, 1] — the reference notebook 07_ebm/01_ebm.

  python train.py --config=configs/ebm_mnist.py --workdir=runs/ebm_mnist
  python sample.py --workdir=runs/ebm_mnist --num=10 --steps=1000 --chain

One train_step = 60 Langevin steps (step 10, noise 0.005, gradient clip 0.03, clip to [-1, 1]) on a batch
drawn from the replay buffer (8,192 entries, ~5% fresh U(-1, 1) starts) + one Adam(1e-4) contrastive-divergence
update on 128 real + 128 fake images. Energies: p ∝ exp(-E); the notebook's network outputs the score -E, so
its logged `real`/`fake` are the negatives of ours (cdiv, reg and loss have the same values).
Reference quirk not reproduced: the notebook does not shuffle and keeps a last batch of 96
whose split mislabels 16 fakes as reals; jaxgen shuffles each epoch and drops the remainder.
"""
from jaxgen.config import base_config


def get_config():
  c = base_config()
  c.family = "ebm"
  c.data.name = "tfds/mnist"
  c.data.image_size = 32
  c.data.channels = 1
  c.data.pad = 2                      # 28 -> 32, padded with -1 (0 in [0,1] space), as the notebook
  c.data.range = "symmetric"          # (x - 127.5) / 127.5

  m = c.model
  m.kind = "conv"
  m.conv_features = (16, 32, 64, 64)  # Conv2D 16 5x5 s2, 32 3x3 s2, 64 3x3 s2, 64 3x3 s2, swish
  m.kernel_sizes = (5, 3, 3, 3)
  m.dense_features = 64               # Dense 64 swish, then Dense 1 linear (76,993 parameters)
  m.conv_impl = "auto"                # strided convs as slices + matmul (same function as nn.Conv; ~3x less CPU
                                      # per Langevin step than "lax" = lax.conv_general_dilated); see ebm.conv_impl_for
  m.alpha = 0.1                       # ALPHA: weight of mean(E_real^2 + E_fake^2)
  m.real_noise = 0.005                # N(0, 0.005^2) added to real images, then clipped
  m.buffer_size = 8192                # BUFFER_SIZE
  m.buffer_init = 128                 # the buffer starts with 128 U(-1, 1) images
  m.buffer_fresh_prob = 0.05          # np.random.binomial(128, 0.05) fresh starts per batch
  m.langevin = dict(kind="sgld",      # noise std set independently of the step (the reference's update)
                    steps=60,         # STEPS
                    step_size=10.0,   # STEP_SIZE
                    noise_scale=0.005,  # NOISE
                    grad_clip=0.03,   # GRADIENT_CLIP (per element); <= 0 or None turns it off
                    step_size_end=0.0)  # > 0: the chain's step anneals geometrically to it (not in the reference)

  o = c.optim
  o.learning_rate = 1e-4              # Adam(learning_rate=0.0001), Keras betas, eps 1e-7
  o.b1 = 0.9
  o.b2 = 0.999
  o.eps = 1e-7
  o.decay = "none"                    # "linear": learning rate -> 0 over train.num_steps (not in the reference)

  t = c.train
  t.batch_size = 128
  t.num_steps = 60 * 468              # EPOCHS = 60; 60,000 // 128 = 468 full batches per epoch = 28,080 steps
  t.log_every = 100
  t.eval_every = 468                  # once per epoch, as Keras' validation (uniform-noise fakes)
  t.checkpoint_every = 468
  t.sample_every = 2340               # every 5 epochs (each grid runs 1,000 Langevin steps)
  t.num_sample_images = 16

  c.sample.steps = 1000               # generate_samples(..., steps=1000, step_size=10, noise=0.005)
  c.sample.step_size_start = 10.0     # = langevin.step_size: no annealing
  c.sample.temperature = 1.0          # noise std x sqrt(T): the trained chain's noise
  return c
