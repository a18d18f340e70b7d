"""Reflection padding of the two spatial axes."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, int) or v < 0 for v in pair):
        raise ValueError(
            f"`{name}` must be a non-negative int or a pair of them. Received: {name}={value}"
        )
    return pair  # type: ignore[return-value]


@keras.saving.register_keras_serializable(package="keras_stylize")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by mirroring the image at its border.

    Input and output are channels-last `(batch, height, width, channels)`. With
    `mode="reflect"` (default) the edge pixel is not repeated (`dcb|abcd|cba`) and each
    spatial dimension must be larger than its padding. With `mode="symmetric"` the edge
    is repeated (`cba|abcd|dcb`), so a padding of 1 equals replication padding and works
    on 1-pixel-wide maps (the coarsest scale of the texture network). Lowers to
    `MirrorPad`, which TFLite and TF.js both implement in both modes.

    Args:
        padding: int, or `(pad_height, pad_width)`: rows added at top and at bottom,
            columns added at left and at right.
        mode: "reflect" or "symmetric".
        **kwargs: base layer arguments.
    """

    def __init__(
        self, padding: int | tuple[int, int] = 1, mode: str = "reflect", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.padding = _pair(padding, "padding")
        if mode not in ("reflect", "symmetric"):
            raise ValueError(f"`mode` must be 'reflect' or 'symmetric'. Received: mode={mode!r}")
        self.mode = mode
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        ph, pw = self.padding
        return ops.pad(inputs, [[0, 0], [ph, ph], [pw, pw], [0, 0]], mode=self.mode)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        ph, pw = self.padding
        return (
            batch,
            None if height is None else height + 2 * ph,
            None if width is None else width + 2 * pw,
            channels,
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": list(self.padding), "mode": self.mode}
