"""Export formats side by side: file size and median latency at 256 and 512 px.

    python benchmarks/export.py --model starry_night_johnson [--sizes 256 512] [--no-tfjs]

Keras (the compiled graph `stylize` runs, float32 and bfloat16), SavedModel
(`serving_float`), TFLite with the LiteRT interpreter (2 threads, XNNPACK) for float32,
float16 and dynamic-range int8, and TF.js (Node, WASM backend; needs the [tfjs] extra
and Node.js with npm). Also prints each export's PSNR against Keras. Prints a Markdown
table; asserts nothing. The load average is printed because figures taken while another
job runs are not comparable.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="zoo name or .keras path")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-tfjs", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    from keras_stylize.export import export_model
    from keras_stylize.export.tflite import interpreter_class
    from keras_stylize.export.verify import test_image
    from keras_stylize.inference.session import session_for
    from keras_stylize.zoo import load_generator

    generator = load_generator(args.model)
    print(f"load average: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()}); model {args.model}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = {s: test_image(s, s) for s in args.sizes}
        for precision in ("float32", "bfloat16"):
            runner = session_for(generator, precision)
            ms = [_median_ms(lambda x=images[s], r=runner: r.run(x), args.repeats)
                  for s in args.sizes]  # fmt: skip
            rows.append(("Keras (compiled graph)", precision, None, None, ms))

        record = export_model(generator, tmp / "sm", "savedmodel")
        loaded = tf.saved_model.load(str(tmp / "sm"))
        ms = [_median_ms(lambda x=images[s]: loaded.serving_float(tf.constant(x)), args.repeats)
              for s in args.sizes]  # fmt: skip
        rows.append(
            ("SavedModel", "float32", _size(tmp / "sm"), record["agreement"]["psnr_db"], ms)
        )

        for quant in ("none", "float16", "dynamic"):
            path = tmp / f"m_{quant}.tflite"
            record = export_model(generator, path, "tflite", quant)
            ms = []
            for s in args.sizes:
                interpreter = interpreter_class()(model_path=str(path), num_threads=2)
                index = interpreter.get_input_details()[0]["index"]
                interpreter.resize_tensor_input(index, images[s].shape, strict=False)
                interpreter.allocate_tensors()
                interpreter.set_tensor(index, images[s])
                ms.append(_median_ms(interpreter.invoke, args.repeats))
            name = {"none": "float32", "dynamic": "dynamic int8"}.get(quant, quant)
            rows.append(("TFLite", name, _size(path), record["agreement"]["psnr_db"], ms))

        if not args.no_tfjs:
            from keras_stylize.export.tfjs import run_tfjs_node

            for quant in ("none", "float16"):
                path = tmp / f"tfjs_{quant}"
                record = export_model(generator, path, "tfjs", quant)
                ms = [float(np.median([run_tfjs_node(path, images[s])[1]["ms"]
                                       for _ in range(3)])) for s in args.sizes]  # fmt: skip
                name = "float32" if quant == "none" else quant
                rows.append(("TF.js (Node WASM, 1st call)", name, _size(path),
                             record["agreement"]["psnr_db"], ms))  # fmt: skip

    head = " | ".join(f"{s} px ms" for s in args.sizes)
    print(f"| format | weights | size | PSNR vs Keras | {head} |")
    print("|---" * (4 + len(args.sizes)) + "|")
    for fmt, quant, size, psnr, ms in rows:
        size_text = "-" if size is None else f"{size / 1e6:.2f} MB"
        psnr_text = (
            "-"
            if psnr is None and fmt.startswith("Keras")
            else ("inf" if psnr is None else f"{psnr:.1f} dB")
        )
        times = " | ".join(f"{m:.0f}" for m in ms)
        print(f"| {fmt} | {quant} | {size_text} | {psnr_text} | {times} |")


if __name__ == "__main__":
    main()
