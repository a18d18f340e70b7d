"""Time of a style prediction: a painting read at its working size (shorter side 256 px)
through the style predictor, Keras and TFLite (LiteRT, 2 threads), and the stylization at
512 px that follows, for comparison.

    python benchmarks/predictor_speed.py --model any.keras --painting my_painting.jpg

`--model` is a generator trained with `fit --style-prediction` (its predictor beside it). With
`--random` instead, a predictor with ImageNet VGG19 and an untrained MLP is timed (the time
does not depend on the trained values). Prints a Markdown table; asserts nothing. The load
average is printed because figures taken while another job runs are not comparable.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from export import _median_ms  # benchmarks/export.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="generator with a predictor (.keras path or zoo name)")
    parser.add_argument("--random", action="store_true", help="time an untrained predictor")
    parser.add_argument("--painting", help="painting file (default: the bundled photo)")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if not (args.model or args.random):
        parser.error("give --model or --random")

    import tensorflow as tf

    from keras_stylize.export.predictor import convert_predictor_tflite
    from keras_stylize.export.tflite import run_tflite
    from keras_stylize.export.verify import test_image
    from keras_stylize.generators.prediction import read_painting, style_predictor
    from keras_stylize.zoo import load_predictor

    predictor = style_predictor(10) if args.random else load_predictor(args.model)
    painting = read_painting(args.painting) if args.painting else test_image(256, 341)
    compiled = tf.function(lambda p: predictor(p, training=False))
    content = convert_predictor_tflite(predictor, "float16")
    rows = [
        ("Keras, float32 (compiled)", _median_ms(lambda: compiled(painting).numpy(), args.repeats)),
        ("TFLite float16 (LiteRT, 2 threads)",
         _median_ms(lambda: run_tflite(content, painting), args.repeats)),
    ]  # fmt: skip
    if args.model:
        from keras_stylize import load_generator, stylize
        from keras_stylize.generators.styles import ResolvedStyle

        generator = load_generator(args.model)
        photo = test_image(512, 512)[0].astype(np.uint8)
        weights = np.asarray(compiled(painting))[0]
        run = lambda: stylize(photo, generator, style=ResolvedStyle(weights))  # noqa: E731
        rows.append(("stylize 512x512 (the generator, for comparison)", _median_ms(run, 3)))
    print(f"painting {painting.shape[2]}x{painting.shape[1]} px; load average "
          f"{os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print("| step | median ms |\n|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.0f} |")


if __name__ == "__main__":
    main()
