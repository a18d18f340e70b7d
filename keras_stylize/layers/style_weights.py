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

    The last `free_styles` columns are not styles but free directions of a style
    predictor (`generators.prediction`): a predicted row puts a point of the named
    styles' convex hull plus an offset along them; alone they paint nothing meaningful,
    so users pick and list only the `preset_names`.

    Args:
        style_names: one name per column, unique.
        free_styles: how many of the last columns are free directions.
    """

    def __init__(self, style_names: list[str], free_styles: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        names = [str(n) for n in style_names]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"`style_names` must be unique and non-empty. Received: {names}")
        if not 0 <= int(free_styles) < len(names):
            raise ValueError(f"`free_styles` must be in [0, {len(names)}). Received: "
                             f"{free_styles}")  # fmt: skip
        self.style_names = names
        self.free_styles = int(free_styles)

    @property
    def preset_names(self) -> list[str]:
        """The names of the styles users pick (every column but the free ones)."""
        return self.style_names[: len(self.style_names) - self.free_styles]

    def call(self, inputs):
        return ops.cast(inputs, "float32")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "style_names": list(self.style_names),
                "free_styles": self.free_styles}  # fmt: skip
