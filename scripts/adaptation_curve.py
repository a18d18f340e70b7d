"""Maintainer tool: eval losses against training wall time, for "a new style in minutes".

Trains one style twice with the zoo recipe (`starry_night_johnson`'s card): from scratch
as a single-style model, and appended to a multi-style model with `--from` (only the new
style's normalization parameters trained). The generator is saved every `--every` steps
together with the training wall time so far; afterwards (nothing else running) every
snapshot is scored on the first `--photos` content_eval photos at 512 px against the same
single-style loss. `report` prints both curves and when the adapted model first reaches
the from-scratch model's final losses.

    python scripts/adaptation_curve.py train runs/curve_scratch --style STYLE.jpg \\
        --steps 2000 --every 200
    python scripts/adaptation_curve.py train runs/curve_from --style STYLE.jpg \\
        --from runs/ten_styles_johnson.keras --steps 600 --every 50
    python scripts/adaptation_curve.py score runs/curve_scratch runs/curve_from
    python scripts/adaptation_curve.py report runs/curve_scratch runs/curve_from

Wall times come from one process each, with the CPU otherwise idle; each run folder keeps
`curve.json` (step, seconds, and after `score` the losses).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from zoo_data import DEFAULT_DATA, eval_photos  # noqa: E402

RECIPE_MODEL = "starry_night_johnson"
RECIPE_FIELDS = ("family", "norm", "output", "width", "image_size", "batch_size",
                 "learning_rate", "content_weight", "style_weight", "tv_weight",
                 "content_layer", "style_layers", "style_size", "seed", "precision")  # fmt: skip


def _curve(folder: Path) -> list[dict]:
    path = folder / "curve.json"
    return json.loads(path.read_text()) if path.is_file() else []


def _write_curve(folder: Path, rows: list[dict]) -> None:
    from keras_stylize.files import atomic_write_bytes

    atomic_write_bytes(folder / "curve.json", (json.dumps(rows, indent=1) + "\n").encode())


def train(args) -> None:
    import keras

    from keras_stylize import zoo
    from keras_stylize.fit import FitConfig, fit_style
    from keras_stylize.precision import float32_copy

    folder = Path(args.folder)
    (folder / "snapshots").mkdir(parents=True, exist_ok=True)
    recipe = {k: v for k, v in zoo.info(RECIPE_MODEL)["recipe"].items() if k in RECIPE_FIELDS}
    if args.lr is not None:
        recipe["learning_rate"] = args.lr
    config = FitConfig(
        style=[args.style], content=str(Path(args.data) / "content"),
        out=str(folder / "final.keras"), log_dir=str(folder / "logs"), steps=args.steps,
        steps_per_epoch=args.every, init_from=args.init_from, **recipe,
    )  # fmt: skip
    rows = _curve(folder)

    class Snapshot(keras.callbacks.Callback):
        """Saves the generator and the wall time at every epoch end (saving not timed)."""

        def on_train_begin(self, logs=None):
            self.seconds = rows[-1]["seconds"] if rows else 0.0
            self.mark = time.time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds += time.time() - self.mark
            step = int(self.model.optimizer.iterations.numpy())
            path = folder / "snapshots" / f"step_{step:05d}.keras"
            float32_copy(self.model.generator).save(path)
            rows.append({"step": step, "seconds": round(self.seconds, 1), "model": path.name,
                         "train_loss": float((logs or {}).get("loss", float("nan")))})  # fmt: skip
            _write_curve(folder, rows)
            self.mark = time.time()

    fit_style(config, verbose="plain", callbacks=[Snapshot()])


def score(args) -> None:
    import numpy as np

    from keras_stylize import zoo
    from keras_stylize.evaluation import load_photo, loss_for_recipe
    from keras_stylize.inference import load_generator, stylize

    recipe = zoo.info(RECIPE_MODEL)["recipe"]
    photos = [load_photo(p, 512) for p in eval_photos(Path(args.data))[: args.photos]]
    for name in args.folders:
        folder = Path(name)
        rows = _curve(folder)
        run = json.loads((folder / "logs" / "run.json").read_text())
        style_file = run["config"]["style"][0]
        loss = loss_for_recipe(recipe, [style_file])
        style = Path(style_file).stem
        for row in rows:
            if "style_loss" in row:
                continue
            generator = load_generator(folder / "snapshots" / row["model"])
            multi = len(generator.inputs) > 1
            parts = []
            for photo in photos:
                y = stylize(photo, generator, style=style if multi else None, return_array=True,
                            precision="float32", max_memory=None)  # fmt: skip
                p = loss(photo[None].astype(np.float32), y[None].astype(np.float32))
                parts.append((float(p["content_loss"]), float(p["style_loss"])))
            row["content_loss"], row["style_loss"] = (round(float(v), 4)
                                                      for v in np.mean(parts, axis=0))  # fmt: skip
            row["photos"] = len(photos)
            print(
                f"{folder.name} step {row['step']:5d} {row['seconds']:7.0f} s  content "
                f"{row['content_loss']:.3f} style {row['style_loss']:.3f}",
                flush=True,
            )
            _write_curve(folder, rows)


def report(args) -> None:
    scratch, adapted = (_curve(Path(f)) for f in (args.scratch, args.adapted))
    for name, rows in ((args.scratch, scratch), (args.adapted, adapted)):
        print(f"\n{name}\n| step | wall time (min) | content | style |\n|---|---|---|---|")
        for r in rows:
            content, style = r.get("content_loss", float("nan")), r.get("style_loss", float("nan"))
            print(f"| {r['step']} | {r['seconds'] / 60:.1f} | {content:.3f} | {style:.3f} |")
    final = scratch[-1]
    print(
        f"\nfrom scratch, final: {final['seconds'] / 60:.1f} min, content "
        f"{final['content_loss']:.3f}, style {final['style_loss']:.3f}"
    )
    for key in ("style_loss", "content_loss"):
        hit = next((r for r in adapted if r[key] <= final[key]), None)
        print(f"{key}: " + (f"reached at step {hit['step']}, {hit['seconds'] / 60:.1f} min = "
                            f"{100 * hit['seconds'] / final['seconds']:.0f} % of the from-scratch "
                            f"wall time" if hit else "not reached"))  # fmt: skip
    both = next((r for r in adapted if r["style_loss"] <= final["style_loss"]
                 and r["content_loss"] <= final["content_loss"]), None)  # fmt: skip
    print("both: " + (f"{100 * both['seconds'] / final['seconds']:.0f} % of the wall time"
                      if both else "not reached"))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("folder")
    t.add_argument("--style", required=True)
    t.add_argument("--from", dest="init_from", default=None)
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--every", type=int, required=True)
    t.add_argument("--lr", type=float, default=None, help="default: the recipe's")
    s = sub.add_parser("score")
    s.add_argument("folders", nargs="+")
    s.add_argument("--photos", type=int, default=18)
    r = sub.add_parser("report")
    r.add_argument("scratch")
    r.add_argument("adapted")
    args = parser.parse_args()
    {"train": train, "score": score, "report": report}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
