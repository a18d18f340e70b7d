"""Tiled inference whose tiles share the whole image's instance-norm statistics.

Instance normalization normalizes each channel by its mean and variance over the whole
image, so tiles normalized by their own statistics disagree with the whole-image result
and with each other (seams). Here every normalization layer of the generator is
replaced (`tile_model`) by a `SharedStatisticsNormalization` with the same scale and
shift, which normalizes with statistics given to it, and the statistics are gathered
exactly, tile by tile, without ever holding the whole image's activations:

- the normalization layers are grouped by level: a layer's level is the number of
  normalization layers on the longest path from the input to it (the Johnson network
  is a chain of 15 levels; the texture network's parallel branches share levels);
- level by level, the network truncated at the inputs of that level's layers runs over
  all tiles (the earlier levels' statistics are known by then), and the sums of each
  input and its square over the part of the image each tile owns give that layer's
  whole-image mean and variance;
- a last pass runs the whole network over the tiles and keeps each tile's own region.

A tile is its own region plus `overlap` pixels of context on every side (clamped at the
image border); own regions and tile corners are multiples of the generator's size
multiple, so strided and pooled layers line up with the whole image's. With context at
least the receptive-field radius of the network (about 94 px for the Johnson network)
the tiles equal the whole-image result up to float rounding; with less, pixels near a
tile's edge miss some far context (`benchmarks/stylize.py tiling` measures both). The
cost is the final pass plus one truncated pass per level: about 7x a whole-image pass
for the Johnson network, paid only by images too large to stylize whole.

The tile model (`TileModel`) belongs to an `InferenceSession` and its statistics are
variables: do not run `stylize_tiled` on one tile model from several threads at once.

Pixel conventions as in `inference`: `(H, W, 3)` RGB in [0, 255].
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from keras_stylize.generators.graph import inbound_layer_names
from keras_stylize.layers import (
    ConditionalInstanceNormalization,
    InstanceNormalization,
    PadToMultiple,
    SharedStatisticsNormalization,
)


def size_multiple(generator: keras.Model) -> int:
    """The multiple the generator pads its input to (its `PadToMultiple`), else 1."""
    return max([layer.multiple for layer in generator.layers
                if isinstance(layer, PadToMultiple)] or [1])  # fmt: skip


class TileModel:
    """The models of tiled inference for `generator`.

    `model` shares the generator's layers except its instance norms, which become
    `SharedStatisticsNormalization` layers with the same scale, shift and dtype policy.
    `levels[i]` are the normalization layers of level i (see the module docstring) and
    `truncated[i]` the model from the generator's inputs to their feature inputs.
    """

    def __init__(self, generator: keras.Model) -> None:
        self.multiple = size_multiple(generator)
        self._originals: dict[str, keras.layers.Layer] = {}

        def clone(layer):
            if isinstance(layer, (InstanceNormalization, ConditionalInstanceNormalization)):
                self._originals[layer.name] = layer
                return SharedStatisticsNormalization(
                    getattr(layer, "num_styles", None), layer.epsilon, name=layer.name,
                    dtype=layer.dtype_policy,
                )  # fmt: skip
            return layer

        self.model = keras.models.clone_model(generator, clone_function=clone)
        depth: dict[str, int] = {}  # layer name -> level after it
        self.levels: list[list] = []
        by_name = {layer.name: layer for layer in self.model.layers}
        for config in self.model.get_config()["layers"]:  # topological order
            layer = by_name.get(config["name"])  # None for a bare operation (e.g. x * 255)
            level = max((depth[name] for name in inbound_layer_names(config)), default=0)
            if isinstance(layer, SharedStatisticsNormalization):
                if level == len(self.levels):
                    self.levels.append([])
                self.levels[level].append(layer)
                level += 1
            depth[config["name"]] = level
        self.truncated = [
            keras.Model(self.model.input, [keras.tree.flatten(norm.input)[0] for norm in group])
            for group in self.levels
        ]
        self.copy_parameters()

    def copy_parameters(self) -> None:
        """Gives the shared-statistics layers the scale and shift of the generator's norms
        (the other layers are the generator's own)."""
        for group in self.levels:
            for layer in group:
                old = self._originals[layer.name]
                gamma, beta = layer.gamma, layer.beta
                gamma.assign(old.gamma if old.gamma is not None else np.ones(gamma.shape))
                beta.assign(old.beta if old.beta is not None else np.zeros(beta.shape))


def _spans(size: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int, int, int]]:
    """`(start, end, own_start, own_end)` of the tiles along an axis of `size` px (a
    multiple of `multiple`): own regions of about `tile` px that partition the axis,
    boundaries and starts at multiples of `multiple`. Every tile has the same length (the
    longest own region plus `overlap` on both sides, at most `size`): a tile at the border
    takes its missing context from the inner side, so that all tiles have one shape and
    TensorFlow's memory pool reuses the same blocks for each (tiles of varying shapes
    fragmented it and raised the peak memory)."""
    units, tile_units = size // multiple, max(1, tile // multiple)
    count = max(1, -(-units // tile_units))
    bounds = [round(i * units / count) * multiple for i in range(count + 1)]
    margin = -(-overlap // multiple) * multiple
    owns = list(zip(bounds, bounds[1:], strict=False))
    length = min(size, max(b - a for a, b in owns) + 2 * margin)
    starts = [min(max(0, a - margin), size - length) for a, _ in owns]
    return [(start, start + length, a, b) for start, (a, b) in zip(starts, owns, strict=True)]


def _centred_sums(features: np.ndarray, shift: np.ndarray, rows: int = 32) -> np.ndarray:
    """`[sum(x - shift), sum((x - shift) ** 2)]` over the pixels of `(H, W, C)` float32
    `features`, per channel, in float64: a few rows at a time, so the float64 copies stay
    small (a whole tile's copy and its square would add several hundred MB to the peak
    memory that the tile size was planned for)."""
    sums = np.zeros((2, features.shape[-1]), np.float64)
    for start in range(0, features.shape[0], rows):
        block = np.subtract(features[start : start + rows], shift, dtype=np.float64)
        sums[0] += block.sum(axis=(0, 1))
        sums[1] += np.square(block, out=block).sum(axis=(0, 1))
    return sums


def stylize_tiled(
    tiles: TileModel,
    run: Callable,
    pixels: np.ndarray,
    tile: int,
    overlap: int,
    style_weights: np.ndarray | None = None,
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """The generator's output for `pixels`, computed tile by tile with the whole image's
    statistics (see the module docstring): float32 `(H, W, 3)`, or, with `finish`, the
    uint8 image `finish(photo_tile, output_tile)` gives tile by tile (a pointwise
    function; no float32 copy of the whole image is ever made).

    Args:
        tiles: the tile model of any generator of the package (batch norm and no norm
            need no statistics: one pass).
        run: `run(images, style_weights, model=...)` gives a model's float32 outputs
            (`InferenceSession.run`).
        pixels: `(H, W, 3)` in [0, 255], uint8 or float32.
        tile: side of a tile's own region, px (rounded to the generator's multiple).
        overlap: context around each tile's own region, px.
        style_weights: the style weights row of a multi-style generator.
        finish: turns a tile's photo and float32 output into the uint8 result.
    """
    if tile < 32 or overlap < 0:
        raise ValueError(f"need tile >= 32 and overlap >= 0; got {tile}, {overlap}")
    multiple = tiles.multiple
    height, width, _ = pixels.shape
    padded_h, padded_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
    # the reflection the generator's PadToMultiple would apply to the whole image
    padded = np.pad(pixels, ((0, padded_h - height), (0, padded_w - width), (0, 0)), "reflect")
    spans = [
        (rows, cols)
        for rows in _spans(padded_h, tile, overlap, multiple)
        for cols in _spans(padded_w, tile, overlap, multiple)
    ]
    for partial, group in zip(tiles.truncated, tiles.levels, strict=True):
        sums = [np.zeros((2, norm.mean.shape[0]), np.float64) for norm in group]
        count = [0] * len(group)
        shifts = [None] * len(group)
        for (y0, y1, oy0, oy1), (x0, x1, ox0, ox1) in spans:
            tile_pixels = padded[None, y0:y1, x0:x1].astype(np.float32)
            features = run(tile_pixels, style_weights, model=partial)
            features = features if isinstance(features, list) else [features]
            for i, x in enumerate(features):
                stride = (y1 - y0) // x.shape[1]
                own = x[0, (oy0 - y0) // stride : (oy1 - y0) // stride,
                        (ox0 - x0) // stride : (ox1 - x0) // stride]  # fmt: skip
                if shifts[i] is None:  # sums around a first estimate do not cancel
                    shifts[i] = own.mean(axis=(0, 1), dtype=np.float64)
                sums[i] += _centred_sums(own, shifts[i])
                count[i] += own.shape[0] * own.shape[1]
        for norm, (s1, s2), n, shift in zip(group, sums, count, shifts, strict=True):
            norm.mean.assign((shift + s1 / n).astype(np.float32))
            norm.variance.assign(np.maximum(s2 / n - (s1 / n) ** 2, 0.0).astype(np.float32))
    out = np.empty((height, width, 3), np.uint8 if finish else np.float32)
    for (y0, y1, oy0, oy1), (x0, x1, ox0, ox1) in spans:
        if oy0 >= height or ox0 >= width:
            continue  # only padding
        tile_pixels = padded[None, y0:y1, x0:x1].astype(np.float32)
        result = run(tile_pixels, style_weights, model=tiles.model)[0]
        oy1, ox1 = min(oy1, height), min(ox1, width)
        own = result[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0]
        out[oy0:oy1, ox0:ox1] = finish(pixels[oy0:oy1, ox0:ox1], own) if finish else own
    return out
