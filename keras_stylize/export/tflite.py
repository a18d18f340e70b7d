"""TFLite (LiteRT) export: float32, float16, dynamic-range int8, full int8.

The generator is traced as a `tf.function` with input `[1, H, W, 3]` float32 in
[0, 255] (output the same), then converted from its concrete function without a
trackable object, which freezes the variables into constants. With `size=None` height
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

from keras_stylize.export.verify import agreement, check_target, test_image
from keras_stylize.files import atomic_write_bytes
from keras_stylize.options import QUANTIZE

QUANTIZATIONS = QUANTIZE


def interpreter_class():
    """LiteRT's `Interpreter` (`ai-edge-litert`), else TensorFlow's deprecated one."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the installed extras
        Interpreter = tf.lite.Interpreter  # noqa: N806
    return Interpreter


def run_tflite(model_content: bytes, images: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Runs a TFLite model on float32 `(1, H, W, 3)` images and returns its output."""
    interpreter = interpreter_class()(model_content=model_content, num_threads=num_threads)
    index = interpreter.get_input_details()[0]["index"]
    if tuple(interpreter.get_input_details()[0]["shape"]) != images.shape:
        interpreter.resize_tensor_input(index, images.shape, strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, images.astype(np.float32))
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
    shape = [1, size[0], size[1], 3] if size else [1, None, None, 3]

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="images")])
    def serve(images):
        return generator(images, training=False)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()])
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        if representative_images is None:
            raise ValueError("int8 quantization needs representative_images")

        def dataset():
            for image in representative_images():
                yield [np.asarray(image, np.float32)]

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
) -> dict:
    """Converts, verifies against Keras with the LiteRT interpreter, then writes `out`
    atomically; returns the verification record."""
    content = convert_tflite(generator, quantization, size, representative_images)
    image = test_image(*(size or (256, 256)))
    reference = np.asarray(generator(image, training=False))
    result = agreement(reference, run_tflite(content, image))
    check_target(result, quantization, f"TFLite ({quantization})")
    if size is None:  # a resizable file must also work at a second, odd size
        other = test_image(67, 91)
        extra = agreement(np.asarray(generator(other)), run_tflite(content, other))
        check_target(extra, quantization, f"TFLite ({quantization}) at 67x91")
        result["at_67x91"] = extra
    atomic_write_bytes(out, content)
    return {
        "format": "tflite",
        "quantization": quantization,
        "input": f"float32 [1, {size[0] if size else 'H'}, {size[1] if size else 'W'}, 3] RGB "
        "in [0, 255]; output the same",
        "resizable": size is None,
        "files": {Path(out).name: len(content)},
        "agreement": result,
    }
