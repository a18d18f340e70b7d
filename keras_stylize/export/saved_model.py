"""SavedModel export (TF Serving, `tf.saved_model.load`).

Signatures: `serving_default` takes uint8 RGB images `(batch, H, W, 3)` of any size
(>= 32 px) and returns uint8 images of the same size (rounded, clipped); `serving_float`
takes and returns float32 in [0, 255]. Written with `keras.export.ExportArchive`, so the
result loads without keras_stylize installed.
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
    replace_directory,
    test_image,
)


def export_saved_model(generator: keras.Model, out: str | os.PathLike) -> dict:
    """Writes a SavedModel folder at `out` (atomically: staged, verified, then renamed)
    and returns its verification record."""
    out = Path(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        archive = keras.export.ExportArchive()
        archive.track(generator)

        def as_float(images):
            return generator(images, training=False)

        def as_uint8(images):
            pixels = generator(tf.cast(images, tf.float32), training=False)
            return tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)

        spec = [None, None, None, 3]
        archive.add_endpoint("serving_default", as_uint8, [tf.TensorSpec(spec, tf.uint8)])
        archive.add_endpoint("serving_float", as_float, [tf.TensorSpec(spec, tf.float32)])
        target = staging / "saved_model"
        archive.write_out(str(target), verbose=False)

        image = test_image()
        reference = np.asarray(generator(image, training=False))
        loaded = tf.saved_model.load(str(target))
        result = agreement(reference, loaded.serving_float(tf.constant(image)).numpy())
        check_target(result, "none", "SavedModel")
        as_bytes = loaded.serving_default(tf.constant(image.astype(np.uint8))).numpy()
        if as_bytes.dtype != np.uint8 or as_bytes.shape != image.shape:
            raise RuntimeError("SavedModel uint8 signature returned the wrong type or shape")
        replace_directory(target, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "format": "savedmodel",
        "quantization": "none",
        "input": {
            "serving_default": "uint8 [batch, H, W, 3], any H, W >= 32",
            "serving_float": "float32 [batch, H, W, 3] in [0, 255]",
        },  # fmt: skip
        "resizable": True,
        "files": file_sizes(out),
        "agreement": result,
    }
