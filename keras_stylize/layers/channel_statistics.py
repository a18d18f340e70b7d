"""Per-channel mean and standard deviation of feature maps (the statistics AdaIN uses)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_stylize")
class ChannelStatistics(keras.layers.Layer):
    """`(batch, H, W, C)` activations -> `(batch, 2C)` float32: each channel's mean over
    height and width, then each channel's standard deviation (`sqrt(var + epsilon)`).

    Whatever the image's size, the output has one fixed length: the summary of a
    painting's colours and marks that a style-prediction network reads.

    Args:
        epsilon: small float added to the variance.
        **kwargs: base layer arguments.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        mean = ops.mean(x, axis=(1, 2))
        variance = ops.mean(ops.square(x - mean[:, None, None, :]), axis=(1, 2))
        return ops.concatenate([mean, ops.sqrt(variance + self.epsilon)], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels = input_shape[-1]
        return (input_shape[0], None if channels is None else 2 * channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}
