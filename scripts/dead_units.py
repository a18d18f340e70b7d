"""Maintainer tool: where a generator's last ReLU layer is off, on content_eval photos.

    python scripts/dead_units.py MODEL [MODEL ...] [--style NAME,NAME] [--limit N] [--map OUT.jpg]

For each model (a `.keras` file or a zoo name) and each style (`--style`, names of a
multi-style model, ignored for single-style ones; by default its first), prints the share
of pixels where fewer than 10 % of the units of the generator's last ReLU layer are on
(mean over photos and worst photo, percent). Over such pixels the output is made of the
few units left, with no gradient to the others: on bright flat photo regions (clouds,
white walls) a multi-style generator paints them one colour shared by all its styles,
with a rim (`keras_stylize.training.terms.dead_unit_penalty`, `fit --dead-unit-weight`).
`--map OUT.jpg` also writes, for the first photo, each model's output beside the map of
the share of units on (white: all on, black: none). Needs the project's data folder
(`../shared/data`, `--data`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OFF_SHARE = 0.1  # a pixel counts as off when fewer than this share of its units are on


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--style", default=None, help="comma-separated style names")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--size", type=int, default=512, help="longer side of the photos, px")
    parser.add_argument("--limit", type=int, default=None, help="first N eval photos only")
    parser.add_argument("--map", default=None, help="write output and map of the first photo")
    args = parser.parse_args()

    import keras
    from PIL import Image

    from keras_stylize.evaluation.measures import load_photo
    from keras_stylize.generators.styles import style_vector
    from keras_stylize.training.terms import last_relu_input
    from keras_stylize.zoo import load_generator

    photos = sorted((Path(args.data) / "content_eval").glob("*.jpg"))[: args.limit]
    if not photos:
        raise SystemExit(f"no photos in {Path(args.data) / 'content_eval'}")
    images = [load_photo(p, args.size).astype("float32")[None] for p in photos]
    strips = []
    for path in args.models:
        generator = load_generator(path)
        probe = keras.Model(generator.inputs, [last_relu_input(generator), generator.outputs[0]])
        single = len(generator.inputs) == 1
        for style in [None] if single or not args.style else args.style.split(","):
            row = style_vector(generator, style)
            shares = []
            for i, image in enumerate(images):
                inputs = image if row is None else [image, row[None]]
                units, output = (np.asarray(a)[0] for a in probe(inputs))
                height, width = output.shape[:2]  # the output is cropped top-left
                on = (units[:height, :width] > 0).mean(-1)
                shares.append(100 * float((on < OFF_SHARE).mean()))
                if i == 0 and args.map:
                    grey = np.repeat(255 * on[..., None], 3, -1)
                    strips.append(np.concatenate([np.clip(output, 0, 255), grey], 1))
            label = f"{Path(path).stem}{'@' + style if style else ''}"
            print(f"{label:40} units off: {np.mean(shares):.2f} % of pixels "
                  f"(worst photo {np.max(shares):.2f} %)", flush=True)  # fmt: skip
    if args.map:
        Image.fromarray(np.concatenate(strips, 0).astype(np.uint8)).save(args.map, quality=90)
        print(args.map)
    return 0


if __name__ == "__main__":
    sys.exit(main())
