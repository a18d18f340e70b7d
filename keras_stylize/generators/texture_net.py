"""The multi-scale generator of Ulyanov et al., "Texture Networks" (2016)."""

from __future__ import annotations

import keras

from keras_stylize.generators.blocks import (
    check_norm,
    check_output,
    conv_norm_act,
    input_to_unit_range,
    style_input,
    to_pixels,
)
from keras_stylize.layers import (
    NearestUpsampling2D,
    PadToMultiple,
    SpatialNoise,
)
from keras_stylize.options import TEXTURE_SCALES

DEFAULT_RATIOS = tuple(2**k for k in reversed(range(TEXTURE_SCALES)))  # 32, 16, ..., 2, 1


def _block(x, filters: int, norm: str, name: str, style=None):
    """conv3x3 -> norm -> ReLU, conv3x3 -> norm -> ReLU, conv1x1 -> norm -> ReLU.

    3x3 convolutions are padded by repeating the edge (symmetric mirror padding of 1 px,
    i.e. the replication padding of texture_nets), which also works on the 1x1 maps of
    the coarsest scale of a 32 px input.
    """
    x = conv_norm_act(x, filters, 3, norm, f"{name}_1", pad_mode="symmetric", style=style)
    x = conv_norm_act(x, filters, 3, norm, f"{name}_2", pad_mode="symmetric", style=style)
    return conv_norm_act(x, filters, 1, norm, f"{name}_3", style=style)


def texture_net_generator(
    norm: str = "instance",
    ratios: tuple[int, ...] = DEFAULT_RATIOS,
    channels_per_scale: int = 8,
    noise_channels: int = 0,
    noise_seed: int = 0,
    output: str = "linear",
    num_styles: int | None = None,
    style_names: list[str] | None = None,
    name: str | None = None,
) -> keras.Model:
    """Builds the multi-scale ("pyramid") texture network as a functional model.

    The content image is average-pooled by each ratio (coarsest first). Each scale goes
    through a block of conv3x3 -> norm -> ReLU, conv3x3 -> norm -> ReLU, conv1x1 -> norm ->
    ReLU with `channels_per_scale` filters. Going from coarse to fine, the running result
    is upsampled x2 (nearest neighbour), concatenated with the next finer branch, and passed
    through the same three-conv block with the joined channel count (8, 16, ..., 48 for six
    scales). A final 1x1 convolution gives RGB. About 0.12M parameters with the defaults.

    This follows the stylization generator of the authors' code, texture_nets
    `models/pyramid.lua` (ratios 32, 16, 8, 4, 2, 1; 8 channels per scale), as used for
    the Instance Normalization paper's results; the 2016 Texture Networks paper also
    feeds noise to every scale, available here as an explicit option.

    Pixel convention: input and output are float32 RGB `(batch, height, width, 3)` in
    [0, 255]; the input is mapped to [-1, 1] and the last activation to pixels by `output`.
    Any height and width >= 32 is accepted: the input is reflect-padded to a multiple of
    the largest ratio before pooling and the output is cropped back to the input size.

    Args:
        norm: "instance", "batch" or "none".
        ratios: pooling factors, strictly decreasing powers of two, each half the
            previous one, ending at 1.
        channels_per_scale: filters of each branch (8 in the paper).
        noise_channels: if > 0, this many planes of deterministic uniform noise
            (`SpatialNoise`, seeded by `noise_seed + scale index`) are appended to the
            input of every scale. Off by default: the output then depends on the image only.
        noise_seed: base seed of the noise planes.
        output: pixel mapping of the last activation, "linear" or "tanh" (see
            `blocks.OUTPUTS`).
        num_styles: if set, a multi-style generator (conditional instance
            normalization; inputs `[images, style_weights]`). Needs `norm="instance"`.
        style_names: names of the styles, in column order (default "style_0", ...).
        name: model name; defaults to `texture_net_<norm>`.

    Returns:
        An uncompiled `keras.Model`.

    References:
        Ulyanov, Lebedev, Vedaldi, Lempitsky, "Texture Networks: Feed-forward Synthesis
        of Textures and Stylized Images", ICML 2016; Ulyanov, Vedaldi, Lempitsky,
        "Instance Normalization: The Missing Ingredient for Fast Stylization",
        arXiv:1607.08022; github.com/DmitryUlyanov/texture_nets (models/pyramid.lua).
    """
    check_norm(norm)
    check_output(output)
    ratios = tuple(int(r) for r in ratios)
    halving = all(a == 2 * b for a, b in zip(ratios, ratios[1:], strict=False))
    if not ratios or ratios[-1] != 1 or not halving:
        raise ValueError(
            "`ratios` must be decreasing powers of two, each half the previous one, "
            f"ending at 1. Received: ratios={ratios}"
        )
    if channels_per_scale < 1:
        raise ValueError(f"`channels_per_scale` must be >= 1. Received: {channels_per_scale}")
    if noise_channels < 0:
        raise ValueError(f"`noise_channels` must be >= 0. Received: {noise_channels}")

    if num_styles is not None and norm != "instance":
        raise ValueError(f"`num_styles` needs norm='instance'. Received: norm={norm!r}")

    # === Functional Model ===
    images = keras.Input(shape=(None, None, 3), name="images")
    weights, style = style_input(num_styles, style_names)
    x = PadToMultiple(ratios[0], name="pad_to_multiple")(images)
    x = input_to_unit_range(x, name="scale_input")
    joined = None
    for index, ratio in enumerate(ratios):
        scale = f"scale{ratio}"
        branch = x
        if ratio > 1:
            branch = keras.layers.AveragePooling2D(ratio, name=f"{scale}_pool")(branch)
        if noise_channels:
            branch = SpatialNoise(noise_channels, seed=noise_seed + index, name=f"{scale}_noise")(
                branch
            )
        branch = _block(branch, channels_per_scale, norm, f"{scale}_branch", style)
        if joined is None:
            joined = branch
            continue
        joined = NearestUpsampling2D(name=f"{scale}_upsample")(joined)
        joined = keras.layers.Concatenate(name=f"{scale}_join")([joined, branch])
        joined = _block(joined, channels_per_scale * (index + 1), norm, f"{scale}_joined", style)
    x = keras.layers.Conv2D(3, 1, name="output_conv")(joined)
    outputs = to_pixels(x, images, output)
    inputs = images if weights is None else [images, weights]
    return keras.Model(inputs, outputs, name=name or f"texture_net_{norm}")
