"""The VGG19 loss network: frozen ImageNet features for content and style losses.

Input convention: our images, float RGB `(batch, height, width, 3)` in [0, 255]. The
caffe-style preprocessing of `keras.applications.vgg19` (RGB -> BGR, subtract the
ImageNet mean pixel [103.939, 116.779, 123.68]) happens inside the model, in the
`VGGPreprocessing` layer. Layer names are those of `keras.applications.VGG19`
(`block1_conv1` ... `block5_conv4`, activations included: `blockN_convM` is reluN_M).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from keras_stylize.layers.vgg_preprocessing import VGGPreprocessing
from keras_stylize.perceptual.layers import VGG19_CONV_LAYERS, VGG19_LAYERS
from keras_stylize.perceptual.weights import VGG19Weights, resolve_vgg19_weights


def _truncated_vgg19(images, deepest: str):
    """VGG19's layers (Keras names, 3x3 same-padded ReLU convs, 2x2 max pools) applied to
    `images` up to and including `deepest`; returns `{layer name: output}`."""
    outputs = {}
    x = images
    filters = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name in VGG19_LAYERS[: VGG19_LAYERS.index(deepest) + 1]:
        block = int(name[5])
        if name.endswith("_pool"):
            x = keras.layers.MaxPooling2D(2, strides=2, name=name)(x)
        else:
            x = keras.layers.Conv2D(
                filters[block], 3, padding="same", activation="relu", name=name
            )(x)
        outputs[name] = x
    return outputs


def vgg19_features(
    layer_names: Sequence[str],
    weights: str | None = "imagenet",
    weights_path: str | None = None,
    return_weights_info: bool = False,
) -> keras.Model | tuple[keras.Model, VGG19Weights | None]:
    """A frozen VGG19 that maps [0, 255] RGB images to a dict of named activations.

    The model holds VGG19's layers only up to the deepest requested one (up to
    `block5_conv1` for the default style layers: 13 of 16 convolutions), so no computation
    is wasted. To load ImageNet weights, a full notop VGG19 is built once, loaded from the
    weights file, copied layer by layer and dropped.

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
    deepest = max(names, key=VGG19_LAYERS.index)
    images = keras.Input(shape=(None, None, 3), name="images")
    x = VGGPreprocessing(name="vgg_preprocessing")(images)
    layers = _truncated_vgg19(x, deepest)
    model = keras.Model(images, {name: layers[name] for name in names}, name="vgg19_features")
    info = None
    if weights == "imagenet":
        info = resolve_vgg19_weights(weights_path)
        source = keras.applications.VGG19(
            include_top=False, weights=None, input_shape=(None, None, 3)
        )
        source.load_weights(info.path)
        for name in VGG19_CONV_LAYERS:
            if name in layers:
                model.get_layer(name).set_weights(source.get_layer(name).get_weights())
        del source
    model.trainable = False
    return (model, info) if return_weights_info else model
