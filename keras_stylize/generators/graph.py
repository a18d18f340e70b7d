"""Reading and rewriting a functional model's graph through its public config."""

from __future__ import annotations

import collections
from typing import Any

import keras


def inbound_layer_names(layer_config: dict[str, Any]) -> set[str]:
    """Names of the layers whose outputs feed the layer of `layer_config` (one entry of
    a functional model's `get_config()["layers"]`, which lists layers in topological
    order), read from its `inbound_nodes`."""

    def walk(node: Any) -> set[str]:
        if isinstance(node, dict):
            config = node.get("config")
            history = config.get("keras_history") if isinstance(config, dict) else None
            found = {history[0]} if history else set()
            return found.union(*(walk(v) for v in node.values()))
        if isinstance(node, (list, tuple)):
            return set().union(*(walk(v) for v in node))
        return set()

    return walk(layer_config.get("inbound_nodes", []))


def _is_upsample_block(upsample: dict, pad: dict, conv: dict) -> bool:
    """True for `NearestUpsampling2D` -> 1 px reflect `ReflectionPadding2D` -> plain 3x3
    stride-1 "valid" `Conv2D` without activation, each feeding the next."""
    c = conv["config"]
    return (
        upsample["class_name"] == "NearestUpsampling2D"
        and pad["class_name"] == "ReflectionPadding2D"
        and list(pad["config"]["padding"]) == [1, 1]
        and pad["config"]["mode"] == "reflect"
        and conv["class_name"] == "Conv2D"
        and list(c["kernel_size"]) == [3, 3]
        and list(c["strides"]) == [1, 1]
        and list(c["dilation_rate"]) == [1, 1]
        and c["padding"] == "valid"
        and c.get("groups", 1) == 1
        and c.get("data_format", "channels_last") == "channels_last"
        and c["activation"] == "linear"
        and inbound_layer_names(pad) == {upsample["name"]}
        and inbound_layer_names(conv) == {pad["name"]}
    )


def fuse_upsampling(model: keras.Model) -> keras.Model:
    """`model` with every upsampling block (`NearestUpsampling2D`, 1 px reflection
    padding, 3x3 convolution; the decoder of the Johnson generators) replaced by one
    `UpsampleConv2D` of the same name and weights as the convolution. Same values up to
    float rounding, a fraction of the memory and multiply-adds (see `UpsampleConv2D`).
    Returns `model` itself when it has no such block or is not a functional model."""
    try:
        config = model.get_config()
    except NotImplementedError:  # a subclassed model without a config
        return model
    if "input_layers" not in config:  # e.g. a Sequential model: no graph to rewrite
        return model
    layers = config["layers"]
    by_name = {layer["name"]: layer for layer in layers}
    consumers: collections.Counter = collections.Counter()
    for layer in layers:
        consumers.update(inbound_layer_names(layer))
    outputs = config.get("output_layers", [])
    for output in [outputs] if outputs and isinstance(outputs[0], str) else outputs:
        consumers[output[0]] += 1  # [name, node index, tensor index]

    fused: dict[str, dict] = {}  # conv name -> its replacement
    dropped: set[str] = set()
    for conv in layers:
        pads = inbound_layer_names(conv)
        pad = by_name.get(next(iter(pads))) if len(pads) == 1 else None
        ups = inbound_layer_names(pad) if pad else set()
        upsample = by_name.get(next(iter(ups))) if len(ups) == 1 else None
        if upsample is None or not _is_upsample_block(upsample, pad, conv):
            continue
        if consumers[upsample["name"]] != 1 or consumers[pad["name"]] != 1:
            continue
        c = conv["config"]
        fused[conv["name"]] = {
            "module": "keras_stylize.layers.upsampling",
            "class_name": "UpsampleConv2D",
            "registered_name": "keras_stylize>UpsampleConv2D",
            "config": {
                "name": c["name"], "trainable": c.get("trainable", True), "dtype": c["dtype"],
                "filters": c["filters"], "use_bias": c["use_bias"],
                "kernel_initializer": c["kernel_initializer"],
                "bias_initializer": c["bias_initializer"],
            },
            "build_config": upsample.get("build_config"),
            "name": conv["name"],
            "inbound_nodes": upsample["inbound_nodes"],
        }  # fmt: skip
        dropped |= {upsample["name"], pad["name"]}
    if not fused:
        return model
    config = {
        **config,
        "layers": [fused.get(layer["name"], layer) for layer in layers
                   if layer["name"] not in dropped],
    }  # fmt: skip
    copy = model.__class__.from_config(config)
    for layer in copy.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return copy
