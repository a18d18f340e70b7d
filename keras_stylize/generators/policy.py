"""Dtype policies of generators: float32 copies of models trained in mixed precision and
reduced-precision copies for inference.

A generator's pixels stay float32 at both ends whatever the policy: the output mapping and
the final crop (`blocks.PIXEL_LAYERS`) always compute in float32, and the normalization
layers compute their statistics in float32 under any policy.
"""

from __future__ import annotations

import functools
from typing import Any

import keras

from keras_stylize.generators.blocks import PIXEL_LAYERS
from keras_stylize.generators.graph import inbound_layer_names


def _policy(name: str) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}  # fmt: skip


def with_policy(model: keras.Model, policy: str) -> keras.Model:
    """A copy of the functional `model` (same weights) whose layers use the dtype policy
    `policy` ("float32", "mixed_bfloat16" or "mixed_float16"), except the input
    preprocessing (every layer before the first convolution: pixel scaling, padding, the
    texture network's pooled pyramid) and `PIXEL_LAYERS`, which stay float32 (a
    reduced-precision input loses more than the rest of the network: docs/stylize.md).
    Weights are float32 in all."""
    config = model.get_config()
    layers = config["layers"]
    convs = {layer["name"] for layer in layers if layer["class_name"] == "Conv2D"}
    after_conv: set[str] = set()  # layers with a convolution before them
    for layer in layers:  # the config lists layers in topological order
        if inbound_layer_names(layer) & (after_conv | convs):
            after_conv.add(layer["name"])

    def fix(layer: dict) -> dict:
        config = layer["config"]
        if layer["class_name"] == "InputLayer" or "dtype" not in config:
            return layer
        keep = layer["name"] in PIXEL_LAYERS or (
            layer["name"] not in after_conv and layer["class_name"] != "Conv2D"
        )
        return {**layer, "config": {**config, "dtype": _policy("float32" if keep else policy)}}

    config = {**config, "layers": [fix(layer) for layer in layers]}
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def float32_copy(model: keras.Model) -> keras.Model:
    """The generator with every layer float32: what `fit` saves. A model trained under
    `mixed_bfloat16`/`mixed_float16` stores that policy in each layer's config; saved as
    is, it would run in 16-bit at inference and its exports would contain 16-bit ops
    (bfloat16 `MirrorPad` is not a TFLite builtin)."""
    return with_policy(model, "float32")


@functools.cache
def native_bfloat16() -> bool:
    """True if this machine's CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX;
    Linux `/proc/cpuinfo` flags). Elsewhere bfloat16 is emulated and slower than float32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = set(" ".join(line for line in f if line.startswith("flags")).split())
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & flags)
