"""Inference: apply a trained generator to one image, `stylize(image, model, ...)`.

Pixel conventions: inputs may be a path, encoded bytes, a PIL image, or an
`(H, W, 3)` array (uint8 in [0, 255], or float in [0, 255]); the result is a PIL RGB
image (or a uint8 `(H, W, 3)` array with `return_array=True`). Transparent inputs are
composited on white before stylizing; `keep_alpha=True` puts the original alpha plane
back on the result (RGBA).

Images that do not fit the memory budget (`max_memory`, 2 GB by default) are stylized
in tiles that share the whole image's instance-norm statistics (`keras_stylize.tiling`),
so the result matches the whole-image one and has no seams. The generator runs as a
compiled graph in the precision `precision` ("auto": bfloat16 on CPUs with native
bfloat16, float16 on GPUs, else float32; docs/stylize.md gives their PSNR against
float32).
"""

from __future__ import annotations

import os
import weakref
from typing import Any

import keras
import numpy as np
from PIL import Image

from keras_stylize.generators import MIN_SIZE
from keras_stylize.generators.blocks import STYLE_LAYER
from keras_stylize.images import ImageReadError, open_image, to_rgb
from keras_stylize.memory import (
    TILE_PASS_OVERHEAD,
    activation_bytes_per_pixel,
    reserve_for,
    rss_mb,
)
from keras_stylize.options import DEFAULT_MAX_MEMORY_MB, DEFAULT_OVERLAP
from keras_stylize.precision import for_inference
from keras_stylize.runner import run
from keras_stylize.tiling import stylize_tiled

_PRECISION_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def load_generator(model: keras.Model | str | os.PathLike) -> keras.Model:
    """A generator from a `keras.Model`, a `.keras` path (loaded with `safe_mode=True`)
    or a zoo name."""
    if isinstance(model, keras.Model):
        return model
    text = str(model)
    if text.endswith(".keras") or os.path.sep in text or os.path.exists(text):
        if not os.path.isfile(text):
            raise FileNotFoundError(f"model file not found: {text}")
        return check_generator(keras.saving.load_model(text, safe_mode=True, compile=False), text)
    from keras_stylize import zoo

    return zoo.load(text)


def check_generator(model: Any, name: str) -> keras.Model:
    """`model` if it has a keras_stylize generator's interface: an RGB image input
    `(batch, H, W, 3)` (and, for several styles, a style-weights input read by the style
    layer) and an RGB image output; else ValueError, one line naming `name`."""

    def shape(tensor) -> tuple:
        return tuple(getattr(tensor, "shape", ()) or ())

    reason = None
    if not isinstance(model, keras.Model):
        reason = f"it holds a {type(model).__name__}, not a model"
    elif len(model.inputs) not in (1, 2) or len(model.outputs) != 1:
        reason = f"{len(model.inputs)} inputs and {len(model.outputs)} outputs"
    elif len(shape(model.inputs[0])) != 4 or shape(model.inputs[0])[-1] != 3:
        reason = f"input shape {shape(model.inputs[0])}, not (batch, H, W, 3)"
    elif len(shape(model.outputs[0])) != 4 or shape(model.outputs[0])[-1] != 3:
        reason = f"output shape {shape(model.outputs[0])}, not (batch, H, W, 3)"
    elif len(model.inputs) == 2 and STYLE_LAYER not in {layer.name for layer in model.layers}:
        reason = f"a second input but no {STYLE_LAYER} layer"
    if reason:
        raise ValueError(f"{name} is not a keras_stylize generator ({reason})")
    return model


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


def with_precision(generator: keras.Model, precision: str = "auto") -> keras.Model:
    """`generator` as inference runs it in `precision` (`precision.for_inference`).

    The copy is made once per generator and precision and gets the generator's current
    weights at every call, so a generator that is still being trained is never run with
    stale weights."""
    copies = _PRECISION_COPIES.setdefault(generator, {})
    if precision not in copies:
        copy = for_inference(generator, precision)
        copies[precision] = None if copy is generator else copy  # no cycle to the key
    elif copies[precision] is not None:
        copies[precision].set_weights(generator.get_weights())
    return copies[precision] or generator


def run_batch(
    generator: keras.Model, images: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The generator's float32 output for float32 images `(batch, H, W, 3)` in [0, 255];
    `weights` (multi-style only) is one style weights row `(num_styles,)` for every image
    or one row per image `(batch, num_styles)`."""
    return run(generator, images, weights)


def plan_tiles(
    generator: keras.Model, height: int, width: int, max_memory_mb: float, overlap: int
) -> int | None:
    """None if the whole image fits in `max_memory_mb` of process memory (peak RSS,
    counting what the process already holds), else the largest tile side that fits
    (at least 128 px; a tile pass needs `memory.TILE_PASS_OVERHEAD` times a whole-image
    pass's memory per pixel)."""
    per_pixel = activation_bytes_per_pixel(generator)
    images = height * width * 3 * 3  # uint8: the photo, its padded copy, the result
    free = max_memory_mb * 2**20 - rss_mb() * 2**20 - images
    if height * width * per_pixel <= free:
        return None
    side = (max(free, 0) / (per_pixel * TILE_PASS_OVERHEAD)) ** 0.5 - 2 * overlap
    return max(128, int(side) // 32 * 32)


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
    precision: str = "auto",
    max_memory: float | None = DEFAULT_MAX_MEMORY_MB,
) -> Image.Image | np.ndarray:
    """Stylizes one image with a generator (see the module docstring for conventions).

    Args:
        image: path, bytes, PIL image or (H, W, 3) array.
        model: `keras.Model`, `.keras` path or zoo name.
        style: for multi-style models, the style or blend (see `style_vector`).
        max_size: if set, the long side is first downscaled to at most this many pixels.
        strength: in [0, 1]; the result is `strength * stylized + (1 - strength) * input`.
        preserve_color: keep the input's colours (transfer luminance only).
        tile: side of the tiles' own regions, px; None chooses: the whole image at once
            if it fits in `max_memory`, else the largest tiles that fit.
        overlap: context around each tile, px (see `tiling`).
        keep_alpha: return RGBA with the input's alpha plane if it had one.
        max_pixels: decompression-bomb limit for decoding (default: Pillow's).
        return_array: return a uint8 array instead of a PIL image.
        precision: compute precision, one of `options.INFERENCE_PRECISIONS`; "auto" is
            the fastest this machine runs within 40 dB PSNR of float32 on the zoo models,
            worst photo included (`precision.resolve`).
        max_memory: memory budget of the process, MB, for choosing tiles (None: no
            limit, whole image unless `tile` is given).

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
        runner = with_precision(generator, precision)
        if tile is None and max_memory is not None:
            tile = plan_tiles(runner, *original.shape[:2], max_memory, overlap)
        if tile and max(original.shape[:2]) > tile:
            result = stylize_tiled(
                runner, original, tile, overlap, weights,
                finish=lambda photo, out: finish(photo, out, preserve_color, strength),
            )  # fmt: skip
        else:
            reserve_for(runner, original.shape[0] * original.shape[1])
            out = run_batch(runner, original[None].astype(np.float32), weights)[0]
            result = finish(original, out, preserve_color, strength)
    if keep_alpha and alpha is not None:
        result = np.concatenate([result, np.asarray(alpha, np.uint8)[..., None]], axis=-1)
    if return_array:
        return result
    return Image.fromarray(result, "RGBA" if result.shape[-1] == 4 else "RGB")
