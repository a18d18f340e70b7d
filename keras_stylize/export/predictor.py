"""TFLite and TF.js exports of a style predictor (`generators.prediction`), verified by
what they change in the pictures.

The predictor is traced with input `painting` float32 `[1, H, W, 3]` RGB in [0, 255]
(any size; `generators.prediction.read_painting` gives the size it was trained at: shorter
side `PREDICTOR_SIZE`) and output `style_weights` float32 `[1, num_styles]`, the second
input of the generator exported beside it. Quantization "none" or "float16".

Verification: for two test paintings (the verification photo and a recoloured, mirrored
crop of it, so that the weights differ), the style weights of the export (run with LiteRT,
or with TF.js + WASM in Node) and of Keras each drive the Keras generator on the
verification image; the two stylizations must agree within the PSNR target of the
quantization (`verify.PSNR_TARGETS`), the same bar as a generator export. The largest
difference between the weights is recorded too.
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
from keras_stylize.options import PREDICTOR_QUANTIZATIONS


def check_predictor_export(fmt: str, quantization: str) -> None:
    """Raises ValueError (one line) unless a predictor exports as `fmt` with
    `quantization` (`options.PREDICTOR_QUANTIZATIONS`)."""
    if quantization not in PREDICTOR_QUANTIZATIONS.get(fmt, ()):
        formats = " or ".join(PREDICTOR_QUANTIZATIONS)
        kinds = " or ".join(dict.fromkeys(q for qs in PREDICTOR_QUANTIZATIONS.values() for q in qs))
        raise ValueError(f"--predictor exports --format {formats}, --quantize {kinds}; "
                         f"not {fmt} {quantization}")  # fmt: skip


def test_paintings() -> list[tuple[str, np.ndarray]]:
    """Two `(1, H, W, 3)` float32 paintings of different sizes and colours."""
    first = test_image(256, 320)
    second = test_image(288, 256)[:, :, ::-1, ::-1] * np.float32(0.8) + np.float32(30.0)
    return [("painting 256x320", first), ("painting 288x256, recoloured", second)]


def _verify(predictor: keras.Model, generator: keras.Model, run) -> dict:
    """The agreement record of an export whose `run(painting)` gives its style weights."""
    photo = test_image()
    results, weight_diff = [], 0.0
    for label, painting in test_paintings():
        expected = np.asarray(predictor(painting, training=False), np.float32)
        got = np.asarray(run(painting), np.float32).reshape(expected.shape)
        weight_diff = max(weight_diff, float(np.abs(got - expected).max()))
        reference = keras_output(generator, photo, expected)
        results.append({**agreement(reference, keras_output(generator, photo, got)),
                        "case": label})  # fmt: skip
    return {**worst(results), "style_weights_max_abs_diff": weight_diff}


def _input_description(predictor: keras.Model, batch: str) -> str:
    return (f"painting float32 [{batch}, H, W, 3] RGB in [0, 255] (shorter side 256 as "
            f"trained); output style_weights float32 [{batch}, {predictor.output.shape[-1]}], "
            "the generator's second input")  # fmt: skip


def convert_predictor_tflite(predictor: keras.Model, quantization: str = "none") -> bytes:
    """The TFLite flatbuffer of `predictor` (resizable input, see the module docstring)."""
    check_predictor_export("tflite", quantization)
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
    result = _verify(predictor, generator, lambda p: run_tflite(content, p))
    check_target(result, quantization, f"TFLite predictor ({quantization})")
    atomic_write_bytes(out, content, overwrite=overwrite)
    return {
        "format": "tflite",
        "role": "style predictor",
        "quantization": quantization,
        "input": _input_description(predictor, "1"),
        "resizable": True,
        "files": {Path(out).name: len(content)},
        "agreement": result,
    }


def export_predictor_tfjs(
    predictor: keras.Model,
    generator: keras.Model,
    out: str | os.PathLike,
    quantization: str = "none",
    overwrite: bool = False,
) -> dict:
    """Converts the predictor to a TF.js graph model folder `out`, verifies it in Node
    (see the module docstring), then moves it into place (an existing `out` only with
    `overwrite`, and only an earlier TF.js export); returns the verification record."""
    import shutil
    import tempfile

    from keras_stylize.export.tfjs import convert_graph_model, run_tfjs_node
    from keras_stylize.export.verify import file_sizes, replace_directory

    check_predictor_export("tfjs", quantization)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        spec = tf.TensorSpec([None, None, None, 3], tf.float32, name="painting")
        converted = convert_graph_model(
            predictor, lambda painting: predictor(painting, training=False), [spec], staging,
            quantization,
        )  # fmt: skip
        result = _verify(predictor, generator, lambda p: run_tfjs_node(converted, p)[0])
        result["runtime"] = "Node tfjs wasm"
        check_target(result, quantization, f"TF.js predictor ({quantization})")
        replace_directory(converted, out, "tfjs", overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "format": "tfjs",
        "role": "style predictor",
        "quantization": quantization,
        "input": _input_description(predictor, "batch"),
        "resizable": True,
        "files": file_sizes(out),
        "agreement": result,
    }
