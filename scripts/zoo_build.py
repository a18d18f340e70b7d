"""Maintainer tool: add a trained generator to the zoo, re-measure cards, rebuild the docs.

    python scripts/zoo_build.py add NAME --model RUN.keras [--description TEXT]
    python scripts/zoo_build.py add NAME --model RUN.keras --after [--description TEXT]
    python scripts/zoo_build.py add ... --no-metrics      # a stage more stages follow at once
    python scripts/zoo_build.py measure NAME [NAME ...]   # recompute a card's metrics
    python scripts/zoo_build.py docs                      # README "Models" table + docs/zoo.jpg

`add` copies the generator to `zoo/NAME/model.keras`, writes the style image(s)
(`style.jpg`, or `styles/<style>.jpg` for a multi-style model; long side 512 px), a
`preview.jpg` (single style: eval photos above their stylization; multi-style: a style
sheet) and `card.json`: the recipe from the run's `run.json` (the exact `keras_stylize fit`
command included), the weights' sha256, and metrics on `content_eval` at 512 px
(`evaluation.mean_losses`: content and style loss, blot, spot and patch rates; per style for
multi-style models) against the run's own style targets and VGG19 weights. With `--after`,
the run trained on from the zoo model NAME (`fit --warm-start`, all weights; or `fit
--from`, some of a multi-style model's styles' own parameters): the model, preview, metrics
and final losses are replaced, the card's recipe keeps its stages and gets this run as the
next (`then` of the last stage, see `zoo.stages`: the run's schedule, style shares, the
recipe settings it changed, the styles it trained, wall time and command, which loads the
file the previous stage's command wrote: `stage_file`), and the total
wall time counts every stage; the metrics of styles that render bit-for-bit as before
(`unchanged_styles`) are kept rather than measured again. Needs the project's data folder
(`../shared/data` by default, `--data` to change)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import re
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from zoo_data import (
    DEFAULT_DATA,
    FIGURE_PHOTOS,
    ROOT,
    card_loss,
    card_styles,
    eval_photos,
    style_metadata,
)

RECIPE_KEYS = ("family", "norm", "output", "width", "scales", "image_size", "batch_size",
               "steps", "learning_rate", "lr_decay_steps", "content_weight", "style_weight",
               "tv_weight", "temporal_weight", "content_layer", "style_layers", "style_size",
               "seed", "precision", "style_shares", "darkening_weight", "darkening_cell",
               "darkening_ratio", "patch_weight")  # fmt: skip


def measure(card: dict, generator, data: Path, size: int = 512, known: dict | None = None) -> dict:
    """Card metrics: for one style the `mean_losses` record; for several, one record per
    style under `per_style` plus their means. `known`: per-style records to keep instead of
    measuring again (styles whose outputs are bit-for-bit those already measured)."""
    from keras_stylize.evaluation import mean_losses

    loss = card_loss(card, data)
    photos = eval_photos(data)
    styles = card_styles(card)
    if len(styles) == 1:
        metrics = mean_losses(generator, loss, photos, size)
    else:
        per_style = {}
        for record in styles:
            name = record["name"]
            if known and name in known:
                per_style[name] = known[name]
                print(name, "unchanged: metrics kept", flush=True)
                continue
            per_style[name] = mean_losses(generator, loss, photos, size, style=name)
            print(name, json.dumps(per_style[name]), flush=True)
        keys = [k for k, v in next(iter(per_style.values())).items() if isinstance(v, float)]
        metrics = {k: round(sum(m[k] for m in per_style.values()) / len(per_style), 4)
                   for k in keys}  # fmt: skip
        metrics["photos_over_blot_limit"] = max(
            m["photos_over_blot_limit"] for m in per_style.values()
        )
        metrics["images"] = len(photos)
        metrics["per_style"] = per_style
    metrics.update(eval_set="content_eval", long_side=size)
    return metrics


def preview(generator, card: dict, data: Path, out: Path, size: int = 320) -> None:
    from keras_stylize.inference.sheets import grid, style_sheet
    from keras_stylize.inference.stylize import stylize

    photos = [Image.open(data / "content_eval" / name).convert("RGB") for name in FIGURE_PHOTOS]
    if len(card_styles(card)) > 1:
        sheet = style_sheet(photos[0], [(card["name"], generator)], tile=size // 2, columns=6)
    else:
        sheet = grid([photos, [stylize(p, generator, max_size=2 * size) for p in photos]],
                     tile=size)  # fmt: skip
    sheet.save(out, quality=88)


def _without_path(weights: dict | str) -> dict | str:
    """The run's VGG weights record minus the machine-specific cache path."""
    return (
        {k: v for k, v in weights.items() if k != "path"} if isinstance(weights, dict) else weights
    )


def _command(config: dict, files: list[str], out: str, **overrides) -> str:
    """The `keras_stylize fit` command of a run's config, with the project-relative data
    paths, the output `out` and no log folder (plus `overrides` of config fields)."""
    from keras_stylize.training.config import FitConfig

    fields = set(FitConfig.__dataclass_fields__)
    command_config = {k: v for k, v in config.items() if k in fields}
    command_config.update(
        style=[f"shared/data/styles/{Path(f).name}" for f in files],
        content="shared/data/content", out=out, log_dir=None, **overrides,
    )  # fmt: skip
    return FitConfig(**command_config).command()


def stage_file(name: str, stage: int) -> str:
    """The model file that stage `stage` (1-based) of zoo model `name` writes in its card
    command: `NAME.keras` for the first, `NAME_stage<k>.keras` after it; stage k's command
    loads stage k-1's file, so the commands replay the chain as they stand."""
    return f"{name}.keras" if stage == 1 else f"{name}_stage{stage}.keras"


def _weights_record(folder: Path) -> dict:
    from keras_stylize.files import sha256_of

    path = folder / "model.keras"
    return {"file": "model.keras", "sha256": sha256_of(path), "bytes": path.stat().st_size}


def _seconds(run: dict) -> float:
    return run.get("train_seconds_total", run["seconds_this_run"])


def _install_model(source: str, folder: Path):
    """Copies the trained generator `source` to `folder/model.keras` and loads the copy."""
    from keras_stylize.zoo import load_generator

    shutil.copyfile(source, folder / "model.keras")
    return load_generator(str(folder / "model.keras"))


def _write_card(folder: Path, card: dict) -> None:
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")


def unchanged_styles(old, new) -> list[str]:
    """The styles of multi-style generator `new` that render exactly as in `old`: every
    weight outside the conditional instance norms is identical, and so are the style's
    own rows of their scales and shifts (a one-hot style weight selects just those)."""
    from keras_stylize.generators.styles import style_names
    from keras_stylize.layers import ConditionalInstanceNormalization

    old_names, names = style_names(old) or [], style_names(new) or []
    if names[: len(old_names)] != old_names or len(old.layers) != len(new.layers):
        return []
    same = list(old_names)
    for a, b in zip(old.layers, new.layers, strict=True):
        if a.name != b.name or len(a.weights) != len(b.weights):
            return []
        for wa, wb in zip(a.weights, b.weights, strict=True):
            va, vb = np.asarray(wa), np.asarray(wb)
            if isinstance(b, ConditionalInstanceNormalization):  # (styles, channels)
                if va.shape[1:] != vb.shape[1:] or va.shape[0] != len(old_names):
                    return []
                rows = {n: i for i, n in enumerate(old_names)}
                same = [n for n in same if np.array_equal(va[rows[n]], vb[rows[n]])]
            elif va.shape != vb.shape or not np.array_equal(va, vb):
                return []
    return same


def _finish(
    card: dict, generator, data: Path, folder: Path, known: dict | None = None, metrics: bool = True
) -> None:
    """Writes the preview, measures the metrics (keeping `known` per-style records),
    writes the card and prints the metrics. `metrics=False` (`add --no-metrics`, a stage
    that more stages will follow at once): writes the card only, without preview or
    metrics, which the next `add --after` writes."""
    if not metrics:
        card.pop("metrics", None)
        _write_card(folder, card)
        return
    preview(generator, card, data, folder / "preview.jpg")
    card["metrics"] = measure(card, generator, data, known=known)
    _write_card(folder, card)
    print(json.dumps({k: v for k, v in card["metrics"].items() if k != "per_style"}, indent=2))


def add(args) -> None:
    from keras_stylize.generators.styles import style_names

    data = Path(args.data)
    run = json.loads(
        Path(args.run_json or Path(args.model).with_suffix(".logs") / "run.json").read_text()
    )
    config = run["config"]
    files = config["style"] if isinstance(config["style"], list) else [config["style"]]
    folder = ROOT / "zoo" / args.name
    if args.after:
        add_stage(args, run, files, folder, data)
        return
    folder.mkdir(parents=True, exist_ok=True)
    generator = _install_model(args.model, folder)
    names = style_names(generator)
    styles = []
    for index, file in enumerate(files):
        record = style_metadata(data, Path(file).name)
        image = Image.open(data / "styles" / record["file"]).convert("RGB")
        image.thumbnail((512, 512), Image.Resampling.LANCZOS)
        if names:
            record = {"name": names[index], **record, "image": f"styles/{names[index]}.jpg"}
            (folder / "styles").mkdir(exist_ok=True)
            image.save(folder / record["image"], quality=90)
        else:
            image.save(folder / "style.jpg", quality=90)
        styles.append(record)
    recipe = {key: config.get(key) for key in RECIPE_KEYS}
    recipe.update(
        optimizer="Adam", data=f"{run['content_images']} photos of shared/data/content",
        vgg19_weights=_without_path(run["vgg19_weights"]), wall_time_seconds=_seconds(run),
        machine=run["machine"], versions=run["versions"],
        command=_command(config, files, stage_file(args.name, 1)),
    )  # fmt: skip
    card = {
        "name": args.name,
        "family": config["family"],
        "norm": config["norm"],
        "parameters": int(generator.count_params()),
        "description": args.description,
        **({"styles": styles} if names else {"style": styles[0]}),
        "weights": _weights_record(folder),
        "recipe": recipe,
        "final_training_losses": run["final_metrics"],
        "preview": {"file": "preview.jpg", "photos": list(FIGURE_PHOTOS)},
        "created": datetime.date.today().isoformat(),
        "python": platform.python_version(),
    }
    _finish(card, generator, data, folder, metrics=not args.no_metrics)


def add_stage(args, run: dict, files: list[str], folder: Path, data: Path) -> None:
    """`add --after`: the run continues zoo model `args.name` (see the module docstring)."""
    from keras_stylize import zoo
    from keras_stylize.training.config import FitConfig

    card = zoo.info(args.name)
    card.pop("path")
    first, config = card["recipe"], run["config"]
    names = [Path(f).name for f in files]
    known = [s["file"] for s in card_styles(card)]
    count = len(zoo.stages(card))
    source = stage_file(args.name, count)  # what the last stage's command wrote
    if config.get("init_from"):  # trained some styles' own parameters (fit --from)
        if not set(names) <= set(known):
            raise SystemExit(f"the run trained styles {args.name} does not have")
        start = {"init_from": source}
    elif names == known:  # trained every weight (fit --warm-start)
        start = {"warm_start": source}
    else:
        raise SystemExit(f"the run's styles are not those of {args.name}, in that order")
    first.setdefault("wall_time_seconds_first_stage", first["wall_time_seconds"])
    always = ("steps", "learning_rate", "lr_decay_steps", "style_shares", "precision")
    defaults = {f.name: f.default for f in dataclasses.fields(FitConfig)}  # older cards
    zoo.stages(card)[-1]["then"] = {  # the schedule, and every recipe setting it changed
        **{key: config.get(key) for key in RECIPE_KEYS
           if key in always or config.get(key) != first.get(key, defaults.get(key))},
        **({"styles_trained": [Path(f).stem for f in files]} if "init_from" in start else {}),
        "wall_time_seconds": _seconds(run), "machine": run["machine"],
        "command": _command(config, files, stage_file(args.name, count + 1), **start),
    }  # fmt: skip
    first["wall_time_seconds"] = round(first["wall_time_seconds"] + _seconds(run), 1)
    previous = zoo.load(args.name)
    generator = _install_model(args.model, folder)
    same = unchanged_styles(previous, generator) if "metrics" in card else []  # none to keep
    known = {name: card["metrics"]["per_style"][name] for name in same}
    card.update(
        parameters=int(generator.count_params()), weights=_weights_record(folder),
        final_training_losses=run["final_metrics"], created=datetime.date.today().isoformat(),
    )  # fmt: skip
    if args.description:
        card["description"] = args.description
    _finish(card, generator, data, folder, known=known, metrics=not args.no_metrics)


def remeasure(args) -> None:
    from keras_stylize import zoo

    for name in args.names:
        card = zoo.info(name)
        folder = Path(card.pop("path"))
        card["metrics"] = measure(card, zoo.load(name), Path(args.data))
        _write_card(folder, card)
        print(name, json.dumps({k: v for k, v in card["metrics"].items() if k != "per_style"}))


# The README's picture: the bundled photo and these (model, style) pairs.
HERO = [("starry_night_johnson", None), ("ten_styles_johnson", "great_wave_off_kanagawa"),
        ("starry_night_texture", None)]  # fmt: skip
GALLERY = ROOT / "docs" / "gallery"  # painting montages of multi-style models


def painting_montage(card: dict, out: Path, thumb: int = 64, columns: int = 8) -> None:
    """The paintings of a multi-style model as one image of square thumbnails."""
    from keras_stylize.inference.sheets import square

    folder = Path(card["path"])
    images = [square(Image.open(folder / s["image"]).convert("RGB"), thumb)
              for s in card["styles"]]  # fmt: skip
    rows = -(-len(images) // columns)
    montage = Image.new("RGB", (min(columns, len(images)) * thumb, rows * thumb), "white")
    for i, image in enumerate(images):
        montage.paste(image, ((i % columns) * thumb, (i // columns) * thumb))
    out.parent.mkdir(parents=True, exist_ok=True)
    montage.save(out, quality=88)


def gallery_rows(cards: list[dict]) -> list[str]:
    """The README's model gallery: name and painting(s), a thumbnail of the painting(s), the
    preview, parameters and file size (the metrics are on the cards and in docs/zoo.md)."""
    rows = ["| model | painting | example | parameters | file |", "|---|---|---|---|---|"]
    for c in cards:
        styles, name = card_styles(c), c["name"]
        if len(styles) == 1:
            s = styles[0]
            what = f"{s['title']}, {s['artist']} ({s['year']})"
            painting = f"zoo/{name}/style.jpg"
        else:
            what = f"{len(styles)} paintings (`keras_stylize zoo info {name}`)"
            painting = f"docs/gallery/{name}_paintings.jpg"
            painting_montage(c, ROOT / painting)
        rows.append(
            f'| `{name}`<br>{what} | <img src="{painting}" height="96"> '
            f'| <img src="zoo/{name}/preview.jpg" height="96"> '
            f"| {c['parameters']:,} | {c['weights']['bytes'] / 1e6:.1f} MB |"
        )
    return rows


def hero(pairs: list[tuple[str, str | None]], height: int = 256) -> None:
    """docs/hero.jpg: the bundled photo, then its stylization by each (model, style)."""
    from importlib import resources

    from keras_stylize.inference.stylize import stylize

    with resources.as_file(resources.files("keras_stylize") / "assets" / "kodim23.jpg") as p:
        photo = Image.open(p).convert("RGB")
    photo = photo.resize((round(photo.width * height / photo.height), height),
                         Image.Resampling.LANCZOS)  # fmt: skip
    tiles = [photo] + [stylize(photo, model, style=style) for model, style in pairs]
    strip = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), height), "white")
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, 0))
        x += tile.width + 4
    strip.save(ROOT / "docs" / "hero.jpg", quality=90)


def docs(args) -> None:
    from keras_stylize import zoo
    from keras_stylize.generators.styles import preset_names
    from keras_stylize.inference.sheets import grid
    from keras_stylize.inference.stylize import stylize

    cards = [zoo.info(name) for name in zoo.list()]
    rows = gallery_rows(cards)
    readme = ROOT / "README.md"
    text = re.sub(r"(<!-- models:start -->\n).*?(<!-- models:end -->)",
                  lambda mt: mt.group(1) + "\n".join(rows) + "\n" + mt.group(2),
                  readme.read_text(), flags=re.S)  # fmt: skip
    readme.write_text(text)
    every = eval_photos(Path(args.data))
    photos = [Image.open(p).convert("RGB") for p in every[:: max(1, len(every) // 6)][:6]]
    columns, titles = [], []
    for c in cards:
        generator = zoo.load(c["name"])
        for style in preset_names(generator) or [None]:
            columns.append([stylize(p, generator, style=style, max_size=384) for p in photos])
            titles.append(c["name"] if style is None else f"{c['name']}: {style}")
    rows_of_tiles = [[photo, *(col[i] for col in columns)] for i, photo in enumerate(photos)]
    sheet = grid(rows_of_tiles, ["content_eval photo", *titles], tile=192)
    (ROOT / "docs").mkdir(exist_ok=True)
    sheet.save(ROOT / "docs" / "zoo.jpg", quality=88)
    hero(HERO)
    print(f"{len(cards)} models; README gallery, docs/hero.jpg and docs/zoo.jpg updated")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("add")
    p.add_argument("name")
    p.add_argument("--model", required=True)
    p.add_argument("--run-json", default=None)
    p.add_argument("--description", default="")
    p.add_argument(
        "--after",
        action="store_true",
        help="the run trained on from zoo model NAME: add it as a second stage",
    )
    p.add_argument(
        "--no-metrics",
        action="store_true",
        help="more stages follow at once: skip the preview and metrics (the next add writes them)",
    )
    p = sub.add_parser("measure")
    p.add_argument("names", nargs="+")
    sub.add_parser("docs")
    args = parser.parse_args()
    {"add": add, "measure": remeasure, "docs": docs}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
