"""Reading and writing images with Pillow, the same way everywhere in keras_stylize.

Decoded images are `np.uint8` arrays `(height, width, 3)`, RGB. `read_rgb` applies
the EXIF orientation, takes the first frame of animations (GIF, WebP, APNG), and
converts every mode to RGB: greyscale and palette images are expanded, CMYK goes
through Pillow's conversion, 16-bit and 32-bit integer greyscale is scaled to 8 bits,
and transparency is composited on white (`alpha=True` returns the alpha plane too).
Pillow's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`) applies; pass
`max_pixels` to change it for one call.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
            ".tif": "TIFF", ".tiff": "TIFF"}  # fmt: skip


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
    previous = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = limit
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            if limit is not None and image.width * image.height > limit:
                raise Image.DecompressionBombError(
                    f"{image.width}x{image.height} pixels exceeds the limit of {limit}"
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
        raise ImageReadError(
            f"{name}: image too large ({exc}); raise the limit with --max-pixels"
        ) from None
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad data
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if "cannot identify image file" in reason:
            reason = "not an image file or unsupported format"
        raise ImageReadError(f"{name}: unreadable image ({reason})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def read_rgb(source: str | os.PathLike | IO[bytes] | bytes, **kwargs) -> np.ndarray:
    """Decodes an image to a `(height, width, 3)` uint8 RGB array (see `open_image`)."""
    image, _ = open_image(source, **kwargs)
    return np.asarray(image, dtype=np.uint8)


def list_images(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files (by extension, case-insensitive) under `root`, sorted by path."""
    root = Path(root)
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
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


def encode_image(image: Image.Image, fmt: str, quality: int = 95) -> bytes:
    """Encodes a PIL image in `fmt`; JPEG drops alpha."""
    if fmt == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(
    path: str | os.PathLike, write: Callable[[str], None], suffix: str = ".tmp"
) -> None:
    """Calls `write(tmp)` to write a temporary file in the folder of `path`, then renames
    it to `path`: readers never see a partial file and a crash leaves the old file intact.
    `suffix` is the temporary file's extension (some writers insist on one, e.g. ".keras")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` atomically (see `atomic_write`), fsynced before the rename."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)
