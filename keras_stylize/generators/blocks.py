"""Building blocks shared by the generator families.

Pixel convention of every generator: input and output are float32 RGB images
`(batch, height, width, 3)`, channels-last, values in [0, 255]. Inside, the input is
mapped to [-1, 1] by `x / 127.5 - 1` and the last activation to [0, 255] by
`127.5 * (tanh(a) + 1)`, both with built-in Keras layers (`Rescaling`, `Activation`).
"""

from __future__ import annotations

import keras

from keras_stylize.layers import InstanceNormalization, NearestUpsampling2D, ReflectionPadding2D

NORMS = ("instance", "batch", "none")


def check_norm(norm: str) -> str:
    """Returns `norm` if it is one of `NORMS`, else raises a ValueError."""
    if norm not in NORMS:
        raise ValueError(f"`norm` must be one of {NORMS}. Received: norm={norm!r}")
    return norm


def normalization(norm: str, name: str) -> keras.layers.Layer | None:
    """The normalization layer for `norm` ("instance", "batch" or "none" -> None)."""
    if norm == "instance":
        return InstanceNormalization(name=name)
    if norm == "batch":
        return keras.layers.BatchNormalization(name=name)
    return None


def conv_norm_act(
    x,
    filters: int,
    kernel_size: int,
    norm: str,
    name: str,
    strides: int = 1,
    activation: str | None = "relu",
    pad_mode: str = "reflect",
):
    """Mirror pad, convolution, optional normalization, optional activation.

    Padding is `kernel_size // 2` on each side (`pad_mode` as in `ReflectionPadding2D`),
    so a stride-1 block keeps the size.
    """
    if kernel_size > 1:
        x = ReflectionPadding2D(kernel_size // 2, mode=pad_mode, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding="valid", name=f"{name}_conv"
    )(x)
    norm_layer = normalization(norm, f"{name}_norm")
    if norm_layer is not None:
        x = norm_layer(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def upsample_conv(x, filters: int, norm: str, name: str, kernel_size: int = 3):
    """x2 nearest-neighbour upsampling followed by `conv_norm_act` (no checkerboard)."""
    x = NearestUpsampling2D(name=f"{name}_upsample")(x)
    return conv_norm_act(x, filters, kernel_size, norm, name)


def input_to_unit_range(x, name: str):
    """Maps [0, 255] pixels to [-1, 1]."""
    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=name)(x)


def output_to_pixels(x, name: str):
    """Maps network activations to [0, 255] with `127.5 * (tanh(x) + 1)`, in float32."""
    x = keras.layers.Activation("tanh", dtype="float32", name=f"{name}_tanh")(x)
    return keras.layers.Rescaling(127.5, offset=127.5, dtype="float32", name=name)(x)
