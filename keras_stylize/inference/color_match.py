"""Colour matching: a stylized image's colours mapped onto a painting's by one affine map.

The map is the linear Monge-Kantorovich transfer (Pitié and Kokaram, "The linear
Monge-Kantorovitch linear colour mapping for example-based colour transfer", CVMP 2007):
the affine map `x -> M (x - mu_s) + mu_t` that takes the source colours' mean `mu_s` and
covariance `C_s` to the target's (`mu_t`, `C_t`) with the least total displacement,
`M = C_s^-1/2 (C_s^1/2 C_t C_s^1/2)^1/2 C_s^-1/2` (symmetric, positive definite).

Conventions: colours are RGB in [0, 255], pixels `(..., 3)` channels-last. A map is a
`ColorMap` applied per pixel, the same everywhere: one map serves every tile of a large
image and every frame of a video.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Added to the source covariance (grey levels squared): a near-flat output (a dark room)
# would otherwise get a huge gain along its flat directions.
SOURCE_FLOOR = 4.0
MAX_GAIN = 4.0  # largest stretch of the map along any colour direction
PREVIEW_SIZE = 512  # long side, px, of the preview a map for a larger image is made from


@dataclass(frozen=True)
class ColorStatistics:
    """Mean `(3,)` and covariance `(3, 3)` of RGB colours in [0, 255] (float64)."""

    mean: np.ndarray
    covariance: np.ndarray


@dataclass(frozen=True)
class ColorMap:
    """The affine colour map `x -> matrix @ x + offset` (RGB in [0, 255])."""

    matrix: np.ndarray
    offset: np.ndarray

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """`pixels` `(..., 3)` mapped, float32, not clipped."""
        x = np.asarray(pixels, np.float32)
        return x @ self.matrix.T.astype(np.float32) + self.offset.astype(np.float32)


def color_statistics(pixels: np.ndarray) -> ColorStatistics:
    """The `ColorStatistics` of the colours `pixels` `(..., 3)` (uint8 or float)."""
    x = np.asarray(pixels, np.float64).reshape(-1, 3)
    if len(x) < 2:
        raise ValueError("colour statistics need at least 2 pixels")
    return ColorStatistics(x.mean(axis=0), np.cov(x, rowvar=False, bias=True))


def mixed_statistics(parts: Iterable[tuple[ColorStatistics, float]]) -> ColorStatistics:
    """The statistics of a mixture: each `(statistics, weight)` part's colours drawn with
    probability `weight / sum of weights` (the colours of a blend of paintings)."""
    parts = list(parts)
    weights = np.array([w for _, w in parts], np.float64)
    if not parts or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError("a mixture needs non-negative weights, not all zero")
    weights = weights / weights.sum()
    mean = sum(w * s.mean for (s, _), w in zip(parts, weights, strict=True))
    second = sum(w * (s.covariance + np.outer(s.mean, s.mean))
                 for (s, _), w in zip(parts, weights, strict=True))  # fmt: skip
    return ColorStatistics(mean, second - np.outer(mean, mean))


def _spectral(matrix: np.ndarray, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`V f(values) V^T` of the symmetric part of `matrix` (eigenvalues `values`)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * function(values)) @ vectors.T


def _root(values: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(values, 1e-12))


def color_map(source: ColorStatistics, target: ColorStatistics) -> ColorMap:
    """The map taking colours with the statistics `source` to `target` (see the module
    docstring), with `SOURCE_FLOOR` added to the source covariance and its stretch along
    any direction limited to `MAX_GAIN`."""
    cs = source.covariance + SOURCE_FLOOR * np.eye(3)
    root = _spectral(cs, _root)
    inverse_root = _spectral(cs, lambda values: 1 / _root(values))
    matrix = inverse_root @ _spectral(root @ target.covariance @ root, _root) @ inverse_root
    matrix = _spectral(matrix, lambda values: np.clip(values, 0.0, MAX_GAIN))
    return ColorMap(matrix, target.mean - matrix @ source.mean)


def painting_colors(style: Any) -> ColorStatistics | None:
    """The colour statistics a style's result is matched to: those of its painting, or
    the mixture of its paintings' with the blend's weights; None unless every entry of
    `style` (as `style_vector` takes it) is a painting. A `ResolvedStyle` gives its own.

    Raises:
        ImageReadError: a painting is unreadable, too small or a flat colour.
    """
    from keras_stylize.generators.prediction import read_painting
    from keras_stylize.generators.styles import ResolvedStyle, is_painting, style_entries

    if isinstance(style, ResolvedStyle):
        return style.colors
    entries = style_entries(style)
    if not entries or not all(is_painting(key) for key, _ in entries):
        return None
    parts = []
    for key, weight in entries:
        label = "the painting" if isinstance(key, np.ndarray) else os.fspath(key)
        parts.append((color_statistics(read_painting(key, label)), weight))
    return mixed_statistics(parts)


def preview_map(run: Callable[[np.ndarray], np.ndarray], photo: np.ndarray,
                colors: ColorStatistics) -> ColorMap:  # fmt: skip
    """The map taking the colours of `photo`'s stylization to `colors`, measured on a
    preview: `photo` (uint8 `(H, W, 3)`) with its long side reduced to `PREVIEW_SIZE`
    (Lanczos) when larger, stylized whole by `run` (uint8 `(h, w, 3)` in, float output
    in [0, 255] out). Colour statistics hardly depend on the size, so one map made this
    way serves a whole large image in tiles, or a whole video."""
    from PIL import Image

    height, width = photo.shape[:2]
    scale = PREVIEW_SIZE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        photo = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))
    output = np.clip(np.asarray(run(photo), np.float32), 0, 255)
    return color_map(color_statistics(output), colors)
