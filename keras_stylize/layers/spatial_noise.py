"""Deterministic noise channels, as the 2016 texture networks feed them to each scale."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_stylize")
class SpatialNoise(keras.layers.Layer):
    """Appends `channels` planes of uniform [0, 1) noise to a channels-last input.

    The noise is a pure function of `seed` and of the input's shape
    (`tf.random.stateless_uniform`), so a saved model gives the same output on every
    call: no hidden random state. It is identical for every image of a batch. Used only
    when a texture network is built with `noise_channels > 0`; note that
    `StatelessRandomUniformV2` is not a TFLite builtin, so such models do not export to
    TFLite.

    Args:
        channels: number of noise planes to append (>= 1).
        seed: integer seed of the noise.
    """

    def __init__(self, channels: int, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"`channels` must be an int >= 1. Received: channels={channels}")
        self.channels = channels
        self.seed = int(seed)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        shape = tf.shape(inputs)
        noise = tf.random.stateless_uniform(
            tf.stack([1, shape[1], shape[2], self.channels]), seed=[self.seed, 0]
        )
        noise = tf.tile(tf.cast(noise, inputs.dtype), tf.stack([shape[0], 1, 1, 1]))
        return tf.concat([inputs, noise], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        return (batch, height, width, None if channels is None else channels + self.channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": self.channels, "seed": self.seed}
