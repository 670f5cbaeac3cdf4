"""Fault injection for the resume tests: a data pipeline whose process sends itself a signal at a given step."""
import os


def pipeline_signalling_at(make_pipeline, step: int, sig: int):
  """`make_pipeline` whose pipelines send `sig` to this process while fetching the batch of `step`."""

  def make(config, split="train"):
    pipe = make_pipeline(config, split)
    fetch = pipe.global_batch

    def global_batch(s, sharding):
      if s == step:
        os.kill(os.getpid(), sig)
      return fetch(s, sharding)
    pipe.global_batch = global_batch
    return pipe
  return make
