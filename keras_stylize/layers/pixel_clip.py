"""Clipping generator outputs to the pixel range at inference only."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_stylize")
class ClipToPixelRange(keras.layers.Layer):
    """Clips to [0, 255] at inference and passes values through unchanged in training.

    The last layer of generators with a linear output (`output="linear"`). During
    training the perceptual losses see the unclipped values, so a region pushed out of
    the pixel range costs loss and keeps its gradient; a saturating output (`tanh`, or a
    clip inside the graph) would give such a region no gradient at all, so a region stuck
    at black would stay there (docs/zoo.md, "Recipe").
    At inference (`training=False`, every export) the result is a valid image in [0, 255].
    Computed in float32.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs, training: bool | None = None):
        x = ops.cast(inputs, "float32")
        if training:
            return x
        return ops.clip(x, 0.0, 255.0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape
