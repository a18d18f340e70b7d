"""`keras_stylize zoo list | info NAME`."""

from __future__ import annotations

import json
import sys
import textwrap

import click


@click.group()
def zoo() -> None:
    """Browse the pretrained style models."""


@zoo.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_models(as_json: bool) -> None:
    """List the zoo models as a table (a broken card: one line on stderr, exit code 1)."""
    from keras_stylize import zoo as registry

    cards, broken = [], []
    for name in registry.list():
        try:
            cards.append(registry.info(name))
        except registry.ZooError as exc:
            broken.append(str(exc))
    rows = [("name", "family", "norm", "params", "style", "artist")]
    for c in list(cards):
        try:
            if "styles" in c:  # a multi-style model
                style, artist = f"{len(c['styles'])} styles", "(zoo info NAME lists them)"
            else:
                style, artist = c["style"]["title"], c["style"]["artist"]
            rows.append((c["name"], c["family"], c["norm"], f"{c['parameters']:,}", style,
                         artist))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            cards.remove(c)
            broken.append(f"zoo model {c.get('name')!r}: card.json lacks a field ({exc})")
    for message in broken:
        click.echo(f"error: {message}", err=True)
    if as_json:
        click.echo(json.dumps(cards, indent=2))
        sys.exit(1 if broken else 0)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    sys.exit(1 if broken else 0)


FAMILY_NAMES = {
    "johnson": "Johnson et al. residual network",
    "texture": "Ulyanov et al. texture network",
}
NORM_NAMES = {"instance": "instance normalization", "batch": "batch normalization",
              "none": "no normalization"}  # fmt: skip


def _painting(style: dict) -> str:
    """'Title, Artist (year)' of a card's style record."""
    year = f" ({style['year']})" if style.get("year") else ""
    return f"{style.get('title', style.get('name', '?'))}, {style.get('artist', 'unknown')}{year}"


def summary(card: dict) -> str:
    """A few lines a person reads: what the model paints, its size, how it was trained and
    where its measurements are (`zoo info NAME`)."""
    from keras_stylize import zoo as registry

    styles = card.get("styles") or [card["style"]]
    stages = registry.stages(card)
    recipe = card["recipe"]
    megabytes = card["weights"].get("bytes", 0) / 1e6
    lines = [
        card["name"] + ("" if len(styles) > 1 else f": {_painting(styles[0])}"),
        f"  {FAMILY_NAMES.get(card['family'], card['family'])}, "
        f"{NORM_NAMES.get(card['norm'], card['norm'])}; {card['parameters']:,} parameters, "
        f"{megabytes:.1f} MB",
    ]
    if card.get("description"):
        lines += textwrap.wrap(card["description"], 96, initial_indent="  ",
                               subsequent_indent="  ")  # fmt: skip
    if len(styles) > 1:
        lines.append(f"  {len(styles)} styles (--style NAME, or a blend NAME:0.7,OTHER:0.3):")
        width = max(len(s["name"]) for s in styles)
        lines += [f"    {s['name']:<{width}}  {_painting(s)}" for s in styles]
    steps = sum(stage.get("steps", 0) for stage in stages)
    minutes = recipe.get("wall_time_seconds", 0) / 60
    lines.append(
        f"  Trained: {steps:,} steps in {len(stages)} stage{'s' * (len(stages) > 1)}, "
        f"{minutes:.0f} min on {recipe.get('machine', 'an unrecorded machine')}; "
        f"{recipe.get('image_size')} px crops, batch {recipe.get('batch_size')}, "
        f"VGG19 weights {recipe.get('vgg19_weights', {}).get('kind', 'unrecorded')}"
    )
    metrics = card.get("metrics") or {}
    if "stylized_content_loss" in metrics:
        lines.append(
            f"  Measured on {metrics.get('images', 'the')} held-out photos at "
            f"{metrics.get('long_side', 512)} px: content loss "
            f"{metrics['stylized_content_loss']:.3f}, style loss "
            f"{metrics['stylized_style_loss']:.3f}, near-black blots "
            f"{metrics.get('blot_rate', float('nan')):.3f} % (all fields: --json; docs/zoo.md)"
        )
    return "\n".join(lines)


@zoo.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the whole model card as JSON.")
def info(name: str, as_json: bool) -> None:
    """Describe zoo model NAME: its painting(s) with title, artist and year, size, how it
    was trained and what was measured (--json: the model card)."""
    from keras_stylize import zoo as registry

    try:
        card = registry.info(name)
        click.echo(json.dumps(card, indent=2) if as_json else summary(card))
    except registry.ZooError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (KeyError, TypeError, ValueError) as exc:
        click.echo(f"error: zoo model {name!r}: card.json lacks a field ({exc})", err=True)
        sys.exit(1)
