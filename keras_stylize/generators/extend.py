"""Generators grown from trained ones: styles added to a multi-style generator
(`add_styles`, Dumoulin et al. 2017, section 4) and a new generator started from a
trained one of the same architecture (`warm_start`)."""

from __future__ import annotations

import copy

import keras
import numpy as np

from keras_stylize.generators.blocks import STYLE_INPUT, STYLE_LAYER
from keras_stylize.layers import ConditionalInstanceNormalization, StyleWeights


def add_styles(
    base: keras.Model,
    names: list[str],
    starts: dict[str, np.ndarray] | None = None,
    free: bool = False,
) -> tuple[keras.Model, list[int]]:
    """A copy of the multi-style generator `base` with the styles `names` appended.

    Every `ConditionalInstanceNormalization` gets one more row of `gamma` and `beta` per
    new style, initialized to the mean of the existing styles' rows (a blend of all of
    them, a better start than the identity), or, for a name in `starts`, to the rows its
    style weights (one per existing column) mix (e.g. a style predictor's output for the new
    painting: `generators.prediction`); every other weight is copied unchanged.
    Train only the new rows (`StylizationModel(..., train_styles=new)`) to learn a new
    style in minutes. New styles go before `base`'s free directions (`StyleWeights`),
    which stay the last columns; with `free=True` the new columns are free directions
    themselves, appended after the others, their rows at zero (no offset until trained).

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
    old_free = base.get_layer(STYLE_LAYER).free_styles
    clash = sorted(set(old_names) & set(names))
    if clash or len(set(names)) != len(names):
        raise ValueError(f"style names already in the model or repeated: {clash or names}")
    total = len(old_names) + len(names)
    at = total - len(names) if free else len(old_names) - old_free  # first new column
    if free:
        starts = {n: np.zeros(len(old_names), np.float32) for n in names}
    presets = len(old_names) - old_free
    even = np.concatenate([np.full(presets, 1 / presets), np.zeros(old_free)])  # their mean
    config = copy.deepcopy(base.get_config())
    for layer in config["layers"]:
        layer.pop("build_config", None)  # shapes change; layers are rebuilt on the graph
        cfg = layer["config"]
        if layer["name"] == STYLE_INPUT:
            shape_key = "batch_shape" if "batch_shape" in cfg else "batch_input_shape"
            cfg[shape_key] = [cfg[shape_key][0], total]
        elif layer["name"] == STYLE_LAYER:
            cfg["style_names"] = old_names[:at] + list(names) + old_names[at:]
            cfg["free_styles"] = old_free + (len(names) if free else 0)
        elif layer["class_name"].endswith("ConditionalInstanceNormalization"):
            cfg["num_styles"] = total
    generator = keras.Model.from_config(config)
    for old, new in zip(base.layers, generator.layers, strict=True):
        if isinstance(new, ConditionalInstanceNormalization):
            grown = []
            for value in old.get_weights():
                start = [np.asarray((starts or {}).get(n, even), np.float32) @ value
                         for n in names]  # fmt: skip
                grown.append(np.concatenate([value[:at], np.stack(start), value[at:]], axis=0))
            new.set_weights(grown)
        elif not isinstance(new, StyleWeights):
            new.set_weights(old.get_weights())
    return generator, list(range(at, at + len(names)))


def warm_start(generator: keras.Model, base: keras.Model) -> keras.Model:
    """Sets the weights of `generator` from the trained `base` of the same architecture
    (family and width; layers matched by name) and returns `generator`.

    Made for starting a multi-style model from a trained single-style one: each
    conditional instance norm of `generator` gets `base`'s instance-norm scale and shift
    in every style row (or, from a multi-style `base`, the row of the same style name,
    else the mean of its rows). A convolution bias of `base` that `generator` lacks is
    dropped: the normalization after that convolution subtracts the per-channel mean, so
    the bias had no effect (older generators kept such biases).

    Raises:
        ValueError: a layer of `generator` has no counterpart in `base`, or its weights
            do not fit (another family, width or normalization).
    """
    base_layers = {layer.name: layer for layer in base.layers}
    base_names = (
        list(base.get_layer(STYLE_LAYER).style_names) if STYLE_LAYER in base_layers else None
    )
    names = (
        list(generator.get_layer(STYLE_LAYER).style_names)
        if STYLE_LAYER in {layer.name for layer in generator.layers}
        else None
    )
    if names is not None and names == base_names:  # the base's free directions stay free
        generator.get_layer(STYLE_LAYER).free_styles = base.get_layer(STYLE_LAYER).free_styles
    for layer in generator.layers:
        if not layer.weights or isinstance(layer, StyleWeights):
            continue
        old = base_layers.get(layer.name)
        if old is None:
            raise ValueError(
                f"cannot warm-start from {base.name}: it has no layer {layer.name!r} "
                "(another family or normalization?)"
            )
        values = old.get_weights()
        if isinstance(layer, ConditionalInstanceNormalization):
            values = [_style_rows(v, base_names, names) for v in values]
        elif isinstance(layer, keras.layers.Conv2D) and len(values) > len(layer.weights):
            values = values[: len(layer.weights)]  # a bias the normalization cancels
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            raise ValueError(
                f"cannot warm-start {layer.name!r} from {base.name}: weights of shapes "
                f"{[v.shape for v in values]}, expected {shapes} (another width?)"
            )
        layer.set_weights(values)
    return generator


def _style_rows(value: np.ndarray, base_names: list[str] | None, names: list[str]):
    """`(len(names), C)` rows for a conditional norm from a base norm's parameter: an
    instance norm's `(C,)` repeated, or a conditional norm's rows by style name (the
    mean row for names the base lacks)."""
    if base_names is None:
        return np.repeat(value[None], len(names), axis=0)
    mean = value.mean(axis=0)
    return np.stack([value[base_names.index(n)] if n in base_names else mean for n in names])
