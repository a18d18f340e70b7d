"""`StylizationModel`: a generator trained with VGG19 perceptual losses.

Pixel convention: batches of content images, float32 `(batch, H, W, 3)` RGB in [0, 255]
(as `data.content_dataset` yields them). The trained artifact users keep is
`model.generator` alone; the loss network is not part of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_stylize.losses import content_loss, gram_matrix, style_loss, total_variation_loss
from keras_stylize.perceptual import vgg19_features
from keras_stylize.vgg_layers import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS


def _style_layer_weights(style_layers: Sequence[str] | Mapping[str, float]) -> dict[str, float]:
    if isinstance(style_layers, Mapping):
        weights = {str(k): float(v) for k, v in style_layers.items()}
    else:
        weights = {str(name): 1.0 for name in style_layers}
    if not weights:
        raise ValueError("at least one style layer is required")
    return weights


class StylizationModel(keras.Model):
    """Trains `generator` so that its outputs keep the content of its inputs and take the
    style of one image (Johnson et al. 2016; Ulyanov et al. 2016).

    loss = content_weight * content + style_weight * style + tv_weight * tv, with the
    definitions of `keras_stylize.losses`, all computed in float32 whatever the dtype
    policy. The content target is the VGG activation of the input image (computed
    without gradients, through a network cut at the content layer); the style targets
    (Gram matrices of the style image) are computed once, here.

    Works with `compile(optimizer=...)`, `fit`, `evaluate` and any Keras callback; the
    metrics are `loss`, `content_loss`, `style_loss` and `tv_loss` (unweighted parts).
    Under `mixed_float16` Keras wraps the optimizer in a `LossScaleOptimizer` and
    `train_step` scales the loss; under a `tf.distribute` strategy the loss is divided by
    the number of replicas so that summed gradients are those of the global batch.

    Args:
        generator: a generator model ([0, 255] RGB in and out).
        style_image: float array `(1, H, W, 3)` or `(H, W, 3)` in [0, 255], already
            resized (see `data.load_style_image`).
        content_layer: VGG19 layer of the content loss.
        style_layers: VGG19 layers of the style loss, or `{layer: weight}`.
        content_weight, style_weight, tv_weight: loss weights.
        vgg_weights: "imagenet" or None (random; tests only).
        vgg_weights_path: explicit VGG19 notop weights file.
        feature_extractor: an existing output of `vgg19_features` covering the layers
            (to share one across models); built here when None.
    """

    def __init__(
        self,
        generator: keras.Model,
        style_image: Any,
        content_layer: str = DEFAULT_CONTENT_LAYER,
        style_layers: Sequence[str] | Mapping[str, float] = DEFAULT_STYLE_LAYERS,
        content_weight: float = 1.0,
        style_weight: float = 0.5,
        tv_weight: float = 1e-4,
        vgg_weights: str | None = "imagenet",
        vgg_weights_path: str | None = None,
        feature_extractor: keras.Model | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.content_layer = content_layer
        self.style_layer_weights = _style_layer_weights(style_layers)
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        layers = [content_layer, *self.style_layer_weights]
        self.vgg_weights_info = None
        if feature_extractor is None:
            feature_extractor, self.vgg_weights_info = vgg19_features(
                layers, weights=vgg_weights, weights_path=vgg_weights_path,
                return_weights_info=True,
            )  # fmt: skip
        self.loss_network = feature_extractor
        self.content_network = keras.Model(
            feature_extractor.input,
            feature_extractor.get_layer(content_layer).output,
            name="vgg19_content",
        )
        self.content_network.trainable = False
        style = np.asarray(style_image, dtype=np.float32)
        if style.ndim == 3:
            style = style[None]
        style_features = feature_extractor(style)
        self.style_grams = {
            name: ops.convert_to_tensor(gram_matrix(style_features[name]))
            for name in self.style_layer_weights
        }
        self.total_tracker = keras.metrics.Mean(name="loss")
        self.content_tracker = keras.metrics.Mean(name="content_loss")
        self.style_tracker = keras.metrics.Mean(name="style_loss")
        self.tv_tracker = keras.metrics.Mean(name="tv_loss")

    @property
    def metrics(self) -> list:
        return [self.total_tracker, self.content_tracker, self.style_tracker, self.tv_tracker]

    def call(self, inputs, training: bool = False):
        return self.generator(inputs, training=training)

    def compute_losses(self, content_images, generated) -> dict:
        """Unweighted parts and the weighted total, float32 scalars (means over the batch)."""
        content_target = ops.stop_gradient(self.content_network(content_images))
        features = self.loss_network(generated)
        parts = {
            "content_loss": content_loss(features[self.content_layer], content_target),
            "style_loss": style_loss(features, self.style_grams, self.style_layer_weights),
            "tv_loss": total_variation_loss(generated),
        }
        parts["loss"] = (
            self.content_weight * parts["content_loss"]
            + self.style_weight * parts["style_loss"]
            + self.tv_weight * parts["tv_loss"]
        )
        return parts

    def _update_metrics(self, parts: dict) -> dict:
        self.total_tracker.update_state(parts["loss"])
        self.content_tracker.update_state(parts["content_loss"])
        self.style_tracker.update_state(parts["style_loss"])
        self.tv_tracker.update_state(parts["tv_loss"])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        variables = self.generator.trainable_variables
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            generated = self.generator(images, training=True)
            parts = self.compute_losses(images, generated)
            loss = self.optimizer.scale_loss(parts["loss"] / replicas)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        return self._update_metrics(parts)

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        generated = self.generator(images, training=False)
        return self._update_metrics(self.compute_losses(images, generated))
