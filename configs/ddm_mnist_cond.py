"""Class-conditional MNIST diffusion with classifier-free guidance: configs/ddm_mnist.py plus labels.

  python train.py --config=configs/ddm_mnist_cond.py --workdir=runs/ddm_mnist_cond
  python sample.py --workdir=runs/ddm_mnist_cond --label=3 --guidance=2 --out=threes.png
"""
import importlib.util
import os


def get_config():
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddm_mnist.py")
  spec = importlib.util.spec_from_file_location("ddm_mnist", path)
  mnist = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mnist)
  c = mnist.get_config()
  c.model.num_classes = 10
  c.sample.guidance = 2.0
  return c
