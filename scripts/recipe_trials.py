"""Maintainer tool: score trial generators on content_eval, for recipe experiments.

    python scripts/recipe_trials.py RUN.keras [RUN.keras ...] [--size 512] [--limit N]

A zoo name is scored with its card's recipe and style. Each RUN.keras must have its log
folder beside it (`RUN.logs/run.json`, as `keras_stylize
fit` writes it) or, for a zoo run, in `checkpoints/RUN/`: the style and the loss of that
run are used. Prints one row per model:
mean content and style loss, blot rate (percent of pixels, mean and worst photo), photos
over the 0.2 % limit, the spot and patch rates (mean and worst photo), and the style loss
of the unstyled photos for scale. `--loss-of NAME` scores every model with the
loss of zoo model NAME's card instead (e.g. trials that weight the style layers differently,
on the zoo's own measure). `--per-layer` also prints each style layer's unweighted term.
`--json FILE` also writes the rows. Needs the project's data folder
(`../shared/data`, `--data`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--limit", type=int, default=None, help="first N eval photos only")
    parser.add_argument("--json", default=None)
    parser.add_argument("--loss-of", default=None, help="zoo model whose card loss scores all")
    parser.add_argument("--per-layer", action="store_true", help="per-layer style terms too")
    args = parser.parse_args()

    from keras_stylize.evaluation import loss_for_run, mean_losses
    from keras_stylize.zoo import load_generator

    photos = sorted((Path(args.data) / "content_eval").glob("*.jpg"))[: args.limit]
    rows = []
    for path in args.models:
        if args.loss_of or not path.endswith(".keras"):  # a zoo card's recipe and style
            from zoo_data import card_loss

            from keras_stylize import zoo

            loss = card_loss(zoo.info(args.loss_of or path), Path(args.data))
        else:
            run_json = Path(path).with_suffix(".logs") / "run.json"
            if not run_json.exists():  # a zoo run's log folder (checkpoints/README.md)
                run_json = ROOT / "checkpoints" / Path(path).stem / "run.json"
            loss = loss_for_run(run_json)
        m = mean_losses(load_generator(path), loss, photos, args.size, per_layer=args.per_layer)
        rows.append({"model": path, **m})
        print(f"{Path(path).stem:28} content {m['stylized_content_loss']:.3f}  style "
              f"{m['stylized_style_loss']:.3f} (photo {m['unstyled_style_loss']:.2f})  blots "
              f"{m['blot_rate']:.3f} % (max {m['blot_rate_max']:.2f} %, "
              f"{m['photos_over_blot_limit']} photos > 0.2 %)  spots {m['spot_rate']:.3f} % "
              f"(max {m['spot_rate_max']:.2f} %)  patches {m['patch_rate']:.3f} % "
              f"(max {m['patch_rate_max']:.2f} %)", flush=True)  # fmt: skip
        prefix = "stylized_style_loss/"
        terms = {k[len(prefix) :]: v for k, v in m.items() if k.startswith(prefix)}
        if terms:
            print("    style terms: " + ", ".join(f"{k} {v:.3f}" for k, v in terms.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
