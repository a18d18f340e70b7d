"""Builds the browser demo's gallery: web/gallery/models.json and small thumbnails.

One entry per zoo model that has a TF.js export (export/<name>/<name>_tfjs/model.json):
its name, a readable title (the painting, its artist and year, and the network family),
the export's size and agreement with Keras, the model.json path relative to web/, and a
thumbnail of its painting (zoo/<name>/style.jpg, or for a multi-style model one per style
from the card's `styles`, in the order of the export's styles.json). Sample photos: the
bundled keras_stylize/assets/kodim23.jpg (Kodak, unrestricted use).

    python scripts/web_gallery.py          # rewrite web/gallery/ (commit the result)
    python scripts/web_gallery.py --check  # exit 1 if web/gallery/ is out of date
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
OUT = WEB / "gallery"
THUMB = 160  # px, longest side
DEFAULT = "starry_night_johnson"

FAMILIES = {
    ("johnson", "instance"): "Johnson network, instance norm",
    ("johnson", "batch"): "Johnson network, batch norm",
    ("texture", "instance"): "texture network, instance norm",
    ("texture", "batch"): "texture network, batch norm",
}
SAMPLES = [
    {"name": "kodim23", "title": "Parrots (Kodak kodim23)",
     "url": "../keras_stylize/assets/kodim23.jpg"},
    {"name": "kodim04", "title": "Portrait (Kodak kodim04)", "url": "samples/kodim04.jpg"},
    {"name": "kodim08", "title": "Houses (Kodak kodim08)", "url": "samples/kodim08.jpg"},
    {"name": "kodim13", "title": "Mountain stream (Kodak kodim13)", "url": "samples/kodim13.jpg"},
]  # fmt: skip


def _thumbnail(src: Path) -> bytes:
    image = Image.open(src).convert("RGB")
    image.thumbnail((THUMB, THUMB), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def _painting(style: dict) -> dict:
    return {"title": style["title"], "artist": style.get("artist", ""),
            "year": str(style.get("year", ""))}  # fmt: skip


def build() -> dict[str, bytes]:
    """Every file of web/gallery/ as {relative path: bytes}."""
    files: dict[str, bytes] = {}
    models = []
    for export in sorted((ROOT / "export").iterdir()):
        name = export.name
        tfjs = export / f"{name}_tfjs"
        card_path = ROOT / "zoo" / name / "card.json"
        if not (tfjs / "model.json").is_file() or not card_path.is_file():
            continue
        card = json.loads(card_path.read_text())
        record_path = export / f"{name}_tfjs.json"
        record = json.loads(record_path.read_text()) if record_path.is_file() else {}
        family = FAMILIES.get((card.get("family"), card.get("norm")), card.get("family", ""))
        entry = {
            "name": name,
            "family": family,
            "parameters": card.get("parameters"),
            "bytes": sum(p.stat().st_size for p in tfjs.iterdir() if p.is_file()),
            "psnr_db": round(record["agreement"]["psnr_db"], 1) if record else None,
            "model": f"../export/{name}/{name}_tfjs/model.json",
        }
        if (export / f"{name}_predictor_tfjs" / "model.json").is_file():  # any painting
            entry["predictor"] = f"../export/{name}/{name}_predictor_tfjs/model.json"
        if "styles" in card:  # multi-style: one thumbnail per style, in the export's order
            order = json.loads((tfjs / "styles.json").read_text())
            by_name = {s["name"]: s for s in card["styles"]}
            styles = []
            for style_name in order:
                style = by_name[style_name]
                thumb = Path(style["file"]).stem + ".jpg"  # shared by models of one painting
                files[thumb] = _thumbnail(ROOT / "zoo" / name / style["image"])
                styles.append({"name": style_name, **_painting(style), "thumb": f"gallery/{thumb}"})
            entry.update(title=f"{len(styles)} styles in one network", styles=styles,
                         thumb=styles[0]["thumb"])  # fmt: skip
        else:
            painting = _painting(card["style"])
            thumb = Path(card["style"]["file"]).stem + ".jpg"
            files[thumb] = _thumbnail(ROOT / "zoo" / name / "style.jpg")
            entry.update(title=painting["title"], painting=painting, thumb=f"gallery/{thumb}")
        models.append(entry)
    # the default first, then multi-style, then texture networks; batch-norm twins last
    models.sort(key=lambda m: (m["name"] != DEFAULT, "batch" in m["family"],
                               "texture" in m["family"], m["name"]))  # fmt: skip
    index = {"generated_by": "scripts/web_gallery.py", "default": DEFAULT,
             "models": models, "samples": SAMPLES}  # fmt: skip
    files["models.json"] = (json.dumps(index, indent=1, ensure_ascii=False) + "\n").encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check web/gallery/")
    args = parser.parse_args()
    files = build()
    if args.check:
        stale = [n for n, data in files.items()
                 if not (OUT / n).is_file() or (OUT / n).read_bytes() != data]  # fmt: skip
        extra = [p.name for p in OUT.glob("*") if p.name not in files] if OUT.is_dir() else []
        if stale or extra:
            print(
                f"web/gallery is out of date: {sorted(stale + extra)}; "
                "run python scripts/web_gallery.py",
                file=sys.stderr,
            )
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*"):
        if old.name not in files:
            old.unlink()
    for n, data in files.items():
        (OUT / n).write_bytes(data)
    print(f"wrote {len(files)} files to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
