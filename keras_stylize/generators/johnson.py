"""The residual image transformation network of Johnson et al. (2016)."""

from __future__ import annotations

import keras

from keras_stylize.generators.blocks import (
    check_norm,
    check_output,
    conv_norm_act,
    input_to_unit_range,
    style_input,
    to_pixels,
    upsample_conv,
)
from keras_stylize.layers import PadToMultiple


def _residual_block(x, filters: int, norm: str, name: str, style=None):
    """Two 3x3 reflection-padded convolutions with a skip connection (no final ReLU)."""
    y = conv_norm_act(x, filters, 3, norm, f"{name}_a", style=style)
    y = conv_norm_act(y, filters, 3, norm, f"{name}_b", activation=None, style=style)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def johnson_generator(
    norm: str = "instance",
    width: float = 1.0,
    num_residual_blocks: int = 5,
    output: str = "linear",
    num_styles: int | None = None,
    style_names: list[str] | None = None,
    name: str | None = None,
) -> keras.Model:
    """Builds the feed-forward style network of Johnson et al. as a functional model.

    Architecture (filters at `width=1`): 9x9 conv 32 -> 3x3 stride-2 conv 64 -> 3x3
    stride-2 conv 128 -> `num_residual_blocks` residual blocks of 128 -> x2 nearest
    upsampling + 3x3 conv 64 -> x2 upsampling + 3x3 conv 32 -> 9x9 conv 3. Every conv
    is reflection padded and followed by the chosen normalization and a ReLU, except the
    last. Upsampling is nearest-neighbour resize + convolution instead of the paper's
    fractionally-strided convolutions (avoids checkerboard artifacts). About 1.68M
    parameters at `width=1`.

    Pixel convention: input and output are float32 RGB `(batch, height, width, 3)` in
    [0, 255]; the input is mapped to [-1, 1] and the last activation to pixels by `output`.
    Any height and width >= 32 is accepted: the input is reflect-padded to a multiple
    of 4 and the output cropped back, so the output has the input's size.

    Args:
        norm: "instance" (the paper's fix), "batch" (the baseline) or "none".
        width: multiplier of every layer's filter count (e.g. 0.5 for a fast model).
        num_residual_blocks: number of residual blocks (5 in Johnson et al.).
        output: pixel mapping of the last activation, "linear" or "tanh" (see
            `blocks.OUTPUTS`).
        num_styles: if set, a multi-style generator: every instance normalization
            becomes a `ConditionalInstanceNormalization` with this many styles and the
            model takes `[images, style_weights]`, style weights `(batch, num_styles)`.
            Needs `norm="instance"`.
        style_names: names of the styles, in column order (default "style_0", ...).
        name: model name; defaults to `johnson_<norm>`.

    Returns:
        An uncompiled `keras.Model`.

    References:
        Johnson, Alahi, Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
        Super-Resolution", ECCV 2016 (and its supplementary material);
        Ulyanov, Vedaldi, Lempitsky, "Instance Normalization: The Missing Ingredient for
        Fast Stylization", arXiv:1607.08022.
    """
    check_norm(norm)
    check_output(output)
    if not width > 0:
        raise ValueError(f"`width` must be positive. Received: width={width}")
    if num_residual_blocks < 0:
        raise ValueError(f"`num_residual_blocks` must be >= 0. Received: {num_residual_blocks}")

    def filters(n: int) -> int:
        return max(1, int(round(n * width)))

    if num_styles is not None and norm != "instance":
        raise ValueError(f"`num_styles` needs norm='instance'. Received: norm={norm!r}")

    # === Functional Model ===
    images = keras.Input(shape=(None, None, 3), name="images")
    weights, style = style_input(num_styles, style_names)
    x = PadToMultiple(4, name="pad_to_multiple")(images)
    x = input_to_unit_range(x, name="scale_input")
    x = conv_norm_act(x, filters(32), 9, norm, "encoder1", style=style)
    x = conv_norm_act(x, filters(64), 3, norm, "encoder2", strides=2, style=style)
    x = conv_norm_act(x, filters(128), 3, norm, "encoder3", strides=2, style=style)
    for i in range(num_residual_blocks):
        x = _residual_block(x, filters(128), norm, f"residual{i + 1}", style=style)
    x = upsample_conv(x, filters(64), norm, "decoder1", style=style)
    x = upsample_conv(x, filters(32), norm, "decoder2", style=style)
    x = conv_norm_act(x, 3, 9, "none", "output", activation=None)
    outputs = to_pixels(x, images, output)
    inputs = images if weights is None else [images, weights]
    return keras.Model(inputs, outputs, name=name or f"johnson_{norm}")
