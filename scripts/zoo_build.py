"""Maintainer tool: add a trained generator to the zoo, and regenerate the zoo docs.

    python scripts/zoo_build.py add NAME --model RUN.keras --style-file starry_night.jpg
    python scripts/zoo_build.py docs        # README "Models" table + docs/zoo.jpg

`add` copies the generator to `zoo/NAME/model.keras`, writes `style.jpg` (long side
512 px), a `preview.jpg` (eval photos, original above stylized), and `card.json` with the
recipe taken from the run's `run.json` (the exact `keras_stylize fit` command included),
the weights' sha256, and losses measured on `content_eval` at 512 px against the same
style targets as in training, next to the losses of the unstyled photos for scale.
Needs the project's data folder (`../shared/data` by default, `--data` to change).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import shlex
import shutil
import sys
from pathlib import Path

import keras
from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parents[1]
PREVIEW_PHOTOS = ("kodak_kodim23.jpg", "budgie_roman_colosseum.jpg", "ubuntu_karmic_frog.jpg")


def style_metadata(data: Path, file: str) -> dict:
    """Title, artist, year, status and source of a style image, from MANIFEST.md."""
    for line in (data / "MANIFEST.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and cells[0] == f"`{file}`":
            title, artist, year, status, _size, source = cells[1:7]
            return {"file": file, "title": title, "artist": artist, "year": year,
                    "license": status, "source": source.strip("`")}  # fmt: skip
    raise SystemExit(f"{file} is not in {data / 'MANIFEST.md'}")


def fit_command(config: dict) -> str:
    """The `keras_stylize fit` command line that reproduces a run's config."""
    args = ["keras_stylize", "fit"]
    defaults = {"log_dir": None, "vgg_weights": None, "random_vgg": False, "sample_every": 1}
    for key, value in config.items():
        if key in defaults and value == defaults[key]:
            continue
        flag = "--" + key.replace("_", "-")
        if key == "style_layers":
            items = value.items() if isinstance(value, dict) else ((v, 1.0) for v in value)
            value = ",".join(k if w == 1.0 else f"{k}:{w:g}" for k, w in items)
        if isinstance(value, bool):
            args += [flag] if value else []
        else:
            args += [flag, str(value)]
    return shlex.join(args)


def measure(generator, config: dict, data: Path, size: int = 512) -> tuple[dict, object]:
    """Mean content and style losses on content_eval (styled vs unstyled photos)."""
    from keras_stylize.data import load_style_image
    from keras_stylize.evaluation import mean_losses
    from keras_stylize.training import StylizationModel

    style = load_style_image(config["style"], config["style_size"])
    losses = StylizationModel(
        generator, style, content_layer=config["content_layer"],
        style_layers=config["style_layers"], vgg_weights_path=config.get("vgg_weights"),
    )  # fmt: skip
    metrics = mean_losses(generator, losses, sorted((data / "content_eval").glob("*.jpg")), size)
    metrics.update(eval_set="content_eval", long_side=size)
    return metrics, losses.vgg_weights_info


def preview(generator, data: Path, out: Path, size: int = 320) -> None:
    from keras_stylize.inference import stylize

    tiles = []
    for name in PREVIEW_PHOTOS:
        image = Image.open(data / "content_eval" / name).convert("RGB")
        image = image.resize((size, size * image.height // image.width), Image.Resampling.LANCZOS)
        tiles.append((image, stylize(image, generator)))
    height = max(t[0].height for t in tiles)
    sheet = Image.new("RGB", (size * len(tiles), 2 * height), "white")
    for i, (a, b) in enumerate(tiles):
        sheet.paste(a, (i * size, 0))
        sheet.paste(b, (i * size, height))
    sheet.save(out, quality=88)


def _without_path(weights: dict | str) -> dict | str:
    """The run's VGG weights record minus the machine-specific cache path."""
    return (
        {k: v for k, v in weights.items() if k != "path"} if isinstance(weights, dict) else weights
    )


def add(args) -> None:
    from keras_stylize.vgg_weights import sha256_of

    data = Path(args.data)
    run = json.loads(
        Path(args.run_json or Path(args.model).with_suffix(".logs") / "run.json").read_text()
    )
    config = run["config"]
    folder = ROOT / "zoo" / args.name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.model, folder / "model.keras")
    style = Image.open(data / "styles" / args.style_file).convert("RGB")
    style.thumbnail((512, 512), Image.Resampling.LANCZOS)
    style.save(folder / "style.jpg", quality=90)
    generator = keras.saving.load_model(folder / "model.keras", safe_mode=True, compile=False)
    preview(generator, data, folder / "preview.jpg")
    metrics, vgg = measure(generator, config, data)
    keys = ("family", "norm", "width", "image_size", "batch_size", "steps", "learning_rate",
            "content_weight", "style_weight", "tv_weight", "content_layer", "style_layers",
            "style_size", "seed", "precision")  # fmt: skip
    recipe = {key: config[key] for key in keys}
    recipe.update(
        optimizer="Adam", data=f"{run['content_images']} photos of shared/data/content",
        vgg19_weights=_without_path(run["vgg19_weights"]),
        wall_time_seconds=run.get("train_seconds_total",
        run["seconds_this_run"]), machine=run["machine"], versions=run["versions"],
        command=fit_command({**config, "style": f"shared/data/styles/{args.style_file}",
                             "content": "shared/data/content", "out": f"{args.name}.keras"}),
    )  # fmt: skip
    card = {
        "name": args.name,
        "family": config["family"],
        "norm": config["norm"],
        "parameters": int(generator.count_params()),
        "description": args.description,
        "style": style_metadata(data, args.style_file),
        "weights": {
            "file": "model.keras",
            "sha256": sha256_of(folder / "model.keras"),
            "bytes": (folder / "model.keras").stat().st_size,
        },  # fmt: skip
        "recipe": recipe,
        "metrics": metrics,
        "metrics_vgg19_weights": vgg.kind if vgg else None,
        "final_training_losses": run["final_metrics"],
        "preview": {"file": "preview.jpg", "photos": list(PREVIEW_PHOTOS)},
        "created": datetime.date.today().isoformat(),
        "python": platform.python_version(),
    }
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card["metrics"], indent=2))


def docs(args) -> None:
    from keras_stylize import zoo
    from keras_stylize.inference import stylize

    cards = [zoo.info(name) for name in zoo.list()]
    rows = [
        "| model | family | norm | params | style | content loss | style loss (photo) "
        "| training | preview |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cards:
        s, m = c["style"], c["metrics"]
        minutes = c["recipe"]["wall_time_seconds"] / 60
        rows.append(
            f"| `{c['name']}` | {c['family']} | {c['norm']} | {c['parameters']:,} | "
            f"{s['title']}, {s['artist']} ({s['year']}) | {m['stylized_content_loss']:.3f} | "
            f"{m['stylized_style_loss']:.3f} ({m['unstyled_style_loss']:.2f}) | "
            f"{c['recipe']['steps']} steps, {minutes:.0f} min | "
            f"![{c['name']}](zoo/{c['name']}/preview.jpg) |"
        )
    table = "\n".join(rows)
    readme = ROOT / "README.md"
    text = readme.read_text()
    text = re.sub(r"(<!-- models:start -->\n).*?(<!-- models:end -->)",
                  lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)  # fmt: skip
    readme.write_text(text)
    data = Path(args.data)
    every = sorted((data / "content_eval").glob("*.jpg"))
    photos = every[:: max(1, len(every) // 6)][:6]
    size = 192  # tiles are centre crops stylized at 384 px, then shown at 192 px
    generators = [zoo.load(c["name"]) for c in cards]
    header = 16
    sheet = Image.new("RGB", (size * (len(cards) + 1), header + size * len(photos)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, title in enumerate(["content_eval photo"] + [c["name"] for c in cards]):
        draw.text((col * size + 4, 2), title, fill="black")
    for row, path in enumerate(photos):
        image = ImageOps.fit(Image.open(path).convert("RGB"), (2 * size, 2 * size),
                             Image.Resampling.LANCZOS)  # fmt: skip
        top = header + row * size
        sheet.paste(image.resize((size, size), Image.Resampling.LANCZOS), (0, top))
        for col, generator in enumerate(generators, start=1):
            styled = stylize(image, generator).resize((size, size), Image.Resampling.LANCZOS)
            sheet.paste(styled, (col * size, top))
    (ROOT / "docs").mkdir(exist_ok=True)
    sheet.save(ROOT / "docs" / "zoo.jpg", quality=88)
    print(f"{len(cards)} models; README table and docs/zoo.jpg updated")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("add")
    p.add_argument("name")
    p.add_argument("--model", required=True)
    p.add_argument("--run-json", default=None)
    p.add_argument("--style-file", required=True)
    p.add_argument("--description", default="")
    sub.add_parser("docs")
    args = parser.parse_args()
    {"add": add, "docs": docs}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
