"""TFLite export of a style predictor (`generators.prediction`), verified by what it
changes in the pictures.

The predictor is traced with input `painting` float32 `[1, H, W, 3]` RGB in [0, 255]
(any size; `generators.prediction.read_painting` gives the size it was trained at: shorter
side `PREDICTOR_SIZE`) and output `style_weights` float32 `[1, num_styles]`, the second
input of the generator exported beside it. Quantization "none" or "float16".

Verification: for two test paintings (the verification photo and a recoloured, mirrored
crop of it, so that the weights differ), the style weights of the LiteRT file and of Keras
each drive the Keras generator on the verification image; the two stylizations must agree
within the PSNR target of the quantization (`verify.PSNR_TARGETS`), the same bar as a
generator export. The largest difference between the weights is recorded too.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_stylize.export.tflite import run_tflite
from keras_stylize.export.verify import agreement, check_target, keras_output, test_image, worst
from keras_stylize.files import atomic_write_bytes

PREDICTOR_QUANTIZATIONS = ("none", "float16")


def test_paintings() -> list[tuple[str, np.ndarray]]:
    """Two `(1, H, W, 3)` float32 paintings of different sizes and colours."""
    first = test_image(256, 320)
    second = test_image(288, 256)[:, :, ::-1, ::-1] * np.float32(0.8) + np.float32(30.0)
    return [("painting 256x320", first), ("painting 288x256, recoloured", second)]


def convert_predictor_tflite(predictor: keras.Model, quantization: str = "none") -> bytes:
    """The TFLite flatbuffer of `predictor` (resizable input, see the module docstring)."""
    if quantization not in PREDICTOR_QUANTIZATIONS:
        raise ValueError(f"a predictor's quantization must be one of "
                         f"{PREDICTOR_QUANTIZATIONS}, not {quantization!r}")  # fmt: skip
    spec = tf.TensorSpec([1, None, None, 3], tf.float32, name="painting")
    serve = tf.function(
        lambda painting: predictor(painting, training=False), input_signature=[spec]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()])
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def export_predictor_tflite(
    predictor: keras.Model,
    generator: keras.Model,
    out: str | os.PathLike,
    quantization: str = "none",
    overwrite: bool = False,
) -> dict:
    """Converts and verifies (see the module docstring), then writes `out` atomically (an
    existing file only with `overwrite`); returns the verification record."""
    content = convert_predictor_tflite(predictor, quantization)
    photo = test_image()
    results, weight_diff = [], 0.0
    for label, painting in test_paintings():
        expected = np.asarray(predictor(painting, training=False), np.float32)
        got = np.asarray(run_tflite(content, painting), np.float32)
        weight_diff = max(weight_diff, float(np.abs(got - expected).max()))
        reference = keras_output(generator, photo, expected)
        results.append({**agreement(reference, keras_output(generator, photo, got)),
                        "case": label})  # fmt: skip
    result = {**worst(results), "style_weights_max_abs_diff": weight_diff}
    check_target(result, quantization, f"TFLite predictor ({quantization})")
    atomic_write_bytes(out, content, overwrite=overwrite)
    return {
        "format": "tflite",
        "role": "style predictor",
        "quantization": quantization,
        "input": "painting float32 [1, H, W, 3] RGB in [0, 255] (shorter side "
        "256 as trained); output style_weights float32 "
        f"[1, {predictor.output.shape[-1]}], the generator's second input",
        "resizable": True,
        "files": {Path(out).name: len(content)},
        "agreement": result,
    }
