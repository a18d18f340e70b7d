"""Reading and writing images with Pillow, the same way everywhere in keras_stylize.

Decoded images are RGB PIL images (`np.asarray` gives `np.uint8` `(height, width, 3)`).
`open_image` applies the EXIF orientation, takes the first frame of animations (GIF,
WebP, APNG), and converts every mode to RGB: greyscale and palette images are expanded,
CMYK goes through Pillow's conversion, 16-bit and 32-bit integer greyscale is scaled to
8 bits, and transparency is composited on white (the alpha plane is returned beside).
Pillow's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`) applies; pass
`max_pixels` to change it for one call. The global limit is never changed by default
calls (those of the tf.data threads included); a call with its own `max_pixels` sets it
only while Pillow reads the header, under a lock, and puts it back.
"""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps

from keras_stylize.options import DEFAULT_QUALITY

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma of RGB
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
            ".tif": "TIFF", ".tiff": "TIFF"}  # fmt: skip


_PIXEL_LIMIT_LOCK = threading.Lock()


class ImageReadError(ValueError):
    """An input is missing, empty, not an image, corrupt, or too large."""


def to_rgb(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Converts any Pillow mode to RGB (see the module docstring); returns (rgb, alpha or None)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(array, mode="L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        alpha = image.getchannel("A")
        white = Image.new("RGB", image.size, (255, 255, 255))
        white.paste(image.convert("RGB"), mask=alpha)
        return white, alpha
    return image.convert("RGB"), None


def open_image(
    source: str | os.PathLike | IO[bytes] | bytes,
    max_pixels: int | None = None,
    draft_size: int | None = None,
) -> tuple[Image.Image, Image.Image | None]:
    """Opens and fully decodes an image as an RGB PIL image plus its alpha plane (or None).

    Args:
        source: a path, a binary file object, or the encoded bytes.
        max_pixels: decompression-bomb limit for this call (default: Pillow's).
        draft_size: if set, JPEGs may be decoded at a reduced scale (1/2, 1/4, 1/8) as
            long as both sides stay >= this size: much faster for training crops.

    Raises:
        ImageReadError: one line saying what is wrong with the input.
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "<stream>"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageReadError(f"{name}: no such file")
        if path.is_dir():
            raise ImageReadError(f"{name}: is a directory")
        if path.stat().st_size == 0:
            raise ImageReadError(f"{name}: empty file (0 bytes)")
    if isinstance(source, bytes):
        if not source:
            raise ImageReadError(f"{name}: empty input (0 bytes)")
        source = io.BytesIO(source)
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        image = _open_with_limit(source, limit)
        if limit is not None and image.width * image.height > limit:
            raise Image.DecompressionBombError(
                f"{image.width}x{image.height} pixels exceeds the limit of {limit:,}"
            )
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        if draft_size and image.format == "JPEG":
            scale = min(image.width, image.height) / draft_size
            if scale >= 2:
                image.draft("RGB", (image.width // int(scale), image.height // int(scale)))
        image.load()
        image = ImageOps.exif_transpose(image)
        return to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        reason = str(exc)
        pixels = re.search(r"\((\d+) pixels\)", reason)  # Pillow's, which quotes 2x the limit
        if pixels:
            reason = f"{int(pixels.group(1)):,} pixels exceeds the limit of {limit:,}"
        raise ImageReadError(
            f"{name}: image too large ({reason}); raise the limit with --max-pixels"
        ) from None
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if "cannot identify image file" in reason:
            reason = "not an image file or unsupported format"
        raise ImageReadError(f"{name}: unreadable image ({reason})") from None


def _open_with_limit(source, limit: int | None) -> Image.Image:
    """`Image.open` with Pillow's bomb check at `limit` (it runs while the header is read)."""
    if limit == Image.MAX_IMAGE_PIXELS:
        return Image.open(source)
    with _PIXEL_LIMIT_LOCK:
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = limit
        try:
            return Image.open(source)
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def list_images(
    root: str | os.PathLike, recursive: bool = True, extensions: tuple[str, ...] = IMAGE_EXTENSIONS
) -> list[Path]:
    """Image files (by extension, case-insensitive; other `extensions` if given) under
    `root`, sorted by path. Hidden files and folders (names starting with a dot) are
    skipped: among them the temporary files of an interrupted write."""
    root = Path(root)
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in root.glob(pattern)
        if p.is_file()
        and p.suffix.lower() in extensions
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def format_for(path: str | os.PathLike) -> str:
    """Pillow format name for an output path's extension (jpg, png, webp, bmp, tif)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(
            f"{path}: unsupported output extension {suffix!r}; use one of "
            + ", ".join(sorted(_FORMATS))
        )
    return _FORMATS[suffix]


def encode_image(image: Image.Image, fmt: str, quality: int = DEFAULT_QUALITY) -> bytes:
    """Encodes a PIL image in `fmt`; JPEG drops alpha."""
    if fmt == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
