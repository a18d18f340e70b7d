"""The styles of a multi-style generator: their names, and the style-weights row of a
style or a blend of styles (the second input of a multi-style generator)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_stylize.generators.blocks import STYLE_LAYER


def style_names(generator: keras.Model) -> list[str] | None:
    """The style names of a multi-style generator in column order, None for one style."""
    if len(generator.inputs) < 2:
        return None
    return list(generator.get_layer(STYLE_LAYER).style_names)


def style_vector(generator: keras.Model, style: Any = None) -> np.ndarray | None:
    """The style weights row `(num_styles,)` float32 for `style`, None for single-style
    generators (which take no style).

    `style` may be None (the first style), a style name, an index, a string of
    `name_or_index:weight` items separated by commas (`"starry_night:0.7,the_scream:0.3"`),
    a `{name_or_index: weight}` dict, or a sequence of `num_styles` weights. Weights must
    be non-negative and not all zero; they are divided by their sum, so a blend mixes the
    styles' normalization parameters convexly.

    Raises:
        ValueError: one line naming the valid styles.
    """
    names = style_names(generator)
    if names is None:
        if style is not None:
            raise ValueError("this model has a single style; --style is for multi-style models")
        return None
    valid = f"valid styles: {', '.join(names)} (or indices 0-{len(names) - 1})"

    def index_of(key: Any) -> int:
        text = str(key).strip()
        if text in names:
            return names.index(text)
        if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
            return int(text)
        raise ValueError(f"unknown style {text!r}; {valid}")

    weights = np.zeros(len(names), np.float64)
    if style is None:
        weights[0] = 1.0
    elif isinstance(style, (int, np.integer)):
        weights[index_of(style)] = 1.0
    elif isinstance(style, str):
        for item in filter(None, (part.strip() for part in style.split(","))):
            key, sep, value = item.rpartition(":") if ":" in item else (item, "", "1")
            try:
                weight = float(value)
            except ValueError:
                raise ValueError(f"bad style weight in {item!r}; use NAME:WEIGHT") from None
            weights[index_of(key if sep else item)] += weight
    elif isinstance(style, dict):
        for key, value in style.items():
            weights[index_of(key)] += float(value)
    else:
        given = np.asarray(style, np.float64).reshape(-1)
        if given.shape != weights.shape:
            raise ValueError(f"expected {len(names)} style weights, got {given.size}; {valid}")
        weights = given
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"style weights must be finite and non-negative; {valid}")
    with np.errstate(over="ignore"):
        total = weights.sum()
    if total <= 0:
        raise ValueError(f"style weights are all zero; {valid}")
    if not np.isfinite(total):
        raise ValueError(f"style weights are too large (their sum overflows); {valid}")
    return (weights / total).astype(np.float32)
