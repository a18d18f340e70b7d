"""TFLite (LiteRT) export: float32, float16, dynamic-range int8, full int8.

The generator is traced as a `tf.function` with input `[1, H, W, 3]` float32 in
[0, 255] (output the same; multi-style generators also take `style_weights`, float32
`[1, num_styles]`), then converted from its concrete function without a
trackable object, which freezes the variables into constants. Reflection padding is
traced as slices and a concatenation (`sliced_padding`): XNNPACK, the CPU delegate,
has no MirrorPad. Upsampling blocks are traced fused (`model_graph.fuse_upsampling`, same
values): no full-resolution copy of the decoder's input. With `size=None` height
and width stay dynamic (`interpreter.resize_tensor_input` before `allocate_tensors`);
`size=(H, W)` fixes them. Which one a file has is written in its sidecar (`resizable`).

Quantizations: "none" (float32), "float16" (weights stored as float16), "dynamic"
(int8 weights, float activations), "int8" (full integer with a representative dataset of
content images; input/output stay float32 so the file is a drop-in replacement).
Every file is run with the LiteRT interpreter on the verification image before it is
written; it is refused when it misses its PSNR target (`verify.PSNR_TARGETS`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_stylize.export.verify import (
    agreement,
    check_target,
    keras_output,
    style_cases,
    test_image,
    worst,
)
from keras_stylize.files import atomic_write_bytes
from keras_stylize.generators.graph import fuse_upsampling
from keras_stylize.inference.session import forward, input_specs
from keras_stylize.layers.reflection_padding import sliced_padding
from keras_stylize.options import QUANTIZATIONS as _BY_FORMAT

QUANTIZATIONS = _BY_FORMAT["tflite"]


def interpreter_class():
    """LiteRT's `Interpreter` (`ai-edge-litert`), else TensorFlow's deprecated one."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the installed extras
        Interpreter = tf.lite.Interpreter  # noqa: N806
    return Interpreter


def run_tflite(
    model_content: bytes,
    images: np.ndarray,
    style_weights: np.ndarray | None = None,
    num_threads: int = 2,
) -> np.ndarray:
    """Runs a TFLite model on float32 `(1, H, W, 3)` images (and `(1, num_styles)` style
    weights for a multi-style model) and returns its output. Inputs are told apart by
    rank: the image is the 4-D one."""
    interpreter = interpreter_class()(model_content=model_content, num_threads=num_threads)
    details = interpreter.get_input_details()
    image_input = next(d for d in details if len(d["shape"]) == 4)
    style_input = next((d for d in details if len(d["shape"]) == 2), None)
    if (style_input is None) != (style_weights is None):
        raise ValueError("style_weights must be given exactly for multi-style models")
    if tuple(image_input["shape"]) != images.shape:
        interpreter.resize_tensor_input(image_input["index"], images.shape, strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(image_input["index"], images.astype(np.float32))
    if style_input is not None:
        interpreter.set_tensor(style_input["index"], np.asarray(style_weights, np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def convert_tflite(
    generator: keras.Model,
    quantization: str = "none",
    size: tuple[int, int] | None = None,
    representative_images: Callable[[], Iterable[np.ndarray]] | None = None,
) -> bytes:
    """The TFLite flatbuffer of `generator` (see the module docstring)."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    graph = fuse_upsampling(generator)  # sub-pixel upsampling: less memory and work
    serve = tf.function(forward(graph), input_signature=input_specs(graph, 1, size))
    with sliced_padding(graph):  # XNNPACK has no MirrorPad
        function = serve.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        if representative_images is None:
            raise ValueError("int8 quantization needs representative_images")

        cases = [w for _, w in style_cases(generator)]

        def dataset():
            for i, image in enumerate(representative_images()):
                weights = cases[i % len(cases)]
                extra = [] if weights is None else [weights]
                yield [np.asarray(image, np.float32), *extra]

        converter.representative_dataset = dataset
        # MirrorPad has no int8 kernel: allow float builtins where int8 is unavailable.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    return converter.convert()


def export_tflite(
    generator: keras.Model,
    out: str | os.PathLike,
    quantization: str = "none",
    size: tuple[int, int] | None = None,
    representative_images: Callable[[], Iterable[np.ndarray]] | None = None,
    overwrite: bool = False,
) -> dict:
    """Converts, verifies against Keras with the LiteRT interpreter, then writes `out`
    atomically (an existing file only with `overwrite`); returns the verification record."""
    content = convert_tflite(generator, quantization, size, representative_images)

    def check(image: np.ndarray, what: str) -> dict:
        results = [
            {**agreement(keras_output(generator, image, w), run_tflite(content, image, w)),
             "case": label}
            for label, w in style_cases(generator)
        ]  # fmt: skip
        result = worst(results)
        check_target(result, quantization, what)
        return result

    result = check(test_image(*(size or (256, 256))), f"TFLite ({quantization})")
    if size is None:  # a resizable file must also work at a second, odd size
        result["at_67x91"] = check(test_image(67, 91), f"TFLite ({quantization}) at 67x91")
    atomic_write_bytes(out, content, overwrite=overwrite)
    return {
        "format": "tflite",
        "quantization": quantization,
        "input": f"float32 [1, {size[0] if size else 'H'}, {size[1] if size else 'W'}, 3] RGB "
        "in [0, 255]; output the same"
        + (
            f"; style_weights float32 [1, {generator.inputs[1].shape[-1]}]"
            if len(generator.inputs) > 1
            else ""
        ),
        "resizable": size is None,
        "files": {Path(out).name: len(content)},
        "agreement": result,
    }
