"""Inference: apply a trained generator to one image, `stylize(image, model, ...)`.

Pixel conventions: inputs may be a path, encoded bytes, a PIL image, or an
`(H, W, 3)` array (uint8 in [0, 255], or float in [0, 255]); the result is a PIL RGB
image (or a uint8 `(H, W, 3)` array with `return_array=True`). Transparent inputs are
composited on white before stylizing; `keep_alpha=True` puts the original alpha plane
back on the result (RGBA).

Images that do not fit the memory budget (`max_memory`, 2 GB by default) are stylized
in tiles that share the whole image's instance-norm statistics (`inference.tiling`),
so the result matches the whole-image one and has no seams. The generator runs as a
compiled graph in the precision `precision` ("auto": bfloat16 on CPUs with native
bfloat16, float16 on GPUs, else float32; docs/stylize.md gives their PSNR against
float32). A painting style's result takes the painting's colours (`color_match`, one affine
colour map for the whole image, whatever its tiles).
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
from PIL import Image

from keras_stylize.generators import MIN_SIZE
from keras_stylize.generators.styles import has_painting, style_vector
from keras_stylize.images import ImageReadError, open_image, to_rgb
from keras_stylize.inference.color_match import (
    PREVIEW_SIZE,
    ColorMap,
    ColorStatistics,
    painting_colors,
    preview_map,
)
from keras_stylize.inference.session import session_for
from keras_stylize.options import (
    DEFAULT_MAX_MEMORY_MB,
    DEFAULT_OVERLAP,
    DEFAULT_PRECISION,
    STROKE_SCALES,
)
from keras_stylize.zoo import load_generator, load_predictor


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


def _prepare(image: Any, max_size: int | None, max_pixels: int | None):
    """`(rgb, alpha or None)` PIL images of `image`, the long side shrunk to `max_size`.

    Raises:
        ImageReadError: unreadable, or smaller than `MIN_SIZE` on a side.
    """
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
    return rgb, alpha


def transfer_luminance(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Keeps the colours of `original`: luma (Y of YCbCr, ITU-R BT.601 full range as in
    JPEG) from `stylized`, chroma (Cb, Cr) from `original`. uint8 (H, W, 3) in and out."""
    y = np.asarray(Image.fromarray(stylized).convert("YCbCr"))[..., 0]
    ycbcr = np.asarray(Image.fromarray(original).convert("YCbCr")).copy()
    ycbcr[..., 0] = y
    return np.asarray(Image.fromarray(ycbcr, "YCbCr").convert("RGB"))


def finish(
    original: np.ndarray,
    output: np.ndarray,
    preserve_color: bool = False,
    strength: float = 1.0,
    recolor: ColorMap | None = None,
) -> np.ndarray:
    """A generator's float output `(H, W, 3)` for the uint8 photo `original` as the uint8
    image users get: (optionally) its colours mapped by `recolor` (`color_match`), rounded
    and clipped, then (optionally) the photo's colours kept and the result mixed with the
    photo: `strength * stylized + (1 - strength) * photo`."""
    output = np.asarray(output, np.float32) if recolor is None else recolor(output)
    result = np.clip(output + 0.5, 0, 255).astype(np.uint8)
    if preserve_color:
        result = transfer_luminance(original, result)
    if strength < 1.0:
        mixed = strength * result.astype(np.float32) + (1 - strength) * original
        result = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return result


def check_stroke_scale(stroke_scale: float) -> None:
    """Raises ValueError unless `stroke_scale` is in `STROKE_SCALES`."""
    if not STROKE_SCALES[0] <= stroke_scale <= STROKE_SCALES[1]:
        raise ValueError(f"stroke_scale must be in {list(STROKE_SCALES)}. Received: {stroke_scale}")


def working_size(size: tuple[int, int], stroke_scale: float) -> tuple[int, int]:
    """`(width, height)` at which an image of `size` `(width, height)` is painted for
    strokes `stroke_scale` times their own size once the result is resized back.

    Raises:
        ValueError: that size is under `MIN_SIZE` on a side.
    """
    width, height = (max(1, round(side / stroke_scale)) for side in size)
    if min(width, height) < MIN_SIZE:
        raise ValueError(
            f"stroke scale {stroke_scale:g} leaves {width}x{height} px to paint, under "
            f"the networks' {MIN_SIZE}x{MIN_SIZE}: use a smaller stroke scale"
        )
    return width, height


def resized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 `pixels` `(H, W, 3)` resized (Lanczos) to `size` `(width, height)`: to a
    working size and, painted, back."""
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def _run(session, photo: np.ndarray, style_weights, tile, overlap, max_memory, post,
         colors: ColorStatistics | None = None) -> np.ndarray:  # fmt: skip
    """`post(photo, generator output, colour map)` of uint8 `photo` `(H, W, 3)`: whole, or
    in tiles sharing its statistics when `tile` (or the `max_memory` plan) is smaller
    than it. The colour map (`color_match`) takes the result's colours to `colors`, None
    without them; it is made from the whole output when that is the preview (`photo` at
    most `PREVIEW_SIZE`, not tiled), else from a preview, and is the same for every tile."""

    def whole(image: np.ndarray) -> np.ndarray:
        session.reserve(image.shape[0] * image.shape[1])
        return session.run(image[None].astype(np.float32), style_weights)[0]

    if tile is None and max_memory is not None:
        tile = session.plan_tiles(*photo.shape[:2], max_memory, overlap)
    tiled = bool(tile) and max(photo.shape[:2]) > tile
    output = None if tiled else whole(photo)
    recolor = None
    if colors is not None:  # the whole output is the preview of a photo no larger than it
        reuse = output is not None and max(photo.shape[:2]) <= PREVIEW_SIZE
        recolor = preview_map((lambda image: output) if reuse else whole, photo, colors)
    if tiled:
        return session.stylize_tiled(photo, tile, overlap, style_weights,
                                     finish=lambda im, out: post(im, out, recolor))  # fmt: skip
    return post(photo, output, recolor)


def colors_to_match(style: Any, match_colors: bool | None,
                    preserve_color: bool) -> ColorStatistics | None:  # fmt: skip
    """The colour statistics a result of `style` is matched to (`painting_colors`), or
    None: `match_colors` None matches when every entry is a painting and the photo's
    colours are not kept, False never, True always (see `stylize`).

    Raises:
        ValueError: `match_colors` is True with `preserve_color`, or for a style that is
            not all paintings.
    """
    if match_colors is False:
        return None
    if match_colors and preserve_color:
        raise ValueError("match_colors (the painting's colours) and preserve_color (the "
                         "photo's colours) exclude each other")  # fmt: skip
    colors = painting_colors(style)
    if match_colors and colors is None:
        raise ValueError("match_colors needs a painting as the style (every entry of a "
                         "blend a painting); named styles have their own colours")  # fmt: skip
    return None if preserve_color else colors


def predictor_for(model: Any, style: Any, predictor: Any = None) -> keras.Model | None:
    """The style predictor `style` needs: None when it names no painting, else
    `predictor` (a model or a `.keras` path) or the one stored with `model`."""
    if not has_painting(style):
        return None
    if isinstance(predictor, keras.Model):
        return predictor
    return load_predictor(model if predictor is None else predictor)


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
    precision: str = DEFAULT_PRECISION,
    max_memory: float | None = DEFAULT_MAX_MEMORY_MB,
    predictor: keras.Model | str | os.PathLike | None = None,
    stroke_scale: float = 1.0,
    match_colors: bool | None = None,
) -> Image.Image | np.ndarray:
    """Stylizes one image with a generator (see the module docstring for conventions).

    Args:
        image: path, bytes, PIL image or (H, W, 3) array.
        model: `keras.Model`, `.keras` path or zoo name.
        style: for multi-style models, the style or blend (see `style_vector`); an entry
            may be a painting (image path or array) when the model has a style predictor.
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
        predictor: the style predictor for paintings in `style` (a model or its `.keras`
            path); default: the one stored with `model` (`zoo.load_predictor`).
        stroke_scale: the strokes' size relative to the generator's own, in
            `STROKE_SCALES`: the image (after `max_size`) is painted at `1 / stroke_scale`
            of its size and resized back (Lanczos), so 2 paints strokes twice as large and
            0.5 half as large; the result keeps the image's size.
        match_colors: map the result's colours onto the painting's (`color_match`: one
            affine map taking the colour mean and covariance of the stylization to those
            of the painting, or of a blend of paintings). None (default): on when every
            entry of `style` is a painting and `preserve_color` is off; True needs that.

    Raises:
        ImageReadError: unreadable input, or smaller than 32 px on a side.
        ValueError: bad option values.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1]. Received: {strength}")
    check_stroke_scale(stroke_scale)
    generator = load_generator(model)
    style_weights = style_vector(generator, style, predictor_for(model, style, predictor))
    colors = colors_to_match(style, match_colors, preserve_color)
    rgb, alpha = _prepare(image, max_size, max_pixels)
    original = np.asarray(rgb, dtype=np.uint8)
    work_size = working_size(rgb.size, stroke_scale)
    if strength == 0.0:
        result = original.copy()
    else:
        session = session_for(generator, precision)

        def paint(photo: np.ndarray, post) -> np.ndarray:
            return _run(session, photo, style_weights, tile, overlap, max_memory, post, colors)

        if stroke_scale == 1.0:
            result = paint(original, lambda im, out, recolor: finish(im, out, preserve_color,
                                                                  strength, recolor))  # fmt: skip
        else:  # paint at the working size, then back to the photo's size
            painted = paint(resized(original, work_size),
                            lambda im, out, recolor: finish(im, out, recolor=recolor))  # fmt: skip
            result = finish(original, resized(painted, rgb.size), preserve_color, strength)
    if keep_alpha and alpha is not None:
        result = np.concatenate([result, np.asarray(alpha, np.uint8)[..., None]], axis=-1)
    if return_array:
        return result
    return Image.fromarray(result, "RGBA" if result.shape[-1] == 4 else "RGB")
