"""Exports of generators for deployment, each verified against Keras before it is written.

`export_model(model, out, fmt, quantization, size)` writes one artifact plus a JSON
sidecar `<out>.json` with: source model and its sha256, format, quantization, input spec,
whether the input size is resizable, file sizes, and the measured agreement with Keras on
a fixed test image (max abs difference, PSNR in dB). Exports missing their PSNR target
(40 dB for float32/float16, 30 dB for int8 variants) are refused: nothing is written.

An existing output is replaced only with `overwrite=True`, and an existing folder only if it
is an earlier export in the same format (its sidecar says so); an output is never the
model itself. Options and outputs are checked before any work (`check_export`).

Formats: "savedmodel" (`export.saved_model`), "tflite" (`export.tflite`), "tfjs"
(`export.tfjs`, needs the `[tfjs]` extra and Node.js with npm: the Node verifier installs
@tensorflow/tfjs into a cache folder on first use).

`export_predictor(model, out, fmt, quantization)` writes the style predictor of a model
trained with `--style-prediction` as TFLite or TF.js ("none" or "float16"), beside its
generator's export (`export.predictor`).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import keras

from keras_stylize.export.saved_model import export_saved_model
from keras_stylize.export.tflite import export_tflite
from keras_stylize.export.verify import (
    ExportMismatchError,
    check_export_output,
    source_record,
    write_sidecar,
)
from keras_stylize.options import EXPORT_FORMATS, QUANTIZATIONS

__all__ = ["ExportMismatchError", "check_export", "export_model", "export_predictor"]


def check_export(
    fmt: str,
    quantization: str = "none",
    size: tuple[int, int] | None = None,
    representative: bool = False,
) -> None:
    """Raises ValueError (one line) for options that do not go together; cheap, so callers
    check before loading or converting anything."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, not {fmt!r}")
    every = QUANTIZATIONS["tflite"]
    if quantization not in every:
        raise ValueError(f"quantization must be one of {every}, not {quantization!r}")
    if fmt == "savedmodel" and (quantization != "none" or size is not None):
        raise ValueError("SavedModel exports take no quantization and no fixed size")
    if fmt == "tfjs" and size is not None:
        raise ValueError("TF.js exports are always resizable; --size is for TFLite")
    if quantization not in QUANTIZATIONS[fmt]:
        raise ValueError(f"TF.js quantization must be one of {QUANTIZATIONS[fmt]}")
    if quantization == "int8" and fmt == "tflite" and not representative:
        raise ValueError("--quantize int8 needs --representative FOLDER of content images")


def _provenance(model: keras.Model | str | os.PathLike) -> dict:
    """`source_model` (a path, `zoo:NAME`, or None for an in-memory model) and its sha256."""
    if isinstance(model, keras.Model):
        return source_record(None)
    if os.path.isfile(str(model)):
        return source_record(model)
    from keras_stylize import zoo

    record = source_record(zoo.weights_path(str(model)))
    record["source_model"] = f"zoo:{model}"
    return record


def export_model(
    model: keras.Model | str | os.PathLike,
    out: str | os.PathLike,
    fmt: str,
    quantization: str = "none",
    size: tuple[int, int] | None = None,
    representative_images=None,
    overwrite: bool = False,
) -> dict:
    """Exports `model` (a `keras.Model`, `.keras` path or zoo name) to `out`; returns the
    sidecar record (also written to `<out>.json`). `overwrite` allows replacing an
    existing file, or a folder holding an earlier export in `fmt`."""
    from keras_stylize.zoo import load_generator

    check_export(fmt, quantization, size, representative_images is not None)
    source = None if isinstance(model, keras.Model) else str(model)
    check_export_output(out, fmt, overwrite, inputs=(source,))
    generator = load_generator(model)
    provenance = _provenance(model)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "savedmodel":
        record = export_saved_model(generator, out, overwrite)
    elif fmt == "tfjs":
        from keras_stylize.export.tfjs import export_tfjs

        record = export_tfjs(generator, out, quantization, overwrite)
    else:
        record = export_tflite(generator, out, quantization, size, representative_images, overwrite)
    record = {**provenance, **record,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "keras": keras.__version__}  # fmt: skip
    write_sidecar(out, record)
    return record


def export_predictor(
    model: str | os.PathLike,
    out: str | os.PathLike,
    fmt: str = "tflite",
    quantization: str = "none",
    overwrite: bool = False,
) -> dict:
    """Exports the style predictor of `model` (a `.keras` path or zoo name with a
    predictor, `zoo.load_predictor`) to `out` as "tflite" (a file) or "tfjs" (a folder),
    verified with its generator (`export.predictor`); returns the sidecar record (also
    written to `<out>.json`)."""
    from keras_stylize.export.predictor import check_predictor_export
    from keras_stylize.zoo import load_generator, load_predictor

    check_predictor_export(fmt, quantization)
    check_export_output(out, fmt, overwrite, inputs=(str(model),))
    predictor = load_predictor(model)
    generator = load_generator(model)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    if fmt == "tfjs":
        from keras_stylize.export.predictor import export_predictor_tfjs

        record = export_predictor_tfjs(predictor, generator, out, quantization, overwrite)
    else:
        from keras_stylize.export.predictor import export_predictor_tflite

        record = export_predictor_tflite(predictor, generator, out, quantization, overwrite)
    record = {**_provenance(model), **record,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "keras": keras.__version__}  # fmt: skip
    write_sidecar(out, record)
    return record
