"""Class-conditional diffusion with classifier-free guidance on the embedded 8x8 digits (minutes on CPU).

  python train.py --config=configs/ddm_digits_cond.py --workdir=runs/ddm_digits_cond
  python sample.py --workdir=runs/ddm_digits_cond --class_grid --num=80 --guidance=2 --out=grid.png
"""
from jaxgen.configs import diffusion


def get_config():
  c = diffusion.get_config()
  c.model.num_classes = 10
  c.sample.guidance = 2.0
  return c
