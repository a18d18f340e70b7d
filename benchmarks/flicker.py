"""Flicker of stylized video, with and without the stabilizer, on clips of known motion.

    python benchmarks/flicker.py --photo ../shared/data/content_eval/budgie_roman_colosseum.jpg

Three clips are generated from one still photo, so the true motion is known exactly: a
slow pan (2 px per frame to the left), a slow zoom (1 % per frame into the centre), and a
moving object (a square cut from the photo sliding 3 px per frame to the right over the
still, mirrored photo: a motion that no single camera motion explains). Each frame is
stylized with the zoo model (float32), then passed through
`keras_stylize.video.stabilizer.Stabilizer` at several keyframe intervals (the motion is
estimated from the input frames, as on a real video; the known motion is used only to
score). Warping error: mean absolute difference (grey levels) between frame t+1 and frame t
moved by the known motion, over the pixels both frames see (for the object clip: not the
background it uncovers or covers, nor 2 px around its edge), averaged over the clip. It
is printed for the input clip itself (resampling alone), plain per-frame stylization and
each interval, with the style loss per frame (the model's training loss, mean over frames),
also relative to plain stylization. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def pan_clip(photo: Image.Image, size: tuple[int, int], frames: int, step: int = 2):
    """Frames of a pan: crops moving `step` px right per frame (content moves left)."""
    w, h = size
    scale = max((w + step * frames) / photo.width, h / photo.height)
    big = photo.resize((round(photo.width * scale) + 1, round(photo.height * scale) + 1),
                       Image.Resampling.LANCZOS)  # fmt: skip
    array = np.asarray(big)
    top = (array.shape[0] - h) // 2
    return [array[top : top + h, step * t : step * t + w] for t in range(frames)]


def zoom_clip(photo: Image.Image, size: tuple[int, int], frames: int, rate: float = 1.01):
    """Frames of a zoom into the centre by `rate` per frame."""
    w, h = size
    scale = max(w / photo.width, h / photo.height)
    base = photo.resize((round(photo.width * scale), round(photo.height * scale)),
                        Image.Resampling.LANCZOS)  # fmt: skip
    cx, cy = base.width / 2, base.height / 2
    out = []
    for t in range(frames):
        z = rate**t
        box = (cx - w / 2 / z, cy - h / 2 / z, cx + w / 2 / z, cy + h / 2 / z)
        out.append(np.asarray(base.resize((w, h), Image.Resampling.LANCZOS, box=box)))
    return out


OBJECT_SIDE, OBJECT_STEP = 96, 3


def _object_left(t: int) -> int:
    return 24 + OBJECT_STEP * t


def object_clip(photo: Image.Image, size: tuple[int, int], frames: int):
    """Frames of a square cut from the photo's centre sliding right over the mirrored photo."""
    w, h = size
    scale = max(w / photo.width, h / photo.height)
    base = np.asarray(photo.resize((round(photo.width * scale), round(photo.height * scale)),
                                   Image.Resampling.LANCZOS))  # fmt: skip
    top, left = (base.shape[0] - h) // 2, (base.shape[1] - w) // 2
    background = base[top : top + h, left : left + w][:, ::-1]
    cy, cx, half = base.shape[0] // 2, base.shape[1] // 2, OBJECT_SIDE // 2
    square = base[cy - half : cy + half, cx - half : cx + half]
    y0 = (h - OBJECT_SIDE) // 2
    out = []
    for t in range(frames):
        frame = background.copy()
        x0 = _object_left(t)
        frame[y0 : y0 + OBJECT_SIDE, x0 : x0 + OBJECT_SIDE] = square
        out.append(frame)
    return out


def _object_error(a: np.ndarray, b: np.ndarray, t: int) -> float:
    """|b - a moved| where frame t (a) -> t+1 (b) moves the object by OBJECT_STEP px."""
    h, w, _ = a.shape
    y0, margin = (h - OBJECT_SIDE) // 2, 2
    inside = np.zeros((h, w), bool)  # object pixels of b, away from its edge
    x1 = _object_left(t + 1)
    inside[y0 + margin : y0 + OBJECT_SIDE - margin, x1 + margin : x1 + OBJECT_SIDE - margin] = True
    covered = np.zeros((h, w), bool)  # background pixels hidden in a or b, with a margin
    for x in (_object_left(t), x1):
        covered[max(0, y0 - margin) : y0 + OBJECT_SIDE + margin,
                max(0, x - margin) : x + OBJECT_SIDE + margin] = True  # fmt: skip
    moved = np.zeros_like(a)
    moved[:, OBJECT_STEP:] = a[:, :-OBJECT_STEP]  # what a showed OBJECT_STEP px to the left
    diff = np.abs(b - np.where(inside[..., None], moved, a)).mean(axis=2)
    return float(diff[inside | ~covered].mean())


def warping_error(frames: list[np.ndarray], motion: str, step: int = 2, rate: float = 1.01):
    """Mean |frame[t+1] - frame[t] moved by the known motion| over the shared pixels."""
    import cv2

    errors = []
    for t, (a, b) in enumerate(zip(frames, frames[1:], strict=False)):
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        h, w, _ = a.shape
        if motion == "object":
            errors.append(_object_error(a, b, t))
            continue
        if motion == "pan":  # b[:, x] shows what a showed at x + step
            errors.append(np.abs(b[:, : w - step] - a[:, step:]).mean())
            continue
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        cx, cy = w / 2, h / 2  # b at p shows what a showed at c + (p - c) / rate
        map_x, map_y = cx + (xs + 0.5 - cx) / rate - 0.5, cy + (ys + 0.5 - cy) / rate - 0.5
        moved = cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR)
        margin = 2
        errors.append(np.abs(b - moved)[margin:-margin, margin:-margin].mean())
    return float(np.mean(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", required=True)
    parser.add_argument(
        "--model",
        default="starry_night_johnson",
        help="a zoo name, or a RUN.keras file (with --run-json)",
    )
    parser.add_argument("--run-json", help="the run.json of a RUN.keras model "
                        "[default: RUN.logs/run.json]")  # fmt: skip
    parser.add_argument("--size", default="384x256", help="WxH of the clips")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--intervals", nargs="+", type=int, default=[4, 8, 12],
                        help="keyframe intervals of the stabilizer")  # fmt: skip
    parser.add_argument("--clips", default="pan,zoom,object")
    parser.add_argument("--strip", help="save 4 consecutive pan frames: input, plain, "
                        "stabilized (interval 8)")  # fmt: skip
    args = parser.parse_args()

    from keras_stylize import zoo
    from keras_stylize.evaluation import loss_for_recipe, loss_for_run
    from keras_stylize.inference.session import session_for
    from keras_stylize.video.stabilizer import Stabilizer
    from keras_stylize.zoo import load_generator

    generator = load_generator(args.model)
    session = session_for(generator, "float32")
    if args.model.endswith(".keras"):
        loss = loss_for_run(args.run_json or Path(args.model).with_suffix(".logs") / "run.json")
    else:
        card = zoo.info(args.model)
        loss = loss_for_recipe(card["recipe"], [zoo.root() / args.model / "style.jpg"])
    size = tuple(int(v) for v in args.size.split("x"))
    photo = Image.open(args.photo).convert("RGB")
    print(f"model {args.model}, photo {Path(args.photo).name}, {args.frames} frames of "
          f"{size[0]}x{size[1]}")  # fmt: skip
    print("| clip | frames | warping error | vs plain | style loss | vs plain |")
    print("|---|---|---|---|---|---|")
    clips = {"pan": pan_clip, "zoom": zoom_clip, "object": object_clip}
    for motion in args.clips.split(","):
        frames = clips[motion](photo, size, args.frames)
        stylized = [np.clip(session.run(f[None].astype(np.float32))[0], 0, 255)
                    for f in frames]  # fmt: skip
        content = np.stack(frames).astype(np.float32)

        def style_loss(outputs, content=content):
            return float(loss(content, np.stack(outputs).astype(np.float32))["style_loss"])

        plain_error, plain_style = warping_error(stylized, motion), style_loss(stylized)
        if args.strip and motion == "pan":
            stabilizer = Stabilizer(8)
            steady = [stabilizer(f, s) for f, s in zip(frames, stylized, strict=True)]
            rows = [np.concatenate(list(seq[8:12]), axis=1) for seq in (frames, stylized, steady)]
            strip = np.clip(np.concatenate(rows, axis=0) + 0.5, 0, 255).astype(np.uint8)
            Image.fromarray(strip).save(args.strip, quality=90)
        print(f"| {motion} | input | {warping_error(frames, motion):.2f} | - | - | - |")
        print(f"| {motion} | plain | {plain_error:.2f} | 1.00 | {plain_style:.3f} | 1.00 |")
        for interval in args.intervals:
            stabilizer = Stabilizer(interval)
            outputs = [stabilizer(f, s) for f, s in zip(frames, stylized, strict=True)]
            error, style = warping_error(outputs, motion), style_loss(outputs)
            print(f"| {motion} | stabilized {interval} | {error:.2f} | "
                  f"{error / plain_error:.2f} | {style:.3f} | {style / plain_style:.2f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
