"""Instance normalization with statistics given from outside, for tiled inference.

Instance normalization needs, at every normalization layer, the mean and variance of
the whole image. In the tile model of `keras_stylize.inference.tiling`, each
`InstanceNormalization` or `ConditionalInstanceNormalization` of a trained generator is
replaced by a `SharedStatisticsNormalization` with the same scale and shift, which
normalizes with the whole image's statistics held in its `mean` and `variance`
variables (set by `tiling` before the tiles are run). Never saved in a model file.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_stylize")
class SharedStatisticsNormalization(keras.layers.Layer):
    """Instance normalization with given per-channel statistics.

    Input `x` `(batch, height, width, channels)` (or `[x, style_weights]` when
    `num_styles` is set, as for `ConditionalInstanceNormalization`); output
    `gamma * (x - mean) / sqrt(variance + epsilon) + beta` computed in float32, with
    `mean` and `variance` (shape `(channels,)`) from the non-trainable variables of the
    same names instead of from `x`.

    Args:
        num_styles: None for plain instance norm (`gamma`, `beta` of shape
            `(channels,)`), else the number of style rows of `gamma` and `beta`, mixed by
            the style weights as in `ConditionalInstanceNormalization`.
        epsilon: as in the layer it replaces.
    """

    def __init__(self, num_styles: int | None = None, epsilon: float = 1e-5, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_styles = num_styles
        self.epsilon = float(epsilon)

    def build(self, input_shape) -> None:
        shape = input_shape[0] if self.num_styles is not None else input_shape
        channels = shape[-1]
        rows = () if self.num_styles is None else (self.num_styles,)
        # float32 in the computation under any policy (autocast would round to 16 bits)
        self.gamma = self.add_weight(
            shape=(*rows, channels), name="gamma", initializer="ones", autocast=False
        )
        self.beta = self.add_weight(
            shape=(*rows, channels), name="beta", initializer="zeros", autocast=False
        )
        self.mean = self.add_weight(
            shape=(channels,), name="mean", initializer="zeros", trainable=False,
            dtype="float32", autocast=False,
        )  # fmt: skip
        self.variance = self.add_weight(
            shape=(channels,), name="variance", initializer="ones", trainable=False,
            dtype="float32", autocast=False,
        )  # fmt: skip

    def call(self, inputs):
        x, style = (inputs, None) if self.num_styles is None else inputs
        gamma, beta = self.gamma, self.beta
        if style is not None:
            w = ops.cast(style, "float32")
            gamma = ops.matmul(w, gamma)[:, None, None, :]
            beta = ops.matmul(w, beta)[:, None, None, :]
        scale = ops.rsqrt(self.variance + self.epsilon) * gamma
        shift = beta - self.mean * scale
        return ops.cast(ops.cast(x, "float32") * scale + shift, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0] if self.num_styles is not None else input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "num_styles": self.num_styles, "epsilon": self.epsilon}
