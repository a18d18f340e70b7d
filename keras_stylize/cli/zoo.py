"""`keras_stylize zoo list | info NAME`."""

from __future__ import annotations

import json
import sys

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


@zoo.command("info")
@click.argument("name")
def info(name: str) -> None:
    """Print the model card of NAME (JSON): style(s) with title, artist, year and license,
    recipe, metrics."""
    from keras_stylize import zoo as registry

    try:
        click.echo(json.dumps(registry.info(name), indent=2))
    except registry.ZooError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
