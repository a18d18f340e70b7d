"""The VGG19 loss network: frozen ImageNet features for content and style losses.

Input convention: our images, float RGB `(batch, height, width, 3)` in [0, 255]. The
caffe-style preprocessing of `keras.applications.vgg19` (RGB -> BGR, subtract the
ImageNet mean pixel [103.939, 116.779, 123.68]) happens inside the model, in the
`VGGPreprocessing` layer. Layer names are those of `keras.applications.VGG19`
(`block1_conv1` ... `block5_conv4`, activations included: `blockN_convM` is reluN_M).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_stylize.vgg_layers import VGG19_CONV_LAYERS, VGG19_LAYERS
from keras_stylize.vgg_weights import VGG19Weights, resolve_vgg19_weights

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="keras_stylize")
class VGGPreprocessing(keras.layers.Layer):
    """[0, 255] RGB -> caffe-style BGR minus the ImageNet mean (as `vgg19.preprocess_input`)."""

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        bgr = ops.flip(x, axis=-1)
        return bgr - ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=self.compute_dtype)


def vgg19_features(
    layer_names: Sequence[str],
    weights: str | None = "imagenet",
    weights_path: str | None = None,
    return_weights_info: bool = False,
) -> keras.Model | tuple[keras.Model, VGG19Weights | None]:
    """A frozen VGG19 that maps [0, 255] RGB images to a dict of named activations.

    Only the layers up to the deepest requested one are built, so no computation is wasted.

    Args:
        layer_names: Keras VGG19 layer names, e.g. `["block1_conv1", "block4_conv2"]`.
        weights: "imagenet" (resolved by `vgg_weights.resolve_vgg19_weights`) or None
            for random weights (tests only; never a silent fallback).
        weights_path: an explicit Keras VGG19 notop weights file (first choice).
        return_weights_info: also return the `VGG19Weights` used (None when random).

    Returns:
        A non-trainable `keras.Model` whose output is `{layer_name: activation}`;
        `model.get_layer("block1_conv1")` works.
    """
    names = list(dict.fromkeys(layer_names))
    unknown = [n for n in names if n not in VGG19_LAYERS]
    if not names or unknown:
        raise ValueError(
            f"layer_names must be VGG19 layer names such as 'block4_conv2'. Unknown: {unknown}"
        )
    if weights not in ("imagenet", None):
        raise ValueError(f"`weights` must be 'imagenet' or None. Received: weights={weights!r}")
    info = None
    images = keras.Input(shape=(None, None, 3), name="images")
    x = VGGPreprocessing(name="vgg_preprocessing")(images)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_tensor=x)
    if weights == "imagenet":
        info = resolve_vgg19_weights(weights_path)
        source = keras.applications.VGG19(
            include_top=False, weights=None, input_shape=(None, None, 3)
        )
        source.load_weights(info.path)
        for name in VGG19_CONV_LAYERS:
            vgg.get_layer(name).set_weights(source.get_layer(name).get_weights())
    # Only the layers the outputs depend on are part of the returned model.
    outputs: dict[str, Any] = {name: vgg.get_layer(name).output for name in names}
    model = keras.Model(images, outputs, name="vgg19_features")
    model.trainable = False
    return (model, info) if return_weights_info else model
