"""Training on several devices: the `tf.distribute` strategy of `FitConfig.distribute`
and the split of global batches between workers."""

from __future__ import annotations

import os


def make_strategy(name: str):
    """The `tf.distribute` strategy for `FitConfig.distribute`: "none" (the default
    strategy), "mirrored" (every GPU of this machine) or "multiworker" (the machines of
    `TF_CONFIG`)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def split_global_batches(dataset, strategy, global_batch: int):
    """For several workers: every worker builds the same seeded dataset of global batches
    and feeds its replicas only its own slice of each, so the workers together train on
    exactly the batches a single machine would (instead of tf.data's auto-sharding, which
    gives each worker different batches). Other strategies get `dataset` back."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return dataset

    def per_worker(context: tf.distribute.InputContext):
        share = global_batch // context.num_input_pipelines
        if share * context.num_input_pipelines != global_batch:
            raise ValueError(
                f"batch size {global_batch} is not divisible by the "
                f"{context.num_input_pipelines} workers"
            )
        start = context.input_pipeline_id * share
        local = dataset.map(
            lambda *batch: tf.nest.map_structure(lambda t: t[start : start + share], batch)
        )
        replica_batch = context.get_per_replica_batch_size(global_batch)
        return local.unbatch().batch(replica_batch, drop_remainder=True)

    return strategy.distribute_datasets_from_function(per_worker)
