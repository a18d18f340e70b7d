"""Dtype policies of generators: float32 copies of trained models, reduced-precision
copies for inference, and the precision `auto` picks for this machine.

A generator's pixels stay float32 at both ends whatever the precision: the output
mapping and the final crop (`OUTPUT_LAYERS`) always compute in float32, and the
normalization layers compute their statistics in float32 under any policy.
"""

from __future__ import annotations

import functools
from typing import Any

import keras

from keras_stylize.model_graph import fuse_upsampling, inbound_layer_names
from keras_stylize.options import INFERENCE_PRECISIONS

# The layers that map the last activation to pixels (see generators.blocks): float32 always.
OUTPUT_LAYERS = (
    "scale_output", "scale_output_linear", "scale_output_tanh", "scale_output_scaled", "crop",
)  # fmt: skip
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def _policy(name: str) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}  # fmt: skip


def with_policy(model: keras.Model, policy: str) -> keras.Model:
    """A copy of the functional `model` (same weights) whose layers use the dtype policy
    `policy` ("float32", "mixed_bfloat16" or "mixed_float16"), except the input
    preprocessing (every layer before the first convolution: pixel scaling, padding, the
    texture network's pooled pyramid) and `OUTPUT_LAYERS`, which stay float32. Keeping
    the preprocessing in float32 raised the worst bfloat16 photo of the Johnson zoo model
    from 38.4 to 47.3 dB PSNR against float32. Weights are float32 in all."""
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
        keep = layer["name"] in OUTPUT_LAYERS or (
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


def bfloat16_safe(generator: keras.Model | None) -> bool:
    """False for generators that lose too much in bfloat16 for `auto` to pick it: the
    texture network (recognised by the average pooling of its multi-scale pyramid), whose
    worst content_eval photo reached only 32.0 dB against float32 (mean 45.4 dB; the
    Johnson network's worst is 47.3 dB). `auto` keeps results within 40 dB of float32."""
    if generator is None:
        return True
    return not any(isinstance(layer, keras.layers.AveragePooling2D) for layer in generator.layers)


def resolve(precision: str, generator: keras.Model | None = None) -> str:
    """The precision `precision` means on this machine (for `generator`, when given):
    "auto" is "float16" on a GPU, "bfloat16" on a CPU with native bfloat16 unless the
    generator is not `bfloat16_safe`, and "float32" elsewhere. On the zoo models the
    reduced precisions reach a mean 45-62 dB PSNR against float32 over content_eval
    (docs/benchmarks.md)."""
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"precision must be one of {INFERENCE_PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return precision
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "float16"
    return "bfloat16" if native_bfloat16() and bfloat16_safe(generator) else "float32"


def for_inference(generator: keras.Model, precision: str = "auto") -> keras.Model:
    """`generator` as inference runs it: upsampling blocks fused into sub-pixel
    convolutions (`model_graph.fuse_upsampling`; same values, less memory and work),
    computing in `precision` (see `resolve`). Returns `generator` itself when neither
    changes anything."""
    fused = fuse_upsampling(generator)
    resolved = resolve(precision, generator)
    if resolved == "float32":
        return fused
    return with_policy(fused, POLICIES[resolved])
