"""Labelled contact sheets: a grid of equal square tiles with a title above each column.

Used by `keras_stylize sheet` (every style of some models on one photo) and by the
maintainer scripts (the zoo contact sheet, the IN-vs-BN figure). Tiles are PIL RGB
images; each is centre-cropped to a square and resized to `tile` px.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageOps

from keras_stylize.options import DEFAULT_BLEND_STEPS, DEFAULT_SHEET_COLUMNS, DEFAULT_SHEET_TILE

LABEL_HEIGHT = 18


def square(image: Image.Image, size: int) -> Image.Image:
    """Centre crop of `image` to a square, resized to `size` x `size` (Lanczos)."""
    return ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.LANCZOS)


def grid(
    rows: Sequence[Sequence[Image.Image]],
    titles: Sequence[str] = (),
    tile: int = 192,
    tile_titles: Sequence[Sequence[str]] | None = None,
) -> Image.Image:
    """A white sheet of `rows` (lists of images, equal length), each image a square
    `tile`; `titles` above the columns, `tile_titles` (same shape as `rows`) above each
    tile instead when given."""
    columns = max((len(r) for r in rows), default=0)
    if not columns:
        raise ValueError("a sheet needs at least one image")
    label = LABEL_HEIGHT if titles or tile_titles else 0
    row_height = tile + (label if tile_titles else 0)
    top = 0 if tile_titles else label
    sheet = Image.new("RGB", (columns * tile, top + row_height * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    if not tile_titles:
        for col, title in enumerate(titles):
            draw.text((col * tile + 4, 3), _fit(draw, str(title), tile - 8), fill="black")
    for r, row in enumerate(rows):
        y = top + r * row_height
        for col, image in enumerate(row):
            if tile_titles:
                text = _fit(draw, str(tile_titles[r][col]), tile - 8)
                draw.text((col * tile + 4, y + 3), text, fill="black")
            sheet.paste(square(image, tile), (col * tile, y + (label if tile_titles else 0)))
    return sheet


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """`text`, shortened with an ellipsis to fit `width` px."""
    if draw.textlength(text) <= width:
        return text
    while text and draw.textlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def style_sheet(
    photo: Image.Image,
    models: Sequence[tuple[str, object]],
    tile: int = DEFAULT_SHEET_TILE,
    columns: int = DEFAULT_SHEET_COLUMNS,
) -> Image.Image:
    """Every style of every `(label, generator)` in `models` applied to `photo`, one tile
    each, labelled "label" (single-style) or "label: style" (multi-style), `columns` tiles
    per row, the photo itself first. The photo is centre-cropped to a square of `2 * tile`
    px and stylized at that size."""
    from keras_stylize.generators.styles import preset_names
    from keras_stylize.inference.stylize import stylize

    base = square(photo, 2 * tile)
    tiles, labels = [base], ["photo"]
    for label, generator in models:
        names = preset_names(generator)
        for name in names or [None]:
            tiles.append(stylize(base, generator, style=name))
            labels.append(label if name is None else f"{label}: {name}")
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    titles = [labels[i : i + columns] for i in range(0, len(labels), columns)]
    if len(rows[-1]) < columns and len(rows) > 1:
        pad = columns - len(rows[-1])
        rows[-1] = [*rows[-1], *[Image.new("RGB", (tile, tile), "white")] * pad]
        titles[-1] = [*titles[-1], *[""] * pad]
    return grid(rows, tile=tile, tile_titles=titles)


def blend_strip(
    photo: Image.Image, generator: object, first: str, second: str,
    steps: int = DEFAULT_BLEND_STEPS, tile: int = DEFAULT_SHEET_TILE,
) -> Image.Image:  # fmt: skip
    """`photo` stylized by the multi-style `generator` with the blend of styles `first`
    and `second` going from all `first` to all `second` in `steps` equal steps, one
    labelled tile each ("first 0.75 + second 0.25", ...). Raises ValueError for a
    single-style generator or unknown style names (with the valid names)."""
    from keras_stylize.generators.styles import style_names
    from keras_stylize.inference.stylize import stylize

    if style_names(generator) is None:
        raise ValueError("a blend strip needs a multi-style model")
    if steps < 2:
        raise ValueError(f"a blend strip needs at least 2 steps. Received: {steps}")
    base = square(photo, 2 * tile)
    tiles, labels = [], []
    for i in range(steps):
        share = i / (steps - 1)
        parts = [(first, 1.0 - share), (second, share)]
        style = ",".join(f"{name}:{weight:g}" for name, weight in parts if weight > 0)
        tiles.append(stylize(base, generator, style=style))
        labels.append(" + ".join(f"{name} {weight:.2g}" for name, weight in parts if weight > 0))
    return grid([tiles], tile=tile, tile_titles=[labels])
