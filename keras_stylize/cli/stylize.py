"""`keras_stylize stylize`: apply a style model to images, videos, folders or stdin."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from keras_stylize.cli.params import FiniteFloatRange
from keras_stylize.options import (
    DEFAULT_MAX_MEMORY_MB,
    DEFAULT_OVERLAP,
    DEFAULT_PRECISION,
    DEFAULT_QUALITY,
    DEFAULT_TILE,
    DEFAULT_VIDEO_BATCH,
    INFERENCE_PRECISIONS,
    STROKE_SCALES,
)

WRITABLE = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp"}


def _check_interval(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """`--stabilize`: 0 (off) or a keyframe interval of at least 2 frames."""
    if value == 1:
        raise click.BadParameter("0 (off) or a keyframe interval of at least 2 frames")
    return value


def _collect(inputs: tuple[str, ...], recursive: bool) -> list[tuple[str, Path | None]]:
    """(input, path relative to its folder argument or None) for every input."""
    from keras_stylize.images import IMAGE_EXTENSIONS, list_images
    from keras_stylize.video.stylize import VIDEO_EXTENSIONS

    items: list[tuple[str, Path | None]] = []
    for item in inputs:
        path = Path(item)
        if item != "-" and path.is_dir():
            found = list_images(path, recursive, IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
            if not found:
                items.append((item, None))  # reported as a failure below
            items.extend((str(p), p.relative_to(path)) for p in found)
        else:
            items.append((item, None))
    return items


def _output_for(item: str, relative: Path | None, out: str | None, single: bool, fmt: str | None):
    """The output path (or "-") for one input."""
    if out == "-":
        return "-"
    suffix = "." + fmt if fmt else None
    if out and single and Path(out).suffix and not Path(out).is_dir():
        return Path(out)  # a file name; format_for() rejects unsupported extensions
    folder = Path(out) if out else Path.cwd()
    source = Path("stdin.png") if item == "-" else Path(item)
    from keras_stylize.video.stylize import is_video

    if is_video(source):  # videos keep their container; --format is for images
        suffix = source.suffix.lower()
    if suffix is None:
        suffix = source.suffix.lower() if source.suffix.lower() in WRITABLE else ".jpg"
    name = f"{source.stem}_stylized{suffix}"
    return folder / (relative.parent / name if relative is not None else name)


@click.command(context_settings={"show_default": True})
@click.argument("inputs", nargs=-1, required=True)
@click.option("--model", "-m", required=True, help="Zoo name or .keras file.")
@click.option(
    "--style",
    "-s",
    default=None,
    help="For multi-style models: a style name or index, or a blend such as "
    "'starry_night:0.7,the_scream:0.3'; with a style predictor an entry may be a painting "
    "file ('starry_night:0.6,my_painting.jpg:0.4') [default: the first style].",
)
@click.option(
    "--style-image",
    type=click.Path(dir_okay=False),
    default=None,
    help="Any painting as the style, predicted in one pass (models trained with "
    "--style-prediction); same as --style PAINTING.",
)
@click.option(
    "--output",
    "-o",
    default=None,
    help="Output file (one input), folder, or '-' for stdout [default: current folder].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jpg", "png", "webp"]),
    default=None,
    help="Output format for folder/stdout outputs [default: the input's, else jpg; "
    "png for stdout].",
)
@click.option("--recursive", "-r", is_flag=True, help="Search folders recursively.")
@click.option(
    "--max-size",
    type=click.IntRange(min=32),
    default=None,
    help="Downscale the long side to at most this many px first.",
)
@click.option(
    "--strength",
    type=FiniteFloatRange(0, 1),
    default=1.0,
    help="Blend with the original: 0 = input, 1 = fully stylized.",
)
@click.option("--preserve-color", is_flag=True, help="Keep the input's colours (luminance only).")
@click.option(
    "--match-colors/--no-match-colors",
    default=None,
    help="Map the result's colours onto the painting's (one affine map of the colour mean "
    "and covariance) [default: on when the style is a painting, or a blend of paintings, "
    "and --preserve-color is off].",
)
@click.option(
    "--stroke-scale",
    type=FiniteFloatRange(*STROKE_SCALES),
    default=1.0,
    help="Stroke size relative to the model's own: 2 paints the image at half size and "
    "enlarges the painting back (strokes twice as large), 0.5 the other way.",
)
@click.option(
    "--tile",
    type=click.IntRange(min=0),
    default=None,
    help=f"Force tiles with this side, px, e.g. {DEFAULT_TILE} (unset: whole image if it fits "
    "--max-memory, else the largest tiles that fit; tiles share the whole image's statistics).",
)
@click.option(
    "--overlap",
    type=click.IntRange(min=0),
    default=DEFAULT_OVERLAP,
    help="Context around each tile, px.",
)
@click.option(
    "--max-memory",
    type=FiniteFloatRange(min=256),
    default=DEFAULT_MAX_MEMORY_MB,
    help="Memory budget of the process, MB; larger images are stylized in tiles.",
    show_default=True,
)
@click.option(
    "--precision",
    type=click.Choice(INFERENCE_PRECISIONS),
    default=DEFAULT_PRECISION,
    show_default=True,
    help="Compute precision; auto = bfloat16 on CPUs with native bfloat16 (not for texture "
    "networks), float16 on GPUs, else float32.",
)
@click.option(
    "--keep-alpha", is_flag=True, help="Keep transparency (png/webp); default composites on white."
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=None,
    help="Decompression-bomb limit [default: Pillow's, about 89 megapixels].",
)
@click.option(
    "--quality", type=click.IntRange(1, 100), default=DEFAULT_QUALITY, help="JPEG/WebP quality."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_VIDEO_BATCH,
    help="Video frames per model call.",
)
@click.option(
    "--stabilize",
    type=click.IntRange(min=0),
    default=0,
    callback=_check_interval,
    is_flag=False,
    flag_value=8,
    show_default=True,
    metavar="[FRAMES]",
    help="Videos: keep the strokes on the moving content by carrying a keyframe's "
    "stylization along the motion, with a new keyframe every FRAMES frames (bare "
    "--stabilize: 8; 0 = off). Cuts a pan's flicker to about 0.1x and a zoom's to 0.3x "
    "at no cost in style.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def stylize(inputs, model, style, style_image, output, fmt, recursive, max_size, strength,
            preserve_color, match_colors, stroke_scale, tile, overlap, max_memory, precision,
            keep_alpha, max_pixels, quality, batch_size, stabilize, overwrite,
            as_json) -> None:  # fmt: skip
    """Stylize INPUTS (image or video files, folders, or '-' for stdin) with a style model.

    Videos (mp4, mov, mkv, webm, avi, m4v; needs the [video] extra) keep their size, frame
    rate, time stamps, rotation and audio; a corrupt packet is reported and skipped.

    Bad inputs are reported one line each on stderr and skipped; the exit code is 1 if
    any input failed. Outputs are written atomically, never replace an input, and replace
    an existing file only with --overwrite; two inputs that would write one output are
    refused before any work.
    """
    import warnings

    from PIL import Image
    from tqdm import tqdm

    # Pillow warns between its limit and twice it; open_image refuses those images itself.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

    from keras_stylize.files import check_output
    from keras_stylize.inference.stylize import colors_to_match
    from keras_stylize.video.stylize import is_video

    if style_image is not None:
        if style is not None:
            click.echo("error: give --style or --style-image, not both", err=True)
            sys.exit(2)
        style = Path(style_image)
    generator, style = _load(model, style)
    try:
        colors_to_match(style, match_colors, preserve_color)
    except ValueError as exc:
        click.echo(f"error: --match-colors: {exc}", err=True)
        sys.exit(2)
    items, targets = _plan(inputs, recursive, output, fmt)
    input_paths = [i for i, _ in items if i != "-"]
    records, failures = [], 0
    started = time.time()
    bar = tqdm(list(zip(items, targets, strict=True)), unit="img",
               disable=len(items) < 2 or None, file=sys.stderr)  # fmt: skip
    image_options = dict(style=style, max_size=max_size, strength=strength,
                         preserve_color=preserve_color, match_colors=match_colors,
                         stroke_scale=stroke_scale, tile=tile or None, overlap=overlap,
                         keep_alpha=keep_alpha, max_pixels=max_pixels, precision=precision,
                         max_memory=max_memory)  # fmt: skip
    video_options = dict(style=style, batch_size=batch_size, preserve_color=preserve_color,
                         match_colors=match_colors,
                         stroke_scale=stroke_scale, strength=strength, overwrite=overwrite,
                         precision=precision, stabilize=stabilize)  # fmt: skip
    for (item, _), target in bar:
        t0 = time.time()
        try:
            if item != "-" and Path(item).is_dir():
                raise ValueError(f"{item}: no image files in folder")
            if target != "-":
                check_output(target, input_paths, overwrite)
            if item != "-" and is_video(item):
                record = _video(item, target, generator, bar, video_options)
            else:
                record = _image(item, target, generator, fmt, quality, overwrite, image_options)
            records.append({"input": item, "output": str(target), **record,
                            "seconds": round(time.time() - t0, 3)})  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - report, skip, go on
            failures += 1
            message = " ".join(str(exc).split()) or type(exc).__name__
            if item not in message:
                message = f"{item}: {message}"
            bar.write(f"error: {message}", file=sys.stderr)
            records.append({"input": item, "error": message})
    if as_json and output != "-":
        summary = {"model": model, "files": records, "ok": len(items) - failures,
                   "failed": failures, "seconds": round(time.time() - started, 3)}  # fmt: skip
        click.echo(json.dumps(summary, indent=2))
    sys.exit(1 if failures else 0)


def _load(model: str, style):
    """`(generator, style)`: the generator of `model` and `style` resolved once (a
    painting is predicted here, not per image); exits 2 when either fails."""
    from keras_stylize.generators.styles import ResolvedStyle, style_vector
    from keras_stylize.images import ImageReadError
    from keras_stylize.inference.color_match import painting_colors
    from keras_stylize.inference.stylize import predictor_for
    from keras_stylize.zoo import load_generator

    try:
        generator = load_generator(model)
    except Exception as exc:  # noqa: BLE001 - any load failure is one clear line
        click.echo(f"error: cannot load model {model!r}: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    try:
        row = style_vector(generator, style, predictor_for(model, style))
        colors = painting_colors(style)
    except (ValueError, LookupError, ImageReadError, OSError) as exc:
        click.echo(f"error: --style: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    return generator, None if row is None else ResolvedStyle(row, colors)


def _plan(inputs: tuple[str, ...], recursive: bool, output: str | None, fmt: str | None):
    """`(items, targets)`: the inputs found and the output of each; exits 2 when the
    outputs do not go together (stdout for several inputs, one file for several, two
    inputs writing one output)."""
    from keras_stylize.files import check_collisions

    items = _collect(inputs, recursive)
    if output == "-" and len(items) != 1:
        click.echo("error: '-o -' (stdout) needs exactly one input", err=True)
        sys.exit(2)
    if output and len(items) > 1 and Path(output).suffix.lower() in WRITABLE:
        click.echo(f"error: -o {output} names one file but there are {len(items)} inputs; "
                   "give a folder", err=True)  # fmt: skip
        sys.exit(2)
    targets = [_output_for(item, relative, output, len(items) == 1, fmt)
               for item, relative in items]  # fmt: skip
    try:
        check_collisions((item, target) for (item, _), target in zip(items, targets, strict=True)
                         if target != "-" and not Path(item).is_dir())  # fmt: skip
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    return items, targets


def _video(item: str, target, generator, bar, options: dict) -> dict:
    """Stylizes the video `item` into `target`; its record for --json."""
    from tqdm import tqdm

    from keras_stylize.video.stylize import VideoError, is_video, stylize_video

    if target == "-" or not is_video(target):
        raise VideoError(f"{item}: a video needs a video output file or a folder")
    frames = tqdm(unit="frame", desc=Path(item).name, file=sys.stderr, disable=None,
                  leave=False)  # fmt: skip
    with frames:
        report = stylize_video(item, target, generator, on_frames=frames.update, **options)
    for skipped in report.skipped_packets:
        bar.write(f"warning: {item}: skipped a corrupt {skipped}", file=sys.stderr)
    return {"frames": report.frames, "size": [report.width, report.height],
            "skipped_packets": len(report.skipped_packets),
            "fps": round(report.frames_per_second, 2)}  # fmt: skip


def _image(item: str, target, generator, fmt, quality: int, overwrite: bool,
           options: dict) -> dict:  # fmt: skip
    """Stylizes the image `item` (or stdin, "-") into `target` (or stdout, "-"); its
    record for --json."""
    from keras_stylize.files import atomic_write_bytes
    from keras_stylize.images import encode_image, format_for
    from keras_stylize.inference.stylize import stylize

    file_format = format_for(target if target != "-" else "x." + (fmt or "png"))
    source = sys.stdin.buffer.read() if item == "-" else item
    image = stylize(source, generator, **options)
    data = encode_image(image, file_format, quality=quality)
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        atomic_write_bytes(target, data, overwrite=overwrite)
    return {"size": list(image.size)}
