"""`keras_stylize sheet`: one photo in every style of some models, labelled."""

from __future__ import annotations

import sys

import click

from keras_stylize.options import DEFAULT_BLEND_STEPS, DEFAULT_SHEET_COLUMNS, DEFAULT_SHEET_TILE


@click.command(context_settings={"show_default": True})
@click.argument("photo")
@click.option("--output", "-o", required=True, help="Output image (jpg, png or webp).")
@click.option(
    "--model",
    "-m",
    "models",
    multiple=True,
    help="Zoo name or .keras file; repeat for several [default: every zoo model].",
)
@click.option(
    "--tile", type=click.IntRange(min=64), default=DEFAULT_SHEET_TILE, help="Tile side, px."
)
@click.option(
    "--columns", type=click.IntRange(min=1), default=DEFAULT_SHEET_COLUMNS, help="Tiles per row."
)
@click.option(
    "--blend",
    default=None,
    metavar="A,B",
    help="Instead: a strip blending two styles of one multi-style --model from A to B.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=2),
    default=DEFAULT_BLEND_STEPS,
    help="Tiles of a --blend strip.",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace an existing output file (never PHOTO or a model)."
)
def sheet(photo, output, models, tile, columns, blend, steps, overwrite) -> None:
    """Render PHOTO in every style of the given models on one labelled sheet, to help
    pick a style; with --blend, a strip of blends between two styles."""
    from pathlib import Path

    from keras_stylize import zoo
    from keras_stylize.files import atomic_write_bytes, check_output
    from keras_stylize.images import ImageReadError, encode_image, format_for, open_image
    from keras_stylize.inference.sheets import blend_strip, style_sheet
    from keras_stylize.zoo import load_generator

    try:
        fmt = format_for(output)
        check_output(output, [photo, *models], overwrite)  # never onto an input
        image, _ = open_image(photo)
        if blend is not None:
            pair = [name.strip() for name in blend.split(",")]
            if len(pair) != 2 or not all(pair) or len(models) != 1:
                raise ValueError("--blend needs two style names, A,B, and exactly one --model")
            result = blend_strip(image, load_generator(models[0]), *pair, steps=steps, tile=tile)
        else:
            names = list(models) or zoo.list()
            if not names:
                raise ValueError("no models given and the zoo is empty")
            loaded = [(Path(n).stem if n.endswith(".keras") else n, load_generator(n))
                      for n in names]  # fmt: skip
            result = style_sheet(image, loaded, tile=tile, columns=columns)
        atomic_write_bytes(output, encode_image(result, fmt, quality=90), overwrite)
    except (ImageReadError, ValueError, LookupError, OSError) as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    click.echo(f"wrote {output} ({result.width}x{result.height})")
