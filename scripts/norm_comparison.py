"""Instance vs batch normalization on the same photos, at full and reduced contrast.

    python scripts/norm_comparison.py starry_night_johnson starry_night_johnson_bn \\
        starry_night_texture starry_night_texture_bn

The paper's argument (its fig. 2 and section 2): a stylization should not depend on the
contrast of the content photo, and instance normalization removes that contrast inside
the generator while batch normalization (fixed statistics at test time) cannot. This
script shows and measures it for zoo models trained with the same recipe:

- `docs/in_vs_bn.jpg`: rows are photos, columns the photo and each model; the upper
  half at the photos' own contrast, the lower half with the contrast reduced to
  `--contrast` (each channel scaled about its mean, rounded to uint8).
- `docs/in_vs_bn.json` (and a printed table): for each model, over every `content_eval`
  photo at 512 px long side, the content and style losses (as in the model cards) of the
  stylized photo and of the stylized low-contrast photo (content measured against the
  original photo), and the mean absolute difference between the two stylizations in
  grey levels (0 = the output ignores the contrast change). Rows of models whose weights
  did not change since the last run are kept.

Needs the project's data folder (`../shared/data` by default, `--data` to change).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from zoo_data import DEFAULT_DATA, FIGURE_PHOTOS, ROOT, card_loss, eval_photos

from keras_stylize import zoo
from keras_stylize.evaluation import mean_losses
from keras_stylize.inference.sheets import grid, square
from keras_stylize.inference.stylize import stylize


def reduce_contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """uint8 `(H, W, 3)` with each channel scaled by `factor` about its mean."""
    x = image.astype(np.float32)
    mean = x.reshape(-1, 3).mean(axis=0)
    return np.clip(np.round(mean + factor * (x - mean)), 0, 255).astype(np.uint8)


def evaluate(name: str, data: Path, factor: float, size: int) -> dict:
    """Losses at both contrasts and the output difference, averaged over content_eval,
    with the card's style file, recipe and VGG19 weights."""
    card = zoo.info(name)
    m = mean_losses(zoo.load(name), card_loss(card, data), eval_photos(data), size,
                    transform=lambda photo: reduce_contrast(photo, factor),
                    unstyled=False)  # fmt: skip
    return {"model": name, "family": card["family"], "norm": card["norm"],
            "weights_sha256": card["weights"]["sha256"],
            "content_loss": m["stylized_content_loss"], "style_loss": m["stylized_style_loss"],
            "low_contrast_content_loss": m["transformed_content_loss"],
            "low_contrast_style_loss": m["transformed_style_loss"],
            "output_change_grey_levels": m["output_change_grey_levels"],
            "blot_rate": m["blot_rate"], "images": m["images"], "long_side": size}  # fmt: skip


def figure(names: list[str], data: Path, factor: float, out: Path, tile: int = 256) -> None:
    """The photo grid described in the module docstring."""
    generators = [zoo.load(name) for name in names]
    titles = [f"photo (top) / contrast x{factor:g} (bottom)"] + [
        f"{zoo.info(n)['family']} / {zoo.info(n)['norm']}" for n in names
    ]
    rows = []
    for contrast in (1.0, factor):
        for file in FIGURE_PHOTOS:
            photo = square(Image.open(data / "content_eval" / file), 2 * tile)
            if contrast != 1.0:
                photo = Image.fromarray(reduce_contrast(np.asarray(photo), contrast))
            rows.append([photo, *(stylize(photo, g) for g in generators)])
    out.parent.mkdir(parents=True, exist_ok=True)
    grid(rows, titles, tile=tile).save(out, quality=88)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="zoo model names (same style and recipe)")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--contrast", type=float, default=0.3)
    parser.add_argument("--size", type=int, default=512, help="long side for the metrics")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    figure(args.models, data, args.contrast, out / "in_vs_bn.jpg")
    record = out / "in_vs_bn.json"
    previous = {}
    if record.exists():  # rows of unchanged models measured the same way are kept
        saved = json.loads(record.read_text())
        if saved["contrast_factor"] == args.contrast:
            previous = {r["model"]: r for r in saved["models"] if r["long_side"] == args.size}
    rows = []
    for name in args.models:
        row = previous.get(name)
        if not row or row["weights_sha256"] != zoo.info(name)["weights"]["sha256"]:
            row = evaluate(name, data, args.contrast, args.size)
        rows.append(row)
    record.write_text(
        json.dumps({"contrast_factor": args.contrast, "models": rows}, indent=2) + "\n"
    )
    print(f"{'model':28} {'content':>8} {'style':>7} {'low-c content':>13} "
          f"{'low-c style':>11} {'change':>7}")  # fmt: skip
    for r in rows:
        print(f"{r['model']:28} {r['content_loss']:8.3f} {r['style_loss']:7.3f} "
              f"{r['low_contrast_content_loss']:13.3f} {r['low_contrast_style_loss']:11.3f} "
              f"{r['output_change_grey_levels']:7.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
