"""`StylizationModel`: the Keras model that trains a generator with a `PerceptualLoss`.

Pixel convention: batches of content images, float32 `(batch, H, W, 3)` RGB in [0, 255]
(as `data.content_dataset` yields them); for a multi-style generator each batch is a
tuple `(images, style_weights)` with one-hot (or mixed) `style_weights` of shape
`(batch, num_styles)`. The trained artifact users keep is `model.generator` alone; the
loss network is not part of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_stylize.layers import ConditionalInstanceNormalization
from keras_stylize.perceptual.loss import PerceptualLoss
from keras_stylize.training.terms import LossTerm


class StylizationModel(keras.Model):
    """Trains `generator` so that its outputs keep the content of its inputs and take the
    style of the loss's style image(s) (Johnson et al. 2016; Ulyanov et al. 2016).

    Works with `compile(optimizer=...)`, `fit`, `evaluate` and any Keras callback; the
    metrics are `loss`, `content_loss`, `style_loss` and `tv_loss` (unweighted parts,
    float32 whatever the dtype policy) and the name of each of `terms`.
    Under `mixed_float16` Keras wraps the optimizer in a `LossScaleOptimizer` and
    `train_step` scales the loss; under a `tf.distribute` strategy the loss is divided by
    the number of replicas so that summed gradients are those of the global batch.

    Args:
        generator: a generator model ([0, 255] RGB in and out); a multi-style generator
            takes `[images, style_weights]`.
        perceptual_loss: the loss (its number of styles must match the generator's).
        train_styles: for a multi-style generator, train only these styles' rows of the
            conditional instance normalization parameters; every other weight (all
            convolutions, the other styles) stays exactly as it is. None trains everything.
        terms: the optional loss terms (`training.terms`, e.g. `[Darkening(6.0),
            Temporal(0.01)]`), each added with its weight. Evaluation uses a fixed
            camera motion for `Temporal`.
    """

    def __init__(
        self,
        generator: keras.Model,
        perceptual_loss: PerceptualLoss,
        train_styles: list[int] | None = None,
        terms: Sequence[LossTerm] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.perceptual_loss = perceptual_loss
        self.multi_style = len(generator.inputs) == 2
        generator_styles = int(generator.inputs[1].shape[-1]) if self.multi_style else 1
        if perceptual_loss.num_styles and generator_styles != perceptual_loss.num_styles:
            raise ValueError(
                f"the generator has {generator_styles} style(s), the loss "
                f"{perceptual_loss.num_styles}"
            )
        self.row_mask = None
        if train_styles is not None:
            if not self.multi_style:
                raise ValueError("train_styles needs a multi-style generator")
            mask = np.zeros((generator_styles, 1), np.float32)
            mask[list(train_styles)] = 1.0
            self.row_mask = tf.constant(mask)
            for layer in generator.layers:
                layer.trainable = isinstance(layer, ConditionalInstanceNormalization)
        # The variables the row mask applies to (other trained variables, such as a style
        # predictor's, are not rows of styles).
        self.masked = (
            {id(v) for v in generator.trainable_variables} if train_styles is not None else set()
        )
        # Everything trainable lives in the (functional, already built) generator, so the
        # model needs no symbolic build from a data batch (which fails on the per-replica
        # batches of distributed datasets).
        self.built = True
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.content_tracker = keras.metrics.Mean(name="content_loss")
        self.style_tracker = keras.metrics.Mean(name="style_loss")
        self.tv_tracker = keras.metrics.Mean(name="tv_loss")
        self.terms = list(terms)
        names = [term.name for term in self.terms]
        if len(set(names)) != len(names):
            raise ValueError(f"loss terms must have distinct names: {names}")
        self.term_trackers = [keras.metrics.Mean(name=name) for name in names]
        # One pass gives the output and the inner activations the terms read.
        probes = [term.probes(generator) for term in self.terms]
        self.probe_counts = [len(p) for p in probes]
        flat = [tensor for p in probes for tensor in p]
        self.probed_generator = (
            keras.Model(generator.inputs, [generator.outputs[0], *flat]) if flat else None
        )

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TF trainer builds models under a distribution strategy from one batch it
        # takes off the iterator and averages across replicas; with several workers that
        # average fails on per-replica batches, and the batch would be lost to training.
        # This model is built (see __init__): only the optimizer's variables must be made,
        # in the strategy's scope, before the first (replicated) step.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trained_variables())

    @property
    def metrics(self) -> list:
        trackers = [self.total_tracker, self.content_tracker, self.style_tracker, self.tv_tracker]
        return trackers + self.term_trackers

    def _unpack(self, data) -> tuple[Any, Any]:
        """(images, style_weights or None) from a batch (see the module docstring)."""
        while isinstance(data, (tuple, list)) and len(data) == 1:  # Keras' (x,) wrapping
            data = data[0]
        if isinstance(data, (tuple, list)):
            images = data[0]
            style_weights = data[1] if self.multi_style and len(data) > 1 else None
        else:
            images, style_weights = data, None
        if self.multi_style and style_weights is None:
            raise ValueError("a multi-style generator needs batches (images, style_weights)")
        return images, style_weights

    def call(self, inputs, training: bool = False):
        return self.generator(inputs, training=training)

    def _generator_inputs(self, images, style_weights):
        return [images, style_weights] if self.multi_style else images

    def generate(self, images, style_weights, training: bool):
        """The generator's output for `images` (and the style weights of a multi-style
        generator)."""
        return self.generator(self._generator_inputs(images, style_weights), training=training)

    def _batch_losses(self, images, style_weights, training: bool, style_targets=None,
                      paintings=None) -> dict:  # fmt: skip
        """The perceptual loss's parts of one batch plus each term, weighted into `loss`
        (style prediction: `style_targets` replace the loss's stored styles, and the
        terms get each image's own painting, `paintings`)."""
        if self.probed_generator is None:
            generated = self.generate(images, style_weights, training=training)
            activations = []
        else:
            generated, *activations = self.probed_generator(
                self._generator_inputs(images, style_weights), training=training
            )
        parts = self.perceptual_loss(images, generated, style_weights, style_targets)
        start = 0
        for term, count in zip(self.terms, self.probe_counts, strict=True):
            parts[term.name] = term(self, images, generated, style_weights, training,
                                    activations=activations[start : start + count],
                                    paintings=paintings)  # fmt: skip
            parts["loss"] = parts["loss"] + term.weight * parts[term.name]
            start += count
        return parts

    def _update_metrics(self, parts: dict) -> dict:
        self.total_tracker.update_state(parts["loss"])
        self.content_tracker.update_state(parts["content_loss"])
        self.style_tracker.update_state(parts["style_loss"])
        self.tv_tracker.update_state(parts["tv_loss"])
        for tracker in self.term_trackers:
            tracker.update_state(parts[tracker.name])
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.10-3.15 reduces step outputs across workers with
            # strategy.reduce("MEAN", v, axis=0), which fails on scalars: give it (1,).
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def trained_variables(self) -> list:
        """The variables `train_step` updates."""
        return self.generator.trainable_variables

    def losses_of_batch(self, data, training: bool) -> dict:
        """The loss parts of one batch as the dataset yields it."""
        images, style_weights = self._unpack(data)
        return self._batch_losses(images, style_weights, training=training)

    def train_step(self, data):
        variables = self.trained_variables()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            parts = self.losses_of_batch(data, training=True)
            loss = self.optimizer.scale_loss(parts["loss"] / replicas)
        grads = tape.gradient(loss, variables)
        if self.row_mask is not None:  # only the rows of the styles being trained
            grads = [g * tf.cast(self.row_mask, g.dtype) if id(v) in self.masked else g
                     for g, v in zip(grads, variables, strict=True)]  # fmt: skip
        self.optimizer.apply(grads, variables)
        return self._update_metrics(parts)

    def test_step(self, data):
        return self._update_metrics(self.losses_of_batch(data, training=False))
