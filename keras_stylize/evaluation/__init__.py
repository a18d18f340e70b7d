"""Evaluation: what a generator does to a set of photos, in numbers. This is how the zoo
cards' metrics, the instance-vs-batch-norm comparison and the recipe experiments are
measured (`scripts/zoo_build.py`, `scripts/norm_comparison.py`).

`measures` compares one photo with its stylization (blot, spot and patch rates, in numpy);
`scores` averages losses and rates over photos (`mean_losses`) with the loss a model was
trained with (`loss_for_recipe`, `loss_for_run`).
"""

from keras_stylize.evaluation.measures import (
    BLOT_PHOTO_LIMIT,
    blot_fraction,
    blot_mask,
    load_photo,
    luma,
    patch_fraction,
    patch_mask,
    spot_fraction,
    spot_mask,
    unexplained_colour,
)
from keras_stylize.evaluation.scores import loss_for_recipe, loss_for_run, mean_losses

__all__ = [
    "BLOT_PHOTO_LIMIT",
    "blot_fraction",
    "blot_mask",
    "load_photo",
    "loss_for_recipe",
    "loss_for_run",
    "luma",
    "mean_losses",
    "patch_fraction",
    "patch_mask",
    "spot_fraction",
    "spot_mask",
    "unexplained_colour",
]
