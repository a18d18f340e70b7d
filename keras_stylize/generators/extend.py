"""Adding styles to a trained multi-style generator (Dumoulin et al. 2017, section 4)."""

from __future__ import annotations

import copy

import keras
import numpy as np

from keras_stylize.generators.blocks import STYLE_INPUT, STYLE_LAYER
from keras_stylize.layers import ConditionalInstanceNormalization, StyleWeights


def add_styles(base: keras.Model, names: list[str]) -> tuple[keras.Model, list[int]]:
    """A copy of the multi-style generator `base` with the styles `names` appended.

    Every `ConditionalInstanceNormalization` gets one more row of `gamma` and `beta` per
    new style, initialized to the mean of the existing styles' rows (a blend of all of
    them, a better start than the identity); every other weight is copied unchanged.
    Train only the new rows (`StylizationModel(..., train_styles=new)`) to learn a new
    style in minutes.

    Returns:
        `(generator, new)` where `new` are the column indices of the added styles.

    Raises:
        ValueError: `base` is not a multi-style generator, or a name is already used.
    """
    if STYLE_LAYER not in {layer.name for layer in base.layers}:
        raise ValueError(
            "--from needs a multi-style model (trained with several --style images); "
            f"{base.name} has a single style"
        )
    old_names = list(base.get_layer(STYLE_LAYER).style_names)
    clash = sorted(set(old_names) & set(names))
    if clash or len(set(names)) != len(names):
        raise ValueError(f"style names already in the model or repeated: {clash or names}")
    total = len(old_names) + len(names)
    config = copy.deepcopy(base.get_config())
    for layer in config["layers"]:
        layer.pop("build_config", None)  # shapes change; layers are rebuilt on the graph
        cfg = layer["config"]
        if layer["name"] == STYLE_INPUT:
            shape_key = "batch_shape" if "batch_shape" in cfg else "batch_input_shape"
            cfg[shape_key] = [cfg[shape_key][0], total]
        elif layer["name"] == STYLE_LAYER:
            cfg["style_names"] = old_names + list(names)
        elif layer["class_name"].endswith("ConditionalInstanceNormalization"):
            cfg["num_styles"] = total
    generator = keras.Model.from_config(config)
    for old, new in zip(base.layers, generator.layers, strict=True):
        if isinstance(new, ConditionalInstanceNormalization):
            grown = []
            for value in old.get_weights():
                start = np.repeat(value.mean(axis=0, keepdims=True), len(names), axis=0)
                grown.append(np.concatenate([value, start], axis=0))
            new.set_weights(grown)
        elif not isinstance(new, StyleWeights):
            new.set_weights(old.get_weights())
    return generator, list(range(len(old_names), total))
