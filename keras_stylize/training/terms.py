"""The optional terms of the training loss, each added to the perceptual loss with a
weight: `StylizationModel(..., terms=[...])` loops over them, logging each as a metric of
its name. `terms_for(config)` gives the terms a `FitConfig` asks for.

Images are float `(batch, H, W, 3)` RGB in [0, 255]; every term is a float32 scalar.

- `Temporal`: temporal consistency (stable video). Each step also stylizes the batch
  moved by a random known camera motion (`motion.random_motion`) and penalizes the
  difference between that and the moved stylization (`temporal_loss`), at the cost of one
  more generator pass per step.
- `Darkening`: regions painted much darker than the photo (`darkening_penalty`).
- `Palette`: the distance between the output's colours and its painting's, as
  distributions in CIELAB (a sliced Wasserstein distance of the pixel colours, the
  training twin of `evaluation.measures.palette_distance`), over the whole output or
  window by window.
- `DeadUnits`: pixels where the generator's last ReLU layer is nearly all zero
  (`dead_unit_penalty`).

A new term subclasses `LossTerm` (a `name`, a `weight`, and `__call__`); a term that
reads the generator's inner activations names them in `probes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf
from keras import ops

from keras_stylize.images import LUMA_WEIGHTS
from keras_stylize.options import DARKENING_CELL, DARKENING_RATIO
from keras_stylize.training.motion import move, random_motion

DEAD_UNIT_SHARE = 0.25  # share of a ReLU layer's units `DeadUnits` wants on at every pixel
DEAD_UNIT_MARGIN = 0.1  # how far above zero those units' inputs must lie


def temporal_loss(moved_outputs, outputs_of_moved):
    """Mean squared difference (in [0, 255] units, float32) between the moved outputs
    `move(G(x))` and the outputs of the moved inputs `G(move(x))` (see
    `keras_stylize.training.motion`); 0 for a generator that commutes with camera motion."""
    diff = ops.cast(moved_outputs, "float32") - ops.cast(outputs_of_moved, "float32")
    return ops.mean(ops.square(diff))


def darkening_penalty(images, outputs, ratio: float = DARKENING_RATIO,
                      cell: int = DARKENING_CELL):  # fmt: skip
    """Penalty on regions the output paints much darker than the photo (float32 scalar).

    The luma (BT.601) of the photos `images` and of the `outputs` (both `(batch, H, W,
    3)` RGB in [0, 255]) is averaged over `cell` x `cell` squares (partial squares at
    the edges average what they hold); per square the penalty is how far the output's
    mean falls below `ratio` times the photo's, in units of 25.5 grey levels (a tenth of
    the range), averaged over squares and images. It is zero while every square keeps at
    least `ratio` of the photo's brightness, so dark strokes narrower than a square and
    dark content (whose floor is low) cost little; a mid-grey wall painted black costs.
    Instance normalization discards an image's absolute brightness (that is its point),
    so nothing else in the perceptual loss stops a generator from rendering a region
    that is only darker than its surroundings as black (the near-black blots of
    `evaluation.measures.blot_mask`, docs/zoo.md).
    """
    weights = ops.convert_to_tensor(LUMA_WEIGHTS, dtype="float32")
    photo = ops.sum(ops.cast(images, "float32") * weights, axis=-1, keepdims=True)
    output = ops.sum(ops.cast(outputs, "float32") * weights, axis=-1, keepdims=True)
    photo = ops.average_pool(photo, cell, strides=cell, padding="same")
    output = ops.average_pool(output, cell, strides=cell, padding="same")
    return ops.mean(ops.relu(ratio * photo - output)) / 25.5


def dead_unit_penalty(preactivations, share: float = DEAD_UNIT_SHARE,
                      margin: float = DEAD_UNIT_MARGIN):  # fmt: skip
    """Penalty on pixels where most units of a ReLU layer are off (float32 scalar).

    `preactivations` are the layer's inputs, `(batch, H, W, C)`. Per pixel the penalty is
    how far the `share * C`-th largest of the C values lies below `margin`, averaged over
    pixels and images: zero while at least that share of the units is on (by `margin`) at
    every pixel.

    Where every unit but a few is off, the pixel's output is made of the few left and
    no gradient reaches the others, so training cannot change it: a generator's last
    ReLU layer goes off over bright flat photo regions (clouds, white backgrounds), which
    a multi-style generator then paints one colour shared by all its styles, with a
    rim (the "glowing blobs", docs/notes/recipe-trials-2026-12-07.md). The penalty's
    gradient reaches the units that are off.
    """
    values = ops.cast(preactivations, "float32")
    rank = max(1, round(share * int(values.shape[-1])))
    kth_largest = ops.top_k(values, rank, sorted=True)[0][..., rank - 1]
    return ops.mean(ops.relu(margin - kth_largest))


def last_relu_input(generator):
    """The input tensor of `generator`'s last ReLU activation layer (symbolic)."""
    import keras

    relus = [
        layer for layer in generator.layers
        if isinstance(layer, keras.layers.Activation) and layer.get_config()["activation"] == "relu"
    ]  # fmt: skip
    if not relus:
        raise ValueError(f"generator {generator.name} has no ReLU activation layer")
    return relus[-1].input


class LossTerm:
    """A term of the training loss: the model adds `weight * term(...)` to the loss and
    logs the unweighted value as the metric `name`."""

    name = "term_loss"

    def __init__(self, weight: float) -> None:
        if not weight >= 0:
            raise ValueError(f"the weight of {self.name} must be >= 0, not {weight}")
        self.weight = float(weight)

    def probes(self, generator) -> list:
        """Symbolic tensors of `generator` the term reads (its inner activations); the
        model computes them in the same pass as the output and hands them to
        `__call__` as `activations`, in this order."""
        return []

    def __call__(self, model: Any, images, generated, style_weights, training: bool,
                 activations: Sequence = (), paintings=None):  # fmt: skip
        """The unweighted term for a batch: `images` and the generator's output for them
        `generated`; `model` is the `StylizationModel` (for more generator passes);
        `activations` the values of `probes` for the batch; `paintings` each image's own
        painting in a style-prediction batch (`training.prediction`), else None."""
        raise NotImplementedError


class Temporal(LossTerm):
    """`temporal_loss` under a random camera motion drawn from `seed` and the step number
    (so a resumed run draws the same motion; one fixed motion when not training)."""

    name = "temporal_loss"

    def __init__(self, weight: float, seed: int = 0) -> None:
        super().__init__(weight)
        self.seed = int(seed)

    def __call__(self, model, images, generated, style_weights, training: bool,
                 activations: Sequence = (), paintings=None):  # fmt: skip
        if training:
            step = tf.cast(model.optimizer.iterations, tf.int64)
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            seed = tf.random.experimental.stateless_fold_in(
                tf.stack([tf.constant(self.seed, tf.int64), step]), replica
            )
        else:
            seed = tf.constant([self.seed, -1], tf.int64)
        boxes = random_motion(tf.shape(images)[0], seed)
        of_moved = model.generate(move(images, boxes), style_weights, training=training)
        return temporal_loss(move(generated, boxes), of_moved)


class Darkening(LossTerm):
    """`darkening_penalty` over squares of `cell` px with the brightness share `ratio`
    (lower: only regions painted near-black cost, the style's own dark palette is
    spared; smaller squares also see small dark objects painted black)."""

    name = "darkening_loss"

    def __init__(self, weight: float, cell: int = DARKENING_CELL,
                 ratio: float = DARKENING_RATIO) -> None:  # fmt: skip
        super().__init__(weight)
        self.cell, self.ratio = int(cell), float(ratio)

    def __call__(self, model, images, generated, style_weights, training: bool,
                 activations: Sequence = (), paintings=None):  # fmt: skip
        return darkening_penalty(images, generated, ratio=self.ratio, cell=self.cell)


class Palette(LossTerm):
    """The sliced Wasserstein distance between the CIELAB colours of each output and those
    of its painting (`perceptual.losses.sliced_wasserstein_terms` on pixels, along
    `directions` random directions), so that the output uses the painting's whole palette
    in its proportions rather than a grade of the photo onto its dominant hue.

    Args:
        weight: the term's weight.
        style_images: the paintings, float `(1, H, W, 3)` or `(H, W, 3)` in [0, 255], in
            the order of the generator's styles; each image is scored against the
            painting with the largest weight in its style row. None for style
            prediction: each image is scored against its own painting of the batch
            (`paintings`, all of its pixels).
        max_colours: pixels kept per painting (a random subset, drawn once).
        directions: random directions per call.
        seed: seed of the subset and of the directions.
        window: if set, each `window` x `window` px square of the output (the squares
            that fit; a remainder at the bottom and right is left out) is scored against
            the painting's whole palette and the distances are averaged. A single flat
            colour then costs in every square it covers, wherever the rest of the
            picture puts the painting's other colours (without a window, only the
            proportions of colours over the whole output count).
    """

    name = "palette_loss"

    def __init__(self, weight: float, style_images, max_colours: int = 16384,
                 directions: int = 32, seed: int = 0,
                 window: int | None = None) -> None:  # fmt: skip
        import keras
        import numpy as np

        from keras_stylize.perceptual.loss import sample_vectors
        from keras_stylize.perceptual.losses import srgb_to_lab

        super().__init__(weight)
        self.colours = None
        if style_images is not None:
            rng = np.random.default_rng(seed)
            colours = [np.asarray(srgb_to_lab(np.asarray(i, np.float32))) for i in style_images]
            self.colours = tf.constant(sample_vectors(colours, max_colours, rng))
        self.directions = int(directions)
        if window is not None and window < 2:
            raise ValueError(f"the palette window must be at least 2 px, not {window}")
        self.window = None if window is None else int(window)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def __call__(self, model, images, generated, style_weights, training: bool,
                 activations: Sequence = (), paintings=None):  # fmt: skip
        from keras_stylize.perceptual.losses import (
            sliced_wasserstein_terms,
            split_windows,
            srgb_to_lab,
        )

        if paintings is not None:
            targets = srgb_to_lab(ops.cast(paintings, "float32"))
            targets = ops.reshape(targets, (ops.shape(targets)[0], -1, 3))
        elif self.colours is None:
            raise ValueError("a Palette term without style images scores style-prediction "
                             "batches only (each image against its own painting)")  # fmt: skip
        elif style_weights is None:
            targets = self.colours[:1]
        else:
            targets = ops.take(self.colours, ops.argmax(style_weights, axis=-1), axis=0)
        lab = srgb_to_lab(generated)
        if self.window is not None:
            lab, count = split_windows(lab, self.window)
            if paintings is not None or style_weights is not None:
                targets = ops.repeat(targets, count, axis=0)
        terms = sliced_wasserstein_terms(
            {"lab": lab}, {"lab": targets}, ["lab"],
            seed=self.seed_generator, directions=self.directions,
        )  # fmt: skip
        return terms["lab"]


class DeadUnits(LossTerm):
    """`dead_unit_penalty` on the input of the generator's last ReLU layer, with at least
    `share` of its units on by `margin` at every pixel."""

    name = "dead_unit_loss"

    def __init__(self, weight: float, share: float = DEAD_UNIT_SHARE,
                 margin: float = DEAD_UNIT_MARGIN) -> None:  # fmt: skip
        super().__init__(weight)
        if not 0 < share <= 1:
            raise ValueError(f"the share of units on must be in (0, 1], not {share}")
        self.share, self.margin = float(share), float(margin)

    def probes(self, generator) -> list:
        return [last_relu_input(generator)]

    def __call__(self, model, images, generated, style_weights, training: bool,
                 activations: Sequence = (), paintings=None):  # fmt: skip
        return dead_unit_penalty(activations[0], self.share, self.margin)
