"""`StylizationModel`: the Keras model that trains a generator with a `PerceptualLoss`.

Pixel convention: batches of content images, float32 `(batch, H, W, 3)` RGB in [0, 255]
(as `data.content_dataset` yields them); for a multi-style generator each batch is a
tuple `(images, style_weights)` with one-hot (or mixed) `style_weights` of shape
`(batch, num_styles)`. The trained artifact users keep is `model.generator` alone; the
loss network is not part of it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_stylize.layers import ConditionalInstanceNormalization, InstanceNormalization
from keras_stylize.losses import darkening_penalty, kurtosis_penalty, patch_penalty, temporal_loss
from keras_stylize.motion import move, random_motion
from keras_stylize.options import DARKENING_CELL, DARKENING_RATIO
from keras_stylize.perceptual_loss import PerceptualLoss


class StylizationModel(keras.Model):
    """Trains `generator` so that its outputs keep the content of its inputs and take the
    style of the loss's style image(s) (Johnson et al. 2016; Ulyanov et al. 2016).

    Works with `compile(optimizer=...)`, `fit`, `evaluate` and any Keras callback; the
    metrics are `loss`, `content_loss`, `style_loss` and `tv_loss` (unweighted parts,
    float32 whatever the dtype policy), `temporal_loss` when `temporal_weight` > 0,
    `kurtosis_loss` when `kurtosis_weight` > 0, `darkening_loss` when
    `darkening_weight` > 0 and `patch_loss` when `patch_weight` > 0.
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
        temporal_weight: weight of the temporal-consistency loss (0: none). Each step then
            also stylizes the batch moved by a random known camera motion
            (`motion.random_motion`, drawn from `motion_seed` and the step number, so a
            resumed run draws the same motion) and penalizes the difference between that
            and the moved stylization (`losses.temporal_loss`): stable video at the cost
            of one more generator pass per step. Evaluation uses one fixed motion.
        motion_seed: seed of the training motion.
        kurtosis_weight: weight of `losses.kurtosis_penalty` on the inputs of every
            normalization layer of the generator (0: none; needs a generator with
            normalization layers). It is taken from the same generator pass as the
            other losses.
        kurtosis_limit: the kurtosis above which a channel is penalized.
        darkening_weight: weight of `losses.darkening_penalty` (regions painted much
            darker than the photo, the near-black blots; 0: none).
        darkening_cell: side of that penalty's squares, px (smaller squares also see
            small dark objects painted black).
        darkening_ratio: the share of the photo's brightness below which a square is
            penalized (lower: only regions painted near-black cost, the style's own
            dark palette is spared).
        patch_weight: weight of `losses.patch_penalty` (blob-sized patches that no local
            colour mapping of the photo explains, such as stray stars; 0: none).
    """

    def __init__(
        self,
        generator: keras.Model,
        perceptual_loss: PerceptualLoss,
        train_styles: list[int] | None = None,
        temporal_weight: float = 0.0,
        motion_seed: int = 0,
        kurtosis_weight: float = 0.0,
        kurtosis_limit: float = 40.0,
        darkening_weight: float = 0.0,
        darkening_cell: int = DARKENING_CELL,
        darkening_ratio: float = DARKENING_RATIO,
        patch_weight: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.perceptual_loss = perceptual_loss
        self.multi_style = len(generator.inputs) == 2
        generator_styles = int(generator.inputs[1].shape[-1]) if self.multi_style else 1
        if generator_styles != perceptual_loss.num_styles:
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
        # Everything trainable lives in the (functional, already built) generator, so the
        # model needs no symbolic build from a data batch (which fails on the per-replica
        # batches of distributed datasets).
        self.built = True
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.content_tracker = keras.metrics.Mean(name="content_loss")
        self.style_tracker = keras.metrics.Mean(name="style_loss")
        self.tv_tracker = keras.metrics.Mean(name="tv_loss")
        self.temporal_weight = float(temporal_weight)
        self.motion_seed = int(motion_seed)
        self.temporal_tracker = keras.metrics.Mean(name="temporal_loss")
        self.kurtosis_weight = float(kurtosis_weight)
        self.kurtosis_limit = float(kurtosis_limit)
        self.kurtosis_tracker = keras.metrics.Mean(name="kurtosis_loss")
        self.feature_model = self._feature_model() if self.kurtosis_weight else None
        self.darkening_weight = float(darkening_weight)
        self.darkening_cell = int(darkening_cell)
        self.darkening_ratio = float(darkening_ratio)
        self.darkening_tracker = keras.metrics.Mean(name="darkening_loss")
        self.patch_weight = float(patch_weight)
        self.patch_tracker = keras.metrics.Mean(name="patch_loss")

    def _feature_model(self) -> keras.Model:
        """The generator with, as extra outputs, the inputs of its normalization layers
        (same layers and weights: one pass gives the image and the features)."""
        norms = (InstanceNormalization, ConditionalInstanceNormalization,
                 keras.layers.BatchNormalization)  # fmt: skip
        features = []
        for layer in self.generator.layers:
            if isinstance(layer, norms):
                inputs = layer.input
                features.append(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
        if not features:
            raise ValueError("kurtosis_weight needs a generator with normalization layers")
        return keras.Model(self.generator.input, [self.generator.outputs[0], *features])

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TF trainer builds models under a distribution strategy from one batch it
        # takes off the iterator and averages across replicas; with several workers that
        # average fails on per-replica batches, and the batch would be lost to training.
        # This model is built (see __init__): only the optimizer's variables must be made,
        # in the strategy's scope, before the first (replicated) step.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self) -> list:
        trackers = [self.total_tracker, self.content_tracker, self.style_tracker, self.tv_tracker]
        trackers += [self.temporal_tracker] if self.temporal_weight else []
        trackers += [self.kurtosis_tracker] if self.kurtosis_weight else []
        trackers += [self.darkening_tracker] if self.darkening_weight else []
        return trackers + [self.patch_tracker] if self.patch_weight else trackers

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

    def _generate(self, images, style_weights, training: bool):
        return self.generator(self._generator_inputs(images, style_weights), training=training)

    def _batch_losses(self, images, style_weights, training: bool) -> dict:
        """The perceptual loss's parts of one batch, plus the temporal term, the kurtosis,
        darkening and patch penalties when they have a weight (added to `loss`)."""
        if self.feature_model is None:
            generated = self._generate(images, style_weights, training=training)
            parts = self.perceptual_loss(images, generated, style_weights)
        else:
            inputs = self._generator_inputs(images, style_weights)
            generated, *features = self.feature_model(inputs, training=training)
            parts = self.perceptual_loss(images, generated, style_weights)
            parts["kurtosis_loss"] = kurtosis_penalty(features, self.kurtosis_limit)
            parts["loss"] = parts["loss"] + self.kurtosis_weight * parts["kurtosis_loss"]
        if self.darkening_weight:
            parts["darkening_loss"] = darkening_penalty(
                images, generated, ratio=self.darkening_ratio, cell=self.darkening_cell
            )
            parts["loss"] = parts["loss"] + self.darkening_weight * parts["darkening_loss"]
        if self.patch_weight:
            parts["patch_loss"] = patch_penalty(images, generated)
            parts["loss"] = parts["loss"] + self.patch_weight * parts["patch_loss"]
        if not self.temporal_weight:
            return parts
        if training:
            step = tf.cast(self.optimizer.iterations, tf.int64)
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            seed = tf.random.experimental.stateless_fold_in(
                tf.stack([tf.constant(self.motion_seed, tf.int64), step]), replica
            )
        else:
            seed = tf.constant([self.motion_seed, -1], tf.int64)
        boxes = random_motion(tf.shape(images)[0], seed)
        of_moved = self._generate(move(images, boxes), style_weights, training=training)
        parts["temporal_loss"] = temporal_loss(move(generated, boxes), of_moved)
        parts["loss"] = parts["loss"] + self.temporal_weight * parts["temporal_loss"]
        return parts

    def _update_metrics(self, parts: dict) -> dict:
        self.total_tracker.update_state(parts["loss"])
        self.content_tracker.update_state(parts["content_loss"])
        self.style_tracker.update_state(parts["style_loss"])
        self.tv_tracker.update_state(parts["tv_loss"])
        if self.temporal_weight:
            self.temporal_tracker.update_state(parts["temporal_loss"])
        if self.kurtosis_weight:
            self.kurtosis_tracker.update_state(parts["kurtosis_loss"])
        if self.darkening_weight:
            self.darkening_tracker.update_state(parts["darkening_loss"])
        if self.patch_weight:
            self.patch_tracker.update_state(parts["patch_loss"])
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.10-3.15 reduces step outputs across workers with
            # strategy.reduce("MEAN", v, axis=0), which fails on scalars: give it (1,).
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def train_step(self, data):
        images, style_weights = self._unpack(data)
        variables = self.generator.trainable_variables
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            parts = self._batch_losses(images, style_weights, training=True)
            loss = self.optimizer.scale_loss(parts["loss"] / replicas)
        grads = tape.gradient(loss, variables)
        if self.row_mask is not None:  # only the rows of the styles being trained
            grads = [g * tf.cast(self.row_mask, g.dtype) for g in grads]
        self.optimizer.apply(grads, variables)
        return self._update_metrics(parts)

    def test_step(self, data):
        images, style_weights = self._unpack(data)
        return self._update_metrics(self._batch_losses(images, style_weights, training=False))
