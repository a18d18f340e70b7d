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

Each run folder keeps `curve.json` (step, training seconds so far, and after `score` the
losses). Wall times are only comparable when both runs had the CPU to themselves; when they
shared it, `time` measures each configuration's seconds per step alone, one after the other
with nothing else running (`timing.json` in the folder), and `report` then uses steps x
seconds per step:

    python scripts/adaptation_curve.py time runs/curve_scratch --style STYLE.jpg
    python scripts/adaptation_curve.py time runs/curve_from --style STYLE.jpg --from MODEL
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
RECIPE_FIELDS = ("family", "norm", "output", "width", "scales", "image_size",
                 "batch_size", "learning_rate", "content_weight", "style_weight", "tv_weight",
                 "content_layer", "style_layers", "style_size", "seed", "precision")  # fmt: skip


def _curve(folder: Path) -> list[dict]:
    path = folder / "curve.json"
    return json.loads(path.read_text()) if path.is_file() else []


def _write_curve(folder: Path, rows: list[dict]) -> None:
    from keras_stylize.files import atomic_write_bytes

    atomic_write_bytes(folder / "curve.json", (json.dumps(rows, indent=1) + "\n").encode())


def _config(args, folder: Path, steps: int, every: int):
    from keras_stylize import zoo
    from keras_stylize.training.config import FitConfig

    recipe = {k: v for k, v in zoo.info(RECIPE_MODEL)["recipe"].items() if k in RECIPE_FIELDS}
    if args.lr is not None:
        recipe["learning_rate"] = args.lr
    if args.precision is not None:
        recipe["precision"] = args.precision
    return FitConfig(
        style=[args.style], content=str(Path(args.data) / "content"),
        out=str(folder / "final.keras"), log_dir=str(folder / "logs"), steps=steps,
        steps_per_epoch=every, init_from=args.init_from, **recipe,
    )  # fmt: skip


def train(args) -> None:
    import keras

    from keras_stylize.generators.policy import float32_copy
    from keras_stylize.training.fit import fit_style

    folder = Path(args.folder)
    (folder / "snapshots").mkdir(parents=True, exist_ok=True)
    config = _config(args, folder, args.steps, args.every)
    (folder / "run.json").write_text(
        json.dumps(
            {"style": args.style, "from": args.init_from, "steps": args.steps, "every": args.every}
        )
    )
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


def time_steps(args) -> None:
    """Seconds per training step of the run's configuration, alone on the machine: the
    median over `--steps` steps after 10 warm-up steps, in a scratch log folder."""
    import os
    import tempfile

    import keras
    import numpy as np

    from keras_stylize.files import atomic_write_bytes
    from keras_stylize.training.fit import fit_style

    durations: list[float] = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            durations.append(time.perf_counter() - self.start)

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        steps = 10 + args.steps
        fit_style(_config(args, Path(scratch), steps, steps), verbose=0, callbacks=[StepTimer()])
    record = {"seconds_per_step": round(float(np.median(durations[10:])), 4),
              "steps_timed": len(durations) - 10, "load_average_before": load}  # fmt: skip
    atomic_write_bytes(Path(args.folder) / "timing.json", json.dumps(record).encode())
    print(args.folder, record)


def _seconds(folder: Path, row: dict) -> float:
    """The row's wall time: steps x the solo seconds per step when measured, else the
    training seconds the run recorded."""
    timing = folder / "timing.json"
    if timing.is_file():
        return row["step"] * json.loads(timing.read_text())["seconds_per_step"]
    return row["seconds"]


def score(args) -> None:
    from keras_stylize import zoo
    from keras_stylize.evaluation import loss_for_recipe, mean_losses
    from keras_stylize.zoo import load_generator

    recipe = zoo.info(RECIPE_MODEL)["recipe"]
    photos = eval_photos(Path(args.data))[: args.photos]
    for name in args.folders:
        folder = Path(name)
        rows = _curve(folder)
        style_file = json.loads((folder / "run.json").read_text())["style"]
        loss = loss_for_recipe(recipe, [style_file])
        for row in rows:
            if "style_loss" in row:
                continue
            generator = load_generator(folder / "snapshots" / row["model"])
            style = Path(style_file).stem if len(generator.inputs) > 1 else None
            m = mean_losses(generator, loss, photos, 512, style=style, unstyled=False)
            row["content_loss"], row["style_loss"] = (
                m["stylized_content_loss"], m["stylized_style_loss"]
            )  # fmt: skip
            row["photos"] = m["images"]
            print(
                f"{folder.name} step {row['step']:5d} {row['seconds']:7.0f} s  content "
                f"{row['content_loss']:.3f} style {row['style_loss']:.3f}",
                flush=True,
            )
            _write_curve(folder, rows)


def report(args) -> None:
    folders = [Path(args.scratch), Path(args.adapted)]
    scratch, adapted = (
        [{**r, "wall": _seconds(f, r)} for r in _curve(f)] for f in folders
    )  # fmt: skip
    for folder, rows in zip(folders, (scratch, adapted), strict=True):
        source = "steps x solo s/step" if (folder / "timing.json").is_file() else "recorded"
        print(f"\n{folder} (wall time: {source})")
        print("| step | wall time (min) | content | style |\n|---|---|---|---|")
        for r in rows:
            content, style = r.get("content_loss", float("nan")), r.get("style_loss", float("nan"))
            print(f"| {r['step']} | {r['wall'] / 60:.1f} | {content:.3f} | {style:.3f} |")
    final = scratch[-1]
    print(f"\nfrom scratch, final: {final['wall'] / 60:.1f} min, content "
          f"{final['content_loss']:.3f}, style {final['style_loss']:.3f}")  # fmt: skip
    for key in ("style_loss", "content_loss"):
        hit = next((r for r in adapted if r[key] <= final[key]), None)
        print(f"{key}: " + (f"reached at step {hit['step']}, {hit['wall'] / 60:.1f} min = "
                            f"{100 * hit['wall'] / final['wall']:.0f} % of the from-scratch "
                            f"wall time" if hit else "not reached"))  # fmt: skip
    both = next((r for r in adapted if r["style_loss"] <= final["style_loss"]
                 and r["content_loss"] <= final["content_loss"]), None)  # fmt: skip
    print("both: " + (f"{100 * both['wall'] / final['wall']:.0f} % of the wall time"
                      if both else "not reached"))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    sub = parser.add_subparsers(dest="command", required=True)
    run = argparse.ArgumentParser(add_help=False)  # what defines a run: train and time
    run.add_argument("folder")
    run.add_argument("--style", required=True)
    run.add_argument("--from", dest="init_from", default=None)
    run.add_argument("--lr", type=float, default=None, help="default: the recipe's")
    run.add_argument("--precision", default=None,
                     help="training policy (default: the recipe's, mixed_bfloat16; float32 "
                     "on CPUs without native bfloat16, where bfloat16 is emulated)")  # fmt: skip
    t = sub.add_parser("train", parents=[run])
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--every", type=int, required=True)
    m = sub.add_parser("time", parents=[run])
    m.add_argument("--steps", type=int, default=40)
    s = sub.add_parser("score")
    s.add_argument("folders", nargs="+")
    s.add_argument("--photos", type=int, default=18)
    r = sub.add_parser("report")
    r.add_argument("scratch")
    r.add_argument("adapted")
    args = parser.parse_args()
    {"train": train, "time": time_steps, "score": score, "report": report}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
