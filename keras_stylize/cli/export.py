"""`keras_stylize export`: SavedModel, TFLite and TF.js exports, verified against Keras."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from keras_stylize.options import EXPORT_FORMATS, QUANTIZATIONS


def _size(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        height, width = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected HxW such as 512x512, got {value!r}") from None
    if min(height, width) < 32:
        raise click.BadParameter("height and width must be >= 32")
    return height, width


def _representative(content: str | None, size: tuple[int, int] | None, count: int = 32):
    if not content:
        return None
    from keras_stylize.training.data import content_dataset

    h, w = size or (256, 256)
    dataset, _ = content_dataset(content, image_size=max(h, w), batch_size=1, seed=0)

    def images():
        for batch in dataset.take(count):
            yield batch.numpy()[:, :h, :w, :]

    return images


@click.command(context_settings={"show_default": True})
@click.argument("model")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*EXPORT_FORMATS, "all"]),
    required=True,
    help="'all' writes SavedModel, TFLite float32 and float16, and TF.js float16 into the "
    "-o folder. TF.js needs the [tfjs] extra.",
)
@click.option(
    "--quantize",
    type=click.Choice(list(dict.fromkeys(q for qs in QUANTIZATIONS.values() for q in qs))),
    default="none",
    help="Quantization: TFLite takes all; TF.js none or float16; SavedModel none.",
)
@click.option("--size", default=None, help="Fixed input size HxW (TFLite); default resizable.")
@click.option(
    "--representative",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of content images for --quantize int8.",
)
@click.option(
    "--predictor",
    is_flag=True,
    help="Export MODEL's style predictor instead (models trained with --style-prediction; "
    "--format tflite or tfjs, --quantize none or float16).",
)
@click.option("-o", "--output", required=True, help="Output path (for --format all: a folder).")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing output file, or a folder holding an earlier export of the "
    "same format (any other folder is never replaced).",
)
def export(model, fmt, quantize, size, representative, predictor, output, overwrite) -> None:
    """Export MODEL (a .keras file or zoo name) and verify it against Keras.

    A JSON sidecar (<output>.json) records the agreement (max abs diff, PSNR). Options and
    outputs are checked before any work; an existing output needs --overwrite.
    """
    import os

    from keras_stylize.cli.quiet import quiet_stderr
    from keras_stylize.export import ExportMismatchError, check_export, export_model
    from keras_stylize.export.verify import check_export_output

    fixed = _size(size)
    if predictor:
        _export_predictor(model, fmt, quantize, size, output, overwrite)
        return
    jobs = [(fmt, quantize, output)]
    if fmt == "all":
        folder = Path(output)
        stem = Path(str(model)).stem
        jobs = [("savedmodel", "none", str(folder / f"{stem}_savedmodel")),
                ("tflite", "none", str(folder / f"{stem}_float32.tflite")),
                ("tflite", "float16", str(folder / f"{stem}_float16.tflite")),
                ("tfjs", "float16", str(folder / f"{stem}_tfjs"))]  # fmt: skip
    inputs = (model if os.path.exists(model) else None, representative)
    try:
        for job_fmt, job_quant, job_out in jobs:
            check_export(job_fmt, job_quant, fixed if fmt != "all" else None,
                         bool(representative))  # fmt: skip
            check_export_output(job_out, job_fmt, overwrite, inputs)
    except (ValueError, OSError) as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    failed = False
    quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") != "0"  # unless --verbose
    for job_fmt, job_quant, job_out in jobs:
        try:
            with quiet_stderr(quiet):
                record = export_model(
                    model, job_out, job_fmt, job_quant, fixed if job_fmt == "tflite" else None,
                    _representative(representative, fixed) if job_quant == "int8" else None,
                    overwrite=overwrite,
                )  # fmt: skip
        except (ExportMismatchError, ValueError, OSError, LookupError, RuntimeError) as exc:
            click.echo(f"error: {job_out}: {' '.join(str(exc).split())}", err=True)
            failed = True
            continue
        a = record["agreement"]
        psnr = "inf" if a["psnr_db"] is None else f"{a['psnr_db']:.1f} dB"
        click.echo(f"wrote {job_out} ({sum(record['files'].values()):,} bytes; "
                   f"max abs diff {a['max_abs_diff']:.3g}, PSNR {psnr}; "
                   f"sidecar {job_out.rstrip('/')}.json)")  # fmt: skip
    sys.exit(1 if failed else 0)


def _export_predictor(model, fmt, quantize, size, output, overwrite) -> None:
    """`export --predictor`: the style predictor as TFLite or TF.js; exits 2 on bad
    options, 1 when the export fails."""
    import os

    from keras_stylize.cli.quiet import quiet_stderr
    from keras_stylize.export import ExportMismatchError, export_predictor
    from keras_stylize.export.predictor import check_predictor_export
    from keras_stylize.export.verify import check_export_output

    if size:
        click.echo("error: --predictor exports are always resizable; --size is for generators",
                   err=True)  # fmt: skip
        sys.exit(2)
    try:
        check_predictor_export(fmt, quantize)
        check_export_output(output, fmt, overwrite, (model if os.path.exists(model) else None,))
    except (ValueError, OSError) as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") != "0"
    try:
        with quiet_stderr(quiet):
            record = export_predictor(model, output, fmt, quantize, overwrite=overwrite)
    except (ExportMismatchError, ValueError, OSError, LookupError, RuntimeError) as exc:
        click.echo(f"error: {output}: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    psnr = record["agreement"]["psnr_db"]
    psnr = "inf" if psnr is None else f"{psnr:.1f} dB"
    click.echo(f"wrote {output} ({sum(record['files'].values()):,} bytes; stylization PSNR "
               f"{psnr} against Keras; sidecar {output}.json)")  # fmt: skip
