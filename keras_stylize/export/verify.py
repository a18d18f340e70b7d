"""Numerical agreement of an export with its Keras model, and the JSON sidecar.

Agreement is measured on a fixed test image (the bundled photo `assets/kodim23.jpg`,
centre-cropped and resized to the requested size): max absolute difference and PSNR in
dB of the export's float output against the Keras generator's, both in [0, 255]
(`PSNR = 10 log10(255^2 / MSE)`; identical outputs give `inf`, written as null).
"""

from __future__ import annotations

import json
import math
import os
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from keras_stylize.files import atomic_write_bytes, check_output, publish_directory, sha256_of

PSNR_TARGETS = {"none": 40.0, "float16": 40.0, "dynamic": 30.0, "int8": 30.0}


class ExportMismatchError(RuntimeError):
    """An export disagrees with the Keras model beyond its PSNR target."""


def test_image(height: int = 256, width: int = 256) -> np.ndarray:
    """The fixed verification image, float32 `(1, height, width, 3)` in [0, 255]."""
    path = resources.files("keras_stylize") / "assets" / "kodim23.jpg"
    with resources.as_file(path) as file, Image.open(file) as image:
        image = image.convert("RGB")
        scale = max(width / image.width, height / image.height)
        size = (math.ceil(image.width * scale), math.ceil(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
        left, top = (size[0] - width) // 2, (size[1] - height) // 2
        image = image.crop((left, top, left + width, top + height))
    return np.asarray(image, np.float32)[None]


def style_cases(generator) -> list[tuple[str, np.ndarray | None]]:
    """The style inputs an export is verified with: `[("image", None)]` for a single-style
    generator; for a multi-style one, `(label, weights (1, num_styles) float32)` for the
    first style, the last style, and an equal blend of the first two."""
    if len(generator.inputs) < 2:
        return [("image", None)]
    count = int(generator.inputs[1].shape[-1])
    first, last, blend = (np.zeros((1, count), np.float32) for _ in range(3))
    first[0, 0], last[0, -1] = 1.0, 1.0
    blend[0, : min(2, count)] = 1.0 / min(2, count)
    return [("style 0", first), (f"style {count - 1}", last), ("blend of styles 0 and 1", blend)]


def keras_output(generator, image: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """The Keras generator's float32 output for `image` (and style `weights`)."""
    from keras_stylize.inference.session import call_compiled, compiled

    return call_compiled(compiled(generator), image, weights)


def worst(results: list[dict]) -> dict:
    """The agreement record with the lowest PSNR (identical outputs count as best), with
    every case's PSNR under `cases` when there are several."""
    ranked = sorted(results, key=lambda r: float("inf") if r["psnr_db"] is None else r["psnr_db"])
    record = dict(ranked[0])
    if len(results) > 1:
        record["cases"] = {r["case"]: r["psnr_db"] for r in results}
    return record


def agreement(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """`{"max_abs_diff", "psnr_db"}` of two [0, 255] images (psnr None if identical)."""
    diff = np.asarray(candidate, np.float64) - np.asarray(reference, np.float64)
    mse = float(np.mean(diff**2))
    psnr = None if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return {"max_abs_diff": float(np.abs(diff).max()), "psnr_db": psnr}


def check_target(result: dict, quantization: str, what: str) -> None:
    """Raises `ExportMismatchError` if the PSNR is below the quantization's target."""
    target = PSNR_TARGETS[quantization]
    psnr = result["psnr_db"]
    if psnr is not None and psnr < target:
        raise ExportMismatchError(
            f"{what}: PSNR {psnr:.1f} dB against Keras is below the {target:.0f} dB target "
            f"for quantization={quantization}; nothing written"
        )


def file_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Size in bytes of a file, or of every file under a folder (relative names)."""
    path = Path(path)
    if path.is_file():
        return {path.name: path.stat().st_size}
    return {
        str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()
    }


def sidecar_path(out: str | os.PathLike) -> Path:
    """The JSON sidecar of an export: `<out>.json`."""
    return Path(str(out).rstrip("/") + ".json")


def is_previous_export(out: str | os.PathLike, fmt: str) -> bool:
    """True if `out` has the sidecar of a keras_stylize export in format `fmt`."""
    try:
        record = json.loads(sidecar_path(out).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("format") == fmt and "agreement" in record


def check_export_output(
    out: str | os.PathLike, fmt: str, overwrite: bool = False, inputs: tuple = ()
) -> None:
    """Before any work: `out` and its sidecar are none of `inputs` (the model, the
    representative images) and exist only with `overwrite`; an existing folder is
    replaced only if it is an earlier export in `fmt` (never, e.g., a folder of photos).

    Raises:
        ValueError, files.OutputExistsError: one line naming the path.
    """
    folder = fmt != "tflite"
    check_output(out, inputs, overwrite, folder=folder)
    check_output(sidecar_path(out), inputs, overwrite=True)
    if not overwrite and sidecar_path(out).exists():
        raise FileExistsError(f"{sidecar_path(out)} exists (use --overwrite)")
    if os.path.lexists(out):
        if folder and not (Path(out).is_dir() and is_previous_export(out, fmt)):
            raise ValueError(
                f"{out} exists and is not an earlier {fmt} export of keras_stylize; "
                "it is never replaced: choose another output"
            )
        if not folder and Path(out).is_dir():
            raise ValueError(f"{out} is a folder; a TFLite export is a file")


def replace_directory(
    staged: str | os.PathLike, out: str | os.PathLike, fmt: str, overwrite: bool = False
) -> None:
    """Moves a verified, fully written folder `staged` to `out` (same file system). An
    existing `out` is replaced only with `overwrite` and only if it is an earlier export
    in `fmt` (`is_previous_export`). A reader never sees a partial export."""
    publish_directory(staged, out, overwrite, lambda path: is_previous_export(path, fmt))


def write_sidecar(path: str | os.PathLike, record: dict) -> Path:
    """Writes `record` as JSON next to the export (`<export>.json`), atomically."""
    sidecar = sidecar_path(path)
    atomic_write_bytes(sidecar, (json.dumps(record, indent=2) + "\n").encode())
    return sidecar


def source_record(model_path: str | os.PathLike | None) -> dict:
    """Provenance of the exported Keras model."""
    if model_path is None:
        return {"source_model": None, "source_sha256": None}
    return {"source_model": str(model_path), "source_sha256": sha256_of(model_path)}
