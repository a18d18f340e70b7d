"""SavedModel export (TF Serving, `tf.saved_model.load`).

Signatures: `serving_default` takes uint8 RGB images `(batch, H, W, 3)` of any size
(>= 32 px) and returns uint8 images of the same size (rounded, clipped); `serving_float`
takes and returns float32 in [0, 255]. Multi-style generators take a second input,
`style_weights`, float32 `(batch, num_styles)`, in both. Written with
`keras.export.ExportArchive`, so the result loads without keras_stylize installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_stylize.export.verify import (
    agreement,
    check_target,
    file_sizes,
    keras_output,
    replace_directory,
    style_cases,
    test_image,
    worst,
)
from keras_stylize.generators.graph import fuse_upsampling
from keras_stylize.inference.session import forward, input_specs


def export_saved_model(
    generator: keras.Model, out: str | os.PathLike, overwrite: bool = False
) -> dict:
    """Writes a SavedModel folder at `out` (atomically: staged, verified, then renamed)
    and returns its verification record. An existing `out` is replaced only with
    `overwrite` and only if it is an earlier SavedModel export (`verify.replace_directory`)."""
    out = Path(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        graph = fuse_upsampling(generator)  # same values, less memory and work
        archive = keras.export.ExportArchive()
        archive.track(graph)
        multi = len(generator.inputs) > 1
        call = forward(graph)

        def as_uint8(images, *style_weights):
            pixels = call(tf.cast(images, tf.float32), *style_weights)
            return tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)

        uint8_specs = input_specs(generator, image_dtype=tf.uint8)
        archive.add_endpoint("serving_default", as_uint8, uint8_specs)
        archive.add_endpoint("serving_float", call, input_specs(generator))
        target = staging / "saved_model"
        archive.write_out(str(target), verbose=False)

        image = test_image()
        loaded = tf.saved_model.load(str(target))
        results = []
        for label, weights in style_cases(generator):
            extra = [] if weights is None else [tf.constant(weights)]
            output = loaded.serving_float(tf.constant(image), *extra).numpy()
            results.append({**agreement(keras_output(generator, image, weights), output),
                            "case": label})  # fmt: skip
        result = worst(results)
        check_target(result, "none", "SavedModel")
        extra = [] if not multi else [tf.constant(style_cases(generator)[0][1])]
        as_bytes = loaded.serving_default(tf.constant(image.astype(np.uint8)), *extra).numpy()
        if as_bytes.dtype != np.uint8 or as_bytes.shape != image.shape:
            raise RuntimeError("SavedModel uint8 signature returned the wrong type or shape")
        replace_directory(target, out, "savedmodel", overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "format": "savedmodel",
        "quantization": "none",
        "input": {
            "serving_default": "uint8 [batch, H, W, 3], any H, W >= 32",
            "serving_float": "float32 [batch, H, W, 3] in [0, 255]",
            **(
                {"style_weights": f"float32 [batch, {generator.inputs[1].shape[-1]}]"}
                if len(generator.inputs) > 1
                else {}
            ),
        },  # fmt: skip
        "resizable": True,
        "files": file_sizes(out),
        "agreement": result,
    }
