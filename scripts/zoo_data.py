"""What the maintainer scripts share about the project's data folder (`../shared/data`).

The library never reads this folder; only the scripts that build and evaluate the zoo do.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
# The photos of previews and figures: a person, a building under a sky, an animal.
FIGURE_PHOTOS = ("kodak_kodim23.jpg", "budgie_roman_colosseum.jpg", "ubuntu_karmic_frog.jpg")


def eval_photos(data: Path) -> list[Path]:
    """The held-out evaluation photos, sorted."""
    photos = sorted((Path(data) / "content_eval").glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no photos in {Path(data) / 'content_eval'}")
    return photos


def style_metadata(data: Path, file: str) -> dict:
    """Title, artist, year, license and source of a style image, from MANIFEST.md."""
    for line in (Path(data) / "MANIFEST.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and cells[0] == f"`{file}`":
            title, artist, year, status, _size, source = cells[1:7]
            return {"file": file, "title": title, "artist": artist, "year": year,
                    "license": status, "source": source.strip("`")}  # fmt: skip
    raise SystemExit(f"{file} is not in {Path(data) / 'MANIFEST.md'}")


def card_loss(card: dict, data: Path):
    """The `PerceptualLoss` a zoo model was trained with: the card's recipe, its style
    file(s) from the data folder and the card's VGG19 weights (checked)."""
    from keras_stylize.evaluation import loss_for_recipe

    files = [Path(data) / "styles" / s["file"] for s in card_styles(card)]
    return loss_for_recipe(card["recipe"], files)


def card_styles(card: dict) -> list[dict]:
    """The style records of a card: `styles` (multi-style) or `[style]`."""
    return card["styles"] if "styles" in card else [card["style"]]
