"""Building blocks shared by the generator families.

Pixel convention of every generator: input and output are float32 RGB images
`(batch, height, width, 3)`, channels-last, values in [0, 255]. Inside, the input is
mapped to [-1, 1] by `x / 127.5 - 1` and the last activation `a` to pixels by one of
`OUTPUTS`: "linear", `127.5 * (a + 1)` clipped to [0, 255] at inference only (see
`ClipToPixelRange`), or "tanh", `127.5 * (tanh(a) + 1)` (black and white only as |a|
goes to infinity, where the gradient vanishes).

The layers that compute pixels (`PIXEL_LAYERS`: the output mapping and the final crop)
always compute in float32, whatever the model's dtype policy.
"""

from __future__ import annotations

import keras

from keras_stylize.layers import (
    ClipToPixelRange,
    ConditionalInstanceNormalization,
    CropToReference,
    InstanceNormalization,
    NearestUpsampling2D,
    ReflectionPadding2D,
    StyleWeights,
)
from keras_stylize.options import NORMS, OUTPUTS

STYLE_INPUT = "style_weights"  # the style-weights input of multi-style generators
STYLE_LAYER = "style_mix"  # the StyleWeights layer after it, which keeps the style names
OUTPUT_LAYER = "scale_output"  # the last activation mapped to pixels (see `output_to_pixels`)
CROP_LAYER = "crop"  # the output cropped back to the input's size
PIXEL_LAYERS = (OUTPUT_LAYER, f"{OUTPUT_LAYER}_linear", f"{OUTPUT_LAYER}_tanh", CROP_LAYER)


def check_norm(norm: str) -> str:
    """Returns `norm` if it is one of `NORMS`, else raises a ValueError."""
    if norm not in NORMS:
        raise ValueError(f"`norm` must be one of {NORMS}. Received: norm={norm!r}")
    return norm


def check_output(output: str) -> str:
    """Returns `output` if it is one of `OUTPUTS`, else raises a ValueError."""
    if output not in OUTPUTS:
        raise ValueError(f"`output` must be one of {OUTPUTS}. Received: output={output!r}")
    return output


def style_input(num_styles: int | None, style_names: list[str] | None):
    """`(input, style weights tensor)` of a multi-style generator, or `(None, None)`.

    The input is `STYLE_INPUT`, float32 `(batch, num_styles)`; it goes through a
    `StyleWeights` layer named `STYLE_LAYER` that keeps `style_names` (default "style_0",
    "style_1", ...) in the model's config.
    """
    if num_styles is None:
        if style_names is not None:
            raise ValueError("`style_names` needs `num_styles`")
        return None, None
    if not isinstance(num_styles, int) or num_styles < 1:
        raise ValueError(f"`num_styles` must be a positive int or None. Received: {num_styles!r}")
    names = (
        list(style_names) if style_names is not None else [f"style_{i}" for i in range(num_styles)]
    )
    if len(names) != num_styles:
        raise ValueError(f"{len(names)} style_names for num_styles={num_styles}")
    weights = keras.Input(shape=(num_styles,), name=STYLE_INPUT)
    return weights, StyleWeights(names, name=STYLE_LAYER)(weights)


def normalize(x, norm: str, name: str, style=None):
    """Applies the normalization of `norm` to `x`: "instance" (conditional on the style
    weights tensor `style` when it is given), "batch", or "none" (unchanged)."""
    if norm == "instance":
        if style is not None:
            layer = ConditionalInstanceNormalization(int(style.shape[-1]), name=name)
            return layer([x, style])
        return InstanceNormalization(name=name)(x)
    if norm == "batch":
        return keras.layers.BatchNormalization(name=name)(x)
    return x


def conv_norm_act(
    x,
    filters: int,
    kernel_size: int,
    norm: str,
    name: str,
    strides: int = 1,
    activation: str | None = "relu",
    pad_mode: str = "reflect",
    style=None,
):
    """Mirror pad, convolution, optional normalization, optional activation.

    Padding is `kernel_size // 2` on each side (`pad_mode` as in `ReflectionPadding2D`),
    so a stride-1 block keeps the size. `style` (a style weights tensor) makes instance
    normalization conditional. The convolution has no bias when a normalization follows:
    the normalization subtracts the per-channel mean, so a bias would have no effect and
    a zero gradient (Adam would turn its rounding noise into random steps).
    """
    if kernel_size > 1:
        x = ReflectionPadding2D(kernel_size // 2, mode=pad_mode, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid",
        use_bias=norm == "none",
        name=f"{name}_conv",
    )(x)
    x = normalize(x, norm, f"{name}_norm", style)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def upsample_conv(x, filters: int, norm: str, name: str, kernel_size: int = 3, style=None):
    """x2 nearest-neighbour upsampling followed by `conv_norm_act` (no checkerboard)."""
    x = NearestUpsampling2D(name=f"{name}_upsample")(x)
    return conv_norm_act(x, filters, kernel_size, norm, name, style=style)


def input_to_unit_range(x, name: str):
    """Maps [0, 255] pixels to [-1, 1]."""
    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=name)(x)


def to_pixels(x, images, output: str = "linear"):
    """The generator's output: the last activation `x` mapped to pixels
    (`output_to_pixels`) and cropped to the size of the input `images`, in float32."""
    x = output_to_pixels(x, name=OUTPUT_LAYER, output=output)
    return CropToReference(name=CROP_LAYER, dtype="float32")([x, images])


def output_to_pixels(x, name: str, output: str = "linear"):
    """Maps network activations `a` to pixels in float32 (see `OUTPUTS`).

    "linear": `127.5 * (a + 1)`, clipped to [0, 255] at inference only. "tanh":
    `127.5 * (tanh(a) + 1)`.
    """
    check_output(output)
    if output == "tanh":
        x = keras.layers.Activation("tanh", dtype="float32", name=f"{name}_tanh")(x)
        return keras.layers.Rescaling(127.5, offset=127.5, dtype="float32", name=name)(x)
    # A per-channel offset: the TF.js converter folds this add into the last convolution as
    # its bias, and its fused kernel rejects a scalar (rank-0) bias.
    x = keras.layers.Rescaling(
        127.5, offset=[127.5, 127.5, 127.5], dtype="float32", name=f"{name}_linear"
    )(x)
    return ClipToPixelRange(name=name)(x)
