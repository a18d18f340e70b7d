"""The style-prediction network: any painting -> the style weights of a multi-style
generator, in one pass (after Ghiasi et al. 2017, "Exploring the structure of a real-time,
arbitrary neural artistic stylization network", BMVC).

A multi-style generator's conditional instance normalization computes each layer's scale
and shift as `style_weights @ gamma` (`ConditionalInstanceNormalization`): its style
weights are a linear embedding of the style, with one dimension per style row. A named
style is a one-hot row, a blend a convex mix; the predictor maps a painting to a convex
mix too (a softmax), so a painting becomes a new point of the same space, and the named
styles, blends and predicted paintings all drive the one generator, unchanged (tiles,
video, export and `--strength` work as for named styles). The softmax keeps every
prediction among the parameters the generator was trained on: with unbounded weights the
first real-scale trial (ten styles, 30 steps) drifted to extrapolated scales and its style
loss grew a thousandfold.

The convex hull of the named styles is small next to the paintings users bring, so a
generator may have `free_styles` more columns (`StyleWeights`): rows of scales and
shifts that start at zero and are trained with the predictor, read by weights in
(-1, 1): `2 sigmoid(z) - 1`, which is `tanh(z / 2)` (a fused tanh has no kernel in
TF.js's WebAssembly backend; a fused sigmoid has). A prediction is then a point of the
hull plus a bounded offset along these learned directions; named styles (zero on them)
are unchanged. On 15 held-out paintings, 16 free directions took the pairs kept against
another library's arbitrary network from 34 to 51 of 120
(docs/notes/prediction-trials-2026-12-08.md).

The predictor reads a painting through the frozen VGG19 up to relu4_1 and summarizes it
by each channel's mean and standard deviation at relu1_1 ... relu4_1 (1,920 numbers, the
statistics AdaIN matches), standardized, through a small MLP to the style weights:

    painting (1..batch, H, W, 3) RGB in [0, 255]
      -> VGG19 relu1_1, relu2_1, relu3_1, relu4_1 -> ChannelStatistics -> concatenate
      -> Normalization (feature means and variances of the training paintings)
      -> Dense(hidden, relu) -> Dense(named) -> softmax    (the named styles' weights)
                             -> Dense(free) -> 2 sigmoid - 1  (the free directions', if any)
      -> concatenate = style weights (batch, named + free)

The painting may have any size >= 32 px; `PREDICTOR_SIZE` is the size it is read at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_stylize.layers import ChannelStatistics
from keras_stylize.perceptual.vgg import vgg19_features

PREDICTOR_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")
PREDICTOR_SIZE = 256  # shorter side a painting is resized to before prediction, px
STATISTICS_SIZE = 2 * (64 + 128 + 256 + 512)  # length of the summary the MLP reads
PREDICTOR_INPUT = "painting"
FREE_LAYER = "free_weights"  # the Dense (sigmoid) layer of the free directions' weights


def predictor_path(generator_path: str | os.PathLike) -> Path:
    """Where the predictor of the generator file `NAME.keras` lives: `NAME.predictor.keras`
    beside it."""
    path = Path(generator_path)
    return path.with_name(path.name.removesuffix(".keras") + ".predictor.keras")


def style_predictor(
    num_styles: int,
    hidden: int = 256,
    vgg_weights: str | None = "imagenet",
    vgg_weights_path: str | None = None,
    name: str = "style_predictor",
    free_styles: int = 0,
) -> keras.Model:
    """Builds the style-prediction network (see the module docstring).

    The VGG19 part is frozen (`trainable=False`); the normalization starts as the
    identity until `adapt_predictor` sets it from the training paintings. The named
    styles' last layer starts at zero (every painting starts as the even blend of all
    styles).

    Args:
        num_styles: the generator's number of style columns (the output's length), its
            free directions included.
        hidden: units of the MLP's hidden layer.
        vgg_weights, vgg_weights_path: as `vgg19_features` ("imagenet" or None: random,
            tests only).
        name: model name.
        free_styles: how many of the last columns are free directions (`StyleWeights`).

    Returns:
        An uncompiled `keras.Model` mapping paintings `(batch, H, W, 3)` in [0, 255] to
        style weights `(batch, num_styles)` float32.
    """
    if not isinstance(num_styles, int) or num_styles < 1:
        raise ValueError(f"`num_styles` must be a positive int. Received: {num_styles!r}")
    if not 0 <= free_styles < num_styles:
        raise ValueError(f"`free_styles` must be in [0, {num_styles}). Received: {free_styles}")
    vgg = vgg19_features(PREDICTOR_LAYERS, weights=vgg_weights, weights_path=vgg_weights_path)
    painting = keras.Input(shape=(None, None, 3), name=PREDICTOR_INPUT)
    features = vgg(painting)
    stats = [
        ChannelStatistics(name=f"statistics_{layer}")(features[layer]) for layer in PREDICTOR_LAYERS
    ]
    x = keras.layers.Concatenate(name="statistics", dtype="float32")(stats)
    x = keras.layers.Normalization(axis=-1, name="standardize", dtype="float32")(x)
    x = keras.layers.Dense(hidden, activation="relu", name="hidden", dtype="float32")(x)
    logits = keras.layers.Dense(
        num_styles - free_styles, name="style_logits", dtype="float32", kernel_initializer="zeros"
    )(x)
    if not free_styles:
        weights = keras.layers.Softmax(name="style_weights", dtype="float32")(logits)
        return keras.Model(painting, weights, name=name)
    named = keras.layers.Softmax(name="named_weights", dtype="float32")(logits)
    free = keras.layers.Dense(free_styles, activation="sigmoid", name=FREE_LAYER,
                              dtype="float32")(x)  # fmt: skip
    free = keras.layers.Rescaling(2.0, offset=-1.0, name="free_offsets", dtype="float32")(free)
    weights = keras.layers.Concatenate(name="style_weights", dtype="float32")([named, free])
    return keras.Model(painting, weights, name=name)


def painting_statistics(predictor: keras.Model, paintings) -> np.ndarray:
    """`(n, STATISTICS_SIZE)`: the summary the predictor's MLP reads, before
    standardization, for paintings in [0, 255]: a batch `(n, H, W, 3)`, or a list of
    `(1, H, W, 3)` arrays of different sizes."""
    summary = keras.Model(predictor.input, predictor.get_layer("statistics").output)
    batches = [paintings] if isinstance(paintings, np.ndarray) else list(paintings)
    return np.concatenate([np.asarray(summary(np.asarray(b, np.float32))) for b in batches])


def adapt_predictor(predictor: keras.Model, statistics: np.ndarray) -> None:
    """Sets the predictor's standardization to the mean and variance of `statistics`
    `(n, STATISTICS_SIZE)` (of the training paintings, from `painting_statistics`)."""
    statistics = np.asarray(statistics, np.float64)
    mean = statistics.mean(axis=0)
    variance = np.maximum(statistics.var(axis=0), 1e-6 * (1.0 + mean**2))
    layer = predictor.get_layer("standardize")
    count = np.array(len(statistics))
    layer.set_weights([mean.astype(np.float32), variance.astype(np.float32), count])
    layer.finalize_state()


def float32_predictor(predictor: keras.Model) -> keras.Model:
    """A float32 copy of a predictor built under a mixed-precision policy (what `fit`
    saves, so that it runs and exports in float32)."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        free = {layer.name: layer for layer in predictor.layers}.get(FREE_LAYER)
        copy = style_predictor(
            int(predictor.output.shape[-1]), hidden=predictor.get_layer("hidden").units,
            vgg_weights=None, name=predictor.name, free_styles=free.units if free else 0,
        )  # fmt: skip
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(predictor.get_weights())
    copy.get_layer("standardize").finalize_state()
    return copy


FLAT_PAINTING_STD = 2.0  # grey levels; a painting whose every channel varies less is flat


def read_painting(painting: Any, name: str = "the painting") -> np.ndarray:
    """A painting as float32 `(1, H, W, 3)` RGB in [0, 255], its shorter side resized to
    `PREDICTOR_SIZE`: from a path, bytes, PIL image or `(H, W, 3)` array (uint8, or float
    in [0, 255]).

    Raises:
        ImageReadError: unreadable, smaller than 32 px on a side, or a flat colour (no
            style to take), one line naming `name`.
    """
    from PIL import Image

    from keras_stylize.images import ImageReadError, open_image, to_rgb

    if isinstance(painting, np.ndarray):
        array = np.asarray(painting)
        if array.ndim != 3 or array.shape[-1] not in (3, 4):
            raise ImageReadError(f"{name}: expected an (H, W, 3) image, got shape {array.shape}")
        image = Image.fromarray(np.clip(array[..., :3], 0, 255).astype(np.uint8), "RGB")
    elif isinstance(painting, Image.Image):
        image = to_rgb(painting)[0]
    else:
        image = open_image(painting)[0]
    if min(image.size) < 32:
        raise ImageReadError(f"{name}: {image.width}x{image.height} is too small for a style "
                             "(at least 32 px on each side)")  # fmt: skip
    scale = PREDICTOR_SIZE / min(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    array = np.asarray(image.resize(size, Image.Resampling.LANCZOS), np.float32)
    if np.all(array.reshape(-1, 3).std(axis=0) < FLAT_PAINTING_STD):
        raise ImageReadError(f"{name}: a flat colour has no style to take")
    return array[None]


def predict_style(predictor: keras.Model, painting: Any, name: str = "the painting"):
    """The style weights `(num_styles,)` float32 the predictor gives `painting` (see
    `read_painting` for what it may be and what is refused)."""
    return np.asarray(predictor(read_painting(painting, name), training=False), np.float32)[0]
