"""Reflection padding of the two spatial axes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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


def mirror_slices(x, axis: int, pad: int, symmetric: bool):
    """`x` with `pad` mirrored rows (axis 1) or columns (axis 2) added at both ends, built
    from slices and a concatenation (no `MirrorPad`, which XNNPACK lacks)."""
    if pad == 0:
        return x

    def line(i: int):  # the i-th row/column, counted from the end when negative
        index = [slice(None)] * 4
        index[axis] = slice(i, i + 1 if i != -1 else None)
        return x[tuple(index)]

    skip = 0 if symmetric else 1  # reflect does not repeat the edge line
    before = [line(i) for i in range(pad - 1 + skip, skip - 1, -1)]
    after = [line(-1 - skip - i) for i in range(pad)]
    return ops.concatenate([*before, x, *after], axis=axis)


@keras.saving.register_keras_serializable(package="keras_stylize")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by mirroring the image at its border.

    Input and output are channels-last `(batch, height, width, channels)`. With
    `mode="reflect"` (default) the edge pixel is not repeated (`dcb|abcd|cba`) and each
    spatial dimension must be larger than its padding. With `mode="symmetric"` the edge
    is repeated (`cba|abcd|dcb`), so a padding of 1 equals replication padding and works
    on 1-pixel-wide maps (the coarsest scale of the texture network).

    Lowers to `MirrorPad`. Inside `sliced_padding(model)` (used by the TFLite exporter)
    it lowers to one-row and one-column slices concatenated around the input instead:
    XNNPACK, TFLite's CPU delegate, has no MirrorPad, and the graph split at each of them
    made the TFLite export 1.7x slower (494 vs 289 ms at 512 px). In TensorFlow the
    slices hold more temporaries (whole-image peak memory +13 %), so MirrorPad stays the
    default (docs/benchmarks.md).

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
        self.lowering = "mirror_pad"  # or "slices": see `sliced_padding`; not saved
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        ph, pw = self.padding
        if self.lowering == "slices":
            symmetric = self.mode == "symmetric"
            return mirror_slices(mirror_slices(inputs, 1, ph, symmetric), 2, pw, symmetric)
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


@contextlib.contextmanager
def sliced_padding(model: keras.Model) -> Iterator[None]:
    """Within this block, `model`'s `ReflectionPadding2D` layers lower to slices and a
    concatenation instead of `MirrorPad` (same values); trace the model inside it."""
    layers = [layer for layer in model.layers if isinstance(layer, ReflectionPadding2D)]
    for layer in layers:
        layer.lowering = "slices"
    try:
        yield
    finally:
        for layer in layers:
            layer.lowering = "mirror_pad"
