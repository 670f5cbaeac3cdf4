"""Denoising diffusion on Oxford 102 Flowers 64x64x3: the notebook 08_diffusion/01_ddm (docs/reference.md §8).

  python train.py --config=configs/ddm_flowers.py --workdir=runs/ddm_flowers
"""
from jaxgen.configs import diffusion


def get_config():
  c = diffusion.get_config()
  c.data.name = "tfds/oxford_flowers102"  # the reference reads the Kaggle folder: --config.data.name=folder:<path>
  c.data.image_size = 64                  # IMAGE_SIZE
  c.data.channels = 3
  m = c.model
  m.widths = (32, 64, 96)
  m.bottleneck_width = 128
  m.ema_warmup = False                    # the reference: constant decay
  t = c.train
  t.num_steps = 7950                      # EPOCHS = 50 x floor(5 x 2,040 / 64) = 159 steps (TFDS train split)
  t.log_every = 50
  t.checkpoint_every = 159                # once per epoch, as the reference's checkpoint callback
  t.sample_every = 159
  t.num_sample_images = 10
  return c
