"""The compute precision of inference: the precision `auto` picks for this machine, and
the copy of a generator inference runs (`for_inference`; dtype policies are applied by
`generators.policy.with_policy`).
"""

from __future__ import annotations

import keras

from keras_stylize.generators.graph import fuse_upsampling
from keras_stylize.generators.policy import native_bfloat16, with_policy
from keras_stylize.options import DEFAULT_PRECISION, INFERENCE_PRECISIONS

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def bfloat16_safe(generator: keras.Model | None) -> bool:
    """False for generators that lose too much in bfloat16 for `auto` to pick it: the
    texture network (recognised by the average pooling of its multi-scale pyramid), whose
    worst photos fall below 40 dB PSNR against float32 in bfloat16 (docs/stylize.md).
    `auto` keeps results within 40 dB of float32."""
    if generator is None:
        return True
    return not any(isinstance(layer, keras.layers.AveragePooling2D) for layer in generator.layers)


def resolve(precision: str, generator: keras.Model | None = None) -> str:
    """The precision `precision` means on this machine (for `generator`, when given):
    "auto" is "float16" on a GPU, "bfloat16" on a CPU with native bfloat16 unless the
    generator is not `bfloat16_safe`, and "float32" elsewhere (docs/benchmarks.md has
    the PSNR of each against float32)."""
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"precision must be one of {INFERENCE_PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return precision
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "float16"
    return "bfloat16" if native_bfloat16() and bfloat16_safe(generator) else "float32"


def for_inference(generator: keras.Model, precision: str = DEFAULT_PRECISION) -> keras.Model:
    """`generator` as inference runs it: upsampling blocks fused into sub-pixel
    convolutions (`model_graph.fuse_upsampling`; same values, less memory and work),
    computing in `precision` (see `resolve`). Returns `generator` itself when neither
    changes anything."""
    fused = fuse_upsampling(generator)
    resolved = resolve(precision, generator)
    if resolved == "float32":
        return fused
    return with_policy(fused, POLICIES[resolved])
