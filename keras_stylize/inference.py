"""Inference: apply a trained generator to one image, `stylize(image, model, ...)`.

Pixel conventions: inputs may be a path, encoded bytes, a PIL image, or an
`(H, W, 3)` array (uint8 in [0, 255], or float in [0, 255]); the result is a PIL RGB
image (or a uint8 `(H, W, 3)` array with `return_array=True`). Transparent inputs are
composited on white before stylizing; `keep_alpha=True` puts the original alpha plane
back on the result (RGBA).

Tiled inference (`tile=...`) runs the generator on overlapping square tiles and blends
them with linear ramps over the overlap, so memory stays bounded for very large images.
Instance normalization computes its statistics per tile, so tiles are not exactly the
whole-image result; `benchmarks/stylize.py --tiling` measures the difference and the
defaults (512 px tiles, 128 px overlap) come from that measurement (see docs/).
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
from PIL import Image

from keras_stylize.generators import MIN_SIZE
from keras_stylize.generators.blocks import STYLE_LAYER
from keras_stylize.images import ImageReadError, open_image, to_rgb
from keras_stylize.options import DEFAULT_OVERLAP


def load_generator(model: keras.Model | str | os.PathLike) -> keras.Model:
    """A generator from a `keras.Model`, a `.keras` path (loaded with `safe_mode=True`)
    or a zoo name."""
    if isinstance(model, keras.Model):
        return model
    text = str(model)
    if text.endswith(".keras") or os.path.sep in text or os.path.exists(text):
        if not os.path.isfile(text):
            raise FileNotFoundError(f"model file not found: {text}")
        return keras.saving.load_model(text, safe_mode=True, compile=False)
    from keras_stylize import zoo

    return zoo.load(text)


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
    if weights.sum() <= 0:
        raise ValueError(f"style weights are all zero; {valid}")
    return (weights / weights.sum()).astype(np.float32)


def _as_image(image: Any, max_pixels: int | None) -> tuple[Image.Image, Image.Image | None]:
    if isinstance(image, np.ndarray):
        array = image[..., None] if image.ndim == 2 else image
        if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
            raise ValueError(f"expected an (H, W, 3) image array, got shape {image.shape}")
        if array.dtype != np.uint8:
            array = np.clip(np.asarray(array, np.float64) + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(
            np.ascontiguousarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
        )
    if isinstance(image, Image.Image):
        return to_rgb(image)
    return open_image(image, max_pixels=max_pixels)


def run_batch(
    generator: keras.Model, images: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The generator's float32 output for float32 images `(batch, H, W, 3)` in [0, 255];
    `weights` (multi-style only) is one style weights row `(num_styles,)` for every image
    or one row per image `(batch, num_styles)`."""
    if weights is not None:
        rows = np.asarray(weights, np.float32).reshape(-1, np.shape(weights)[-1])
        images = [images, np.broadcast_to(rows, (len(images), rows.shape[1]))]
    return np.asarray(generator(images, training=False), dtype=np.float32)


def _run(generator: keras.Model, pixels: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Generator on one float32 (H, W, 3) [0, 255] image (and its style weights row)
    -> float32 (H, W, 3)."""
    return run_batch(generator, pixels[None], weights)[0]


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    weights = np.ones(length, np.float32)
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    if not at_start and overlap:
        weights[:overlap] = np.minimum(weights[:overlap], ramp)
    if not at_end and overlap:
        weights[-overlap:] = np.minimum(weights[-overlap:], ramp[::-1])
    return weights


def _starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def stylize_tiled(
    generator: keras.Model,
    pixels: np.ndarray,
    tile: int,
    overlap: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Runs `generator` on overlapping `tile` x `tile` tiles of a float32 (H, W, 3)
    image and blends them with linear weights over `overlap` pixels (`weights`: the style
    weights row of a multi-style generator)."""
    if tile < MIN_SIZE or not 0 <= overlap < tile // 2 + 1:
        raise ValueError(
            f"need tile >= {MIN_SIZE} and 0 <= overlap <= tile/2; got {tile}, {overlap}"
        )
    height, width, _ = pixels.shape
    out = np.zeros((height, width, 3), np.float32)
    norm = np.zeros((height, width, 1), np.float32)
    step = tile - overlap
    ys, xs = _starts(height, tile, step), _starts(width, tile, step)
    for y in ys:
        for x in xs:
            patch = pixels[y : y + tile, x : x + tile]
            h, w, _ = patch.shape
            result = _run(generator, patch, weights)
            wy = _ramp(h, min(overlap, h // 2), y == ys[0], y == ys[-1])
            wx = _ramp(w, min(overlap, w // 2), x == xs[0], x == xs[-1])
            weight = (wy[:, None] * wx[None, :])[..., None]
            out[y : y + h, x : x + w] += result * weight
            norm[y : y + h, x : x + w] += weight
    return out / norm


def transfer_luminance(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Keeps the colours of `original`: luma (Y of YCbCr, ITU-R BT.601 full range as in
    JPEG) from `stylized`, chroma (Cb, Cr) from `original`. uint8 (H, W, 3) in and out."""
    y = np.asarray(Image.fromarray(stylized).convert("YCbCr"))[..., 0]
    ycbcr = np.asarray(Image.fromarray(original).convert("YCbCr")).copy()
    ycbcr[..., 0] = y
    return np.asarray(Image.fromarray(ycbcr, "YCbCr").convert("RGB"))


def finish(
    original: np.ndarray, output: np.ndarray, preserve_color: bool = False, strength: float = 1.0
) -> np.ndarray:
    """A generator's float output `(H, W, 3)` for the uint8 photo `original` as the uint8
    image users get: rounded and clipped, then (optionally) the photo's colours kept and
    the result mixed with the photo: `strength * stylized + (1 - strength) * photo`."""
    result = np.clip(np.asarray(output, np.float32) + 0.5, 0, 255).astype(np.uint8)
    if preserve_color:
        result = transfer_luminance(original, result)
    if strength < 1.0:
        mixed = strength * result.astype(np.float32) + (1 - strength) * original
        result = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return result


def stylize(
    image: Any,
    model: keras.Model | str | os.PathLike,
    style: Any = None,
    max_size: int | None = None,
    strength: float = 1.0,
    preserve_color: bool = False,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    keep_alpha: bool = False,
    max_pixels: int | None = None,
    return_array: bool = False,
) -> Image.Image | np.ndarray:
    """Stylizes one image with a generator (see the module docstring for conventions).

    Args:
        image: path, bytes, PIL image or (H, W, 3) array.
        model: `keras.Model`, `.keras` path or zoo name.
        style: for multi-style models, the style or blend (see `style_vector`).
        max_size: if set, the long side is first downscaled to at most this many pixels.
        strength: in [0, 1]; the result is `strength * stylized + (1 - strength) * input`.
        preserve_color: keep the input's colours (transfer luminance only).
        tile: tile side for tiled inference (None: whole image at once).
        overlap: overlap of neighbouring tiles, px.
        keep_alpha: return RGBA with the input's alpha plane if it had one.
        max_pixels: decompression-bomb limit for decoding (default: Pillow's).
        return_array: return a uint8 array instead of a PIL image.

    Raises:
        ImageReadError: unreadable input, or smaller than 32 px on a side.
        ValueError: bad option values.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1]. Received: {strength}")
    generator = load_generator(model)
    weights = style_vector(generator, style)
    rgb, alpha = _as_image(image, max_pixels)
    if max_size and max(rgb.size) > max_size:
        scale = max_size / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
        alpha = alpha.resize(size, Image.Resampling.LANCZOS) if alpha is not None else None
    if min(rgb.size) < MIN_SIZE:
        name = image if isinstance(image, (str, os.PathLike)) else "image"
        raise ImageReadError(
            f"{name}: too small ({rgb.width}x{rgb.height}); the networks need at least "
            f"{MIN_SIZE}x{MIN_SIZE} px"
        )
    original = np.asarray(rgb, dtype=np.uint8)
    if strength == 0.0:
        result = original.copy()
    else:
        pixels = original.astype(np.float32)
        if tile and max(original.shape[:2]) > tile:
            out = stylize_tiled(generator, pixels, tile, overlap, weights)
        else:
            out = _run(generator, pixels, weights)
        result = finish(original, out, preserve_color, strength)
    if keep_alpha and alpha is not None:
        result = np.concatenate([result, np.asarray(alpha, np.uint8)[..., None]], axis=-1)
    if return_array:
        return result
    return Image.fromarray(result, "RGBA" if result.shape[-1] == 4 else "RGB")
