"""The style-weights input of multi-style generators, with the names of the styles."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_stylize")
class StyleWeights(keras.layers.Layer):
    """Passes style weights `(batch, num_styles)` through as float32 and keeps the names
    of the styles in the model's config (so a `.keras` file knows its styles).

    The first layer after a multi-style generator's `style_weights` input:
    `model.get_layer("style_mix").style_names` lists the styles in column
    order. Weights are not renormalized: a row is used as given (one-hot for one style,
    non-negative and summing to 1 for a blend; `inference.style_vector` builds such rows).

    Args:
        style_names: one name per style (column), unique.
    """

    def __init__(self, style_names: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        names = [str(n) for n in style_names]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"`style_names` must be unique and non-empty. Received: {names}")
        self.style_names = names

    def call(self, inputs):
        return ops.cast(inputs, "float32")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "style_names": list(self.style_names)}
