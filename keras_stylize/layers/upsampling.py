"""Nearest-neighbour x2 upsampling that exports cleanly to TFLite and TF.js."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_stylize")
class NearestUpsampling2D(keras.layers.Layer):
    """Doubles height and width by repeating each pixel (nearest neighbour).

    Channels-last `(batch, height, width, channels)` in, `(batch, 2 * height, 2 * width,
    channels)` out. Implemented as `tf.image.resize(..., method="nearest")` with a size
    computed from the run-time shape: that lowers to `ResizeNearestNeighbor`, a builtin
    of TFLite and TF.js, whereas `keras.layers.UpSampling2D` lowers to a reshape whose
    shape is only known at run time, after which the TFLite converter leaves the next
    convolution unconverted when height and width are dynamic. With half-pixel centres
    (TF2's default) output pixel `i` reads input pixel `i // 2`: an exact repeat.

    Used with a following convolution it is the "resize-convolution" upsampling block of
    Odena et al., "Deconvolution and Checkerboard Artifacts" (Distill, 2016).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        size = 2 * tf.shape(inputs)[1:3]
        outputs = tf.image.resize(inputs, size, method="nearest")
        return tf.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        return (
            batch,
            None if height is None else 2 * height,
            None if width is None else 2 * width,
            channels,
        )
