"""The styles of a multi-style generator: their names, and the style-weights row of a
style or a blend of styles (the second input of a multi-style generator)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_stylize.generators.blocks import STYLE_LAYER


def style_names(generator: keras.Model) -> list[str] | None:
    """The names of a multi-style generator's style-weight columns in order (its styles,
    then its free directions if it has any: see `StyleWeights`), None for one style."""
    if len(generator.inputs) < 2:
        return None
    return list(generator.get_layer(STYLE_LAYER).style_names)


def preset_names(generator: keras.Model) -> list[str] | None:
    """The styles users pick of a multi-style generator, in column order (its columns
    less the free directions of a style predictor), None for one style."""
    if len(generator.inputs) < 2:
        return None
    return list(generator.get_layer(STYLE_LAYER).preset_names)


def free_styles(generator: keras.Model) -> int:
    """How many of a generator's last style-weight columns are free directions."""
    if len(generator.inputs) < 2:
        return 0
    return generator.get_layer(STYLE_LAYER).free_styles


@dataclass(frozen=True)
class ResolvedStyle:
    """A style weights row already computed by `style_vector` (e.g. a painting's
    prediction), used as it is: resolve a style once, then stylize many images with it.
    `colors` are the colour statistics of its paintings when every entry of the style is
    a painting (`inference.color_match.painting_colors`), else None."""

    weights: np.ndarray
    colors: Any = None


def is_painting(entry: Any) -> bool:
    """True if a style entry names a painting rather than a style: an image array, a path
    object (`os.PathLike`), or a string with an image file extension."""
    from keras_stylize.images import IMAGE_EXTENSIONS

    if isinstance(entry, np.ndarray):
        return entry.ndim == 3
    if isinstance(entry, os.PathLike):
        return True
    if isinstance(entry, str):
        return entry.lower().endswith(IMAGE_EXTENSIONS)
    return False


def style_entries(style: Any) -> list[tuple[Any, float]] | None:
    """`[(entry, weight), ...]` of a style as `style_vector` takes it (an entry is a style
    name, an index or a painting), or None for a sequence of weights (one per style) or
    a `ResolvedStyle`, which name no entries.

    Raises:
        ValueError: a weight of a `NAME:WEIGHT` item that is not a number.
    """
    if style is None:
        return [(0, 1.0)]
    if isinstance(style, (int, np.integer)) or is_painting(style):
        return [(style, 1.0)]
    if isinstance(style, str):
        entries = []
        for item in filter(None, (part.strip() for part in style.split(","))):
            key, sep, value = item.rpartition(":")
            if not sep or is_painting(item):
                key, value = item, "1"
            try:
                entries.append((key, float(value)))
            except ValueError:
                raise ValueError(f"bad style weight in {item!r}; use NAME:WEIGHT") from None
        return entries
    if isinstance(style, dict):
        return [(key, float(value)) for key, value in style.items()]
    return None


def has_painting(style: Any) -> bool:
    """True if `style` (as `style_vector` takes it) has a painting among its entries."""
    return any(is_painting(key) for key, _ in style_entries(style) or ())


def style_vector(generator: keras.Model, style: Any = None, predictor: Any = None):
    """The style weights row float32, one weight per column of the generator's style
    input (`style_names`), for `style`; None for single-style generators (which take no
    style).

    `style` may be None (the first style), a style name, an index, a painting (an image
    file path or an `(H, W, 3)` array, whose style `predictor` predicts: see
    `generators.prediction`), a string of `entry:weight` items separated by commas
    (`"starry_night:0.7,the_scream:0.3"`, `"starry_night:0.6,my_painting.jpg:0.4"`), a
    `{entry: weight}` dict, a sequence of non-negative weights (one per named style,
    `preset_names`), or a `ResolvedStyle` (returned as it is). Weights must be
    non-negative and not all zero; they are divided by their sum, so a blend mixes the
    entries' rows convexly (a named style's row is one-hot; a painting's is the
    predictor's output: a convex mix of the named styles, plus an offset along the free
    directions of a predictor that has them).

    Raises:
        ValueError: one line naming the valid styles (or why a painting cannot be used).
    """
    columns = style_names(generator)
    if columns is None:
        if style is not None:
            raise ValueError("this model has a single style; --style is for multi-style models")
        return None
    names = preset_names(generator)
    if isinstance(style, ResolvedStyle):
        if style.weights.shape != (len(columns),):
            raise ValueError(f"a resolved style of {style.weights.size} weights for a model of "
                             f"{len(columns)} style columns")  # fmt: skip
        return np.asarray(style.weights, np.float32)
    valid = f"valid styles: {', '.join(names)} (or indices 0-{len(names) - 1})"

    def row_of(key: Any) -> np.ndarray:
        row = np.zeros(len(columns), np.float64)
        if is_painting(key):
            if predictor is None:
                raise ValueError(
                    "a painting as a style needs the model's style predictor, and this "
                    "model has none"
                )
            from keras_stylize.generators.prediction import predict_style

            label = "the painting" if isinstance(key, np.ndarray) else os.fspath(key)
            return np.asarray(predict_style(predictor, key, label), np.float64)
        text = str(key).strip()
        if text in names:
            row[names.index(text)] = 1.0
        elif text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
            row[int(text)] = 1.0
        else:
            raise ValueError(f"unknown style {text!r}; {valid}")
        return row

    entries = style_entries(style)
    if entries is None:
        given = np.asarray(style, np.float64).reshape(-1)
        if given.shape != (len(names),):
            raise ValueError(f"expected {len(names)} style weights, got {given.size}; {valid}")
        entries = list(enumerate(given))
    weights = np.array([w for _, w in entries], np.float64)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"style weights must be finite and non-negative; {valid}")
    with np.errstate(over="ignore"):
        total = weights.sum()
    if total <= 0:
        raise ValueError(f"style weights are all zero; {valid}")
    if not np.isfinite(total):
        raise ValueError(f"style weights are too large (their sum overflows); {valid}")
    rows = np.stack([row_of(key) for key, _ in entries])
    return ((weights / total) @ rows).astype(np.float32)
