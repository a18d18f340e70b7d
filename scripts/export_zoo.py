"""Maintainer tool: build the deployment exports of every zoo model under export/.

    python scripts/export_zoo.py [NAME ...]   # needs the [tfjs] extra and Node.js with npm

For each zoo model NAME (all of them when none is named):
`export/NAME/NAME_float16.tflite` (resizable input) and `export/NAME/NAME_tfjs/` (TF.js
graph model, float16 weights), plus, for a model with a style predictor,
`export/NAME/NAME_predictor_float16.tflite` and `export/NAME/NAME_predictor_tfjs/`; each
verified against Keras by `keras_stylize.export` and described by its JSON sidecar. The
browser demo serves them: `python -m http.server` in the repository root, then open
`http://127.0.0.1:8000/web/index.html?model=../export/NAME/NAME_tfjs/model.json`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_stylize import zoo
from keras_stylize.export import export_model, export_predictor

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="zoo models to export (default: all)")
    names = parser.parse_args().names or zoo.list()
    for name in names:
        zoo.info(name)  # a clear error for an unknown name, before any work
        folder = ROOT / "export" / name
        jobs = [("tflite", "float16", folder / f"{name}_float16.tflite"),
                ("tfjs", "float16", folder / f"{name}_tfjs")]  # fmt: skip
        for fmt, quantization, out in jobs:
            record = export_model(name, out, fmt, quantization, overwrite=True)
            psnr = record["agreement"]["psnr_db"]
            print(f"{out.relative_to(ROOT)}: {sum(record['files'].values()):,} bytes, "
                  f"PSNR {psnr:.1f} dB")  # fmt: skip
        if zoo.info(name).get("predictor"):  # a model that takes any painting
            for fmt, out in (("tflite", folder / f"{name}_predictor_float16.tflite"),
                             ("tfjs", folder / f"{name}_predictor_tfjs")):  # fmt: skip
                record = export_predictor(name, out, fmt, "float16", overwrite=True)
                print(f"{out.relative_to(ROOT)}: {sum(record['files'].values()):,} bytes, "
                      f"stylization PSNR {record['agreement']['psnr_db']:.1f} dB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
