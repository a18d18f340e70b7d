"""Evaluation: the mean content and style losses of a generator over a set of photos.

This is how the zoo cards' metrics and the instance-vs-batch-norm comparison are
measured (`scripts/zoo_build.py`, `scripts/norm_comparison.py`):

- each photo is decoded to RGB and shrunk (Lanczos, aspect kept) so that its long side
  is at most `long_side` pixels;
- it is stylized whole (no tiling) with `inference.stylize`, rounded to uint8 as a user
  would receive it;
- the losses are those of `StylizationModel.compute_losses` (content loss against the
  photo itself, style loss against the model's style Gram matrices), averaged over the
  photos. The same losses of the unstyled photo give the scale (its content loss is 0).

With `transform`, each photo is also altered (for example its contrast reduced) before
stylizing; the stylization of the altered photo is scored against the original photo,
and the mean absolute difference between the two stylizations is reported in grey levels
(0 = the generator ignores the alteration).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import keras
import numpy as np
from PIL import Image

from keras_stylize.inference import stylize
from keras_stylize.training import StylizationModel


def load_photo(path: str | os.PathLike, long_side: int) -> np.ndarray:
    """uint8 `(H, W, 3)` RGB, shrunk with Lanczos so that its long side is <= `long_side`."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    rgb.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def mean_losses(
    generator: keras.Model,
    losses: StylizationModel,
    photos: Iterable[str | os.PathLike],
    long_side: int = 512,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """Mean losses of `generator`'s stylizations over `photos` (see the module docstring).

    Args:
        generator: a generator model ([0, 255] RGB in and out).
        losses: a `StylizationModel` holding the style targets and loss layers (its own
            generator is not used).
        photos: image files.
        long_side: photos are shrunk to this long side (never enlarged).
        transform: optional function from a uint8 `(H, W, 3)` photo to an altered one of
            the same shape.

    Returns:
        `stylized_content_loss`, `stylized_style_loss`, `unstyled_content_loss`,
        `unstyled_style_loss` and `images`; with `transform` also
        `transformed_content_loss`, `transformed_style_loss` and
        `output_change_grey_levels`. Losses are rounded to 4 decimals.
    """
    values: dict[str, list[float]] = {}

    def record(prefix: str, photo: np.ndarray, output: np.ndarray) -> None:
        parts = losses.compute_losses(photo[None], output[None])
        for key in ("content_loss", "style_loss"):
            values.setdefault(f"{prefix}_{key}", []).append(float(parts[key]))

    count = 0
    for path in photos:
        photo = load_photo(path, long_side)
        x = photo.astype(np.float32)
        y = stylize(photo, generator, return_array=True).astype(np.float32)
        record("stylized", x, y)
        record("unstyled", x, x)
        if transform is not None:
            altered = np.asarray(transform(photo))
            if altered.shape != photo.shape:
                raise ValueError(f"transform changed the shape {photo.shape} to {altered.shape}")
            z = stylize(altered, generator, return_array=True).astype(np.float32)
            record("transformed", x, z)
            values.setdefault("output_change_grey_levels", []).append(float(np.abs(y - z).mean()))
        count += 1
    if not count:
        raise ValueError("no photos to evaluate")
    result: dict[str, float] = {k: round(float(np.mean(v)), 4) for k, v in values.items()}
    result["images"] = count
    return result
