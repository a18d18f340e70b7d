"""Pad images to a multiple of a stride and crop results back to the input size.

Generators whose strides or pooling need sizes that are multiples of `m` use these to
accept any height and width: `PadToMultiple` reflects the bottom and right borders up to
the next multiple of `m` and `CropToReference` cuts the output back to the size of the
original input. Both work with sizes known only at run time and lower to `MirrorPad`
and `StridedSlice`, builtins of TFLite and TF.js.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_stylize")
class PadToMultiple(keras.layers.Layer):
    """Reflect-pads bottom and right so that height and width become multiples of `multiple`.

    Input `(batch, height, width, channels)` channels-last. Inputs must be at least
    `multiple` pixels high and wide (reflection needs the padding, `multiple - 1` before
    slicing, to be smaller than the dimension); the generators require 32 px.

    Args:
        multiple: the positive integer that output height and width are multiples of.
    """

    def __init__(self, multiple: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(multiple, int) or multiple < 1:
            raise ValueError(f"`multiple` must be a positive int. Received: multiple={multiple}")
        self.multiple = multiple
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        if self.multiple == 1:
            return inputs
        # Pad by the constant `multiple - 1` and slice down to the next multiple: the
        # result equals reflect-padding by the exact amount, but MirrorPad gets constant
        # paddings, so the channel count stays static for the TFLite converter (dynamic
        # paddings made it lose every dimension and leave the next Conv2D unconverted).
        m = self.multiple
        hw = tf.shape(inputs)[1:3]
        target = (hw + m - 1) // m * m
        padded = tf.pad(inputs, [[0, 0], [0, m - 1], [0, m - 1], [0, 0]], mode="REFLECT")
        return padded[:, : target[0], : target[1], :]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        m = self.multiple

        def up(n: int | None) -> int | None:
            return None if n is None else -(-n // m) * m

        return (batch, up(height), up(width), channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="keras_stylize")
class CropToReference(keras.layers.Layer):
    """Crops `inputs[0]` to the height and width of `inputs[1]`, keeping the top-left corner.

    Called as `CropToReference()([x, reference])`; `x` must be at least as large as
    `reference` in both spatial dimensions. Output has the channels of `x`.
    """

    def call(self, inputs):
        x, reference = inputs
        hw = tf.shape(reference)[1:3]
        return x[:, : hw[0], : hw[1], :]

    def compute_output_shape(self, input_shape: list) -> tuple:
        x_shape, reference_shape = input_shape
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])
