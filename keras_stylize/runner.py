"""Compiled forward passes of functional models for inference, for any image size."""

from __future__ import annotations

import weakref

import keras
import numpy as np

from keras_stylize.generators.blocks import STYLE_INPUT

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def input_specs(model: keras.Model, batch: int | None = None, size=None, image_dtype=None):
    """The `tf.TensorSpec`s of a generator's inputs: images `(batch, H, W, 3)` named
    "images" (float32 unless `image_dtype`; `size=(H, W)` fixes the size, else any), and
    for multi-style generators the style weights `(batch, num_styles)` float32."""
    import tensorflow as tf

    height, width = size if size else (None, None)
    specs = [tf.TensorSpec([batch, height, width, 3], image_dtype or tf.float32, name="images")]
    if len(model.inputs) > 1:
        styles = model.inputs[1].shape[-1]
        specs.append(tf.TensorSpec([batch, styles], tf.float32, name=STYLE_INPUT))
    return specs


def forward(model: keras.Model):
    """`model`'s inference call as a function of its inputs in `input_specs` order."""

    def call(*inputs):
        return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    return call


def compiled(model: keras.Model):
    """`model`'s forward pass (`training=False`) as a `tf.function` taking float32
    images `(batch, H, W, 3)` of any size, then the style weights `(batch, S)` if the
    model has a second input (cached per model). A graph frees each intermediate as soon
    as its consumers ran; Keras' eager call of a functional model keeps them all, which
    tripled the peak memory (docs/benchmarks.md)."""
    if model not in _COMPILED:
        import tensorflow as tf

        _COMPILED[model] = tf.function(forward(model), input_signature=input_specs(model))
    return _COMPILED[model]


def run(model: keras.Model, images: np.ndarray, weights: np.ndarray | None = None):
    """`model`'s outputs (a float32 array, or a list for several outputs) for float32
    images `(batch, H, W, 3)`; `weights` (models with a style input only) is one style
    weights row `(num_styles,)` for every image or one row per image."""
    inputs = [np.asarray(images, np.float32)]
    if weights is not None:
        rows = np.asarray(weights, np.float32).reshape(-1, np.shape(weights)[-1])
        inputs.append(np.broadcast_to(rows, (len(images), rows.shape[1])))
    outputs = compiled(model)(*inputs)
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o, np.float32) for o in outputs]
    return np.asarray(outputs, np.float32)
