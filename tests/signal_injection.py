"""Fault injection for the resume tests: a data pipeline whose process sends itself a signal at a given step."""
import os
import time


def pipeline_signalling_at(make_pipeline, step: int, sig: int, stamp: str | None = None):
  """`make_pipeline` whose training pipelines send `sig` to this process while fetching the batch of `step`
  (the test split's pipelines, used by the evaluation during training, are left alone); with `stamp`, the
  wall-clock time just before the signal is written to that file."""

  def make(config, split="train"):
    pipe = make_pipeline(config, split)
    if split != "train":
      return pipe
    fetch = pipe.global_batch

    def global_batch(s, sharding):
      if s == step:
        if stamp:
          with open(stamp, "w") as f:
            f.write(repr(time.time()))
        os.kill(os.getpid(), sig)
      return fetch(s, sharding)
    pipe.global_batch = global_batch
    return pipe
  return make
