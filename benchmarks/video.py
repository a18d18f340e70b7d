"""Video stylization speed: frames per second for 480p and 720p clips.

    python benchmarks/video.py [--model starry_night_johnson] [--frames 12]

Generates each clip (a slow pan across the bundled photo, H.264, no outside video),
stylizes it with `keras_stylize.video.stylize.stylize_video` for each precision and batch size
and prints the frames per second of the whole job (decode, stylize, encode), then the
stabilizer's own cost per frame (`--stabilize 8`: flow, warps, detail). On a GPU,
larger `--batch-size` and `--precision float16` (the default there) raise throughput;
on this project's 2-core CPU the network dominates. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PHOTO = Path(__file__).resolve().parents[1] / "keras_stylize" / "assets" / "kodim23.jpg"
SIZES = {"480p": (854, 480), "720p": (1280, 720)}


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = 24) -> None:
    """A pan across the bundled photo, enlarged to cover `width` x `height` plus the pan."""
    import av

    photo = Image.open(PHOTO).convert("RGB")
    scale = max((width + 2 * frames) / photo.width, height / photo.height)
    big = np.asarray(photo.resize((round(photo.width * scale) + 1,
                                   round(photo.height * scale) + 1)))  # fmt: skip
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(big[:height, 2 * t : 2 * t + width]), format="rgb24"
            )
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def stabilizer_ms(clip: Path, interval: int = 8) -> float:
    """Milliseconds per frame of `Stabilizer(interval)` on the clip's frames (each frame
    standing in for its stylization; the cost does not depend on the pixels)."""
    import av

    from keras_stylize.video.stabilizer import Stabilizer

    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    stabilizer = Stabilizer(interval)
    stabilizer(frames[0], frames[0])
    start = time.perf_counter()
    for frame in frames[1:]:
        stabilizer(frame, frame)
    return 1000 * (time.perf_counter() - start) / (len(frames) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starry_night_johnson")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args()

    from keras_stylize.video.stylize import stylize_video
    from keras_stylize.zoo import load_generator

    generator = load_generator(args.model)
    print(f"load average: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()}); {args.model}, "
          f"{args.frames} frames per clip")  # fmt: skip
    print("| clip | precision | batch | fps |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            clip = Path(tmp) / f"{size}.mp4"
            make_clip(clip, *SIZES[size], args.frames)
            for precision in args.precisions:
                for batch in args.batch_sizes:
                    target = Path(tmp) / f"{size}_{precision}_{batch}.mp4"
                    # warm-up: trace the graph for this size and batch
                    stylize_video(clip, target, generator, batch_size=batch,
                                  precision=precision, overwrite=True)  # fmt: skip
                    start = time.perf_counter()
                    report = stylize_video(clip, target, generator, batch_size=batch,
                                           precision=precision, overwrite=True)  # fmt: skip
                    fps = report.frames / (time.perf_counter() - start)
                    print(f"| {size} | {precision} | {batch} | {fps:.2f} |", flush=True)
        for size in args.sizes:
            ms = stabilizer_ms(Path(tmp) / f"{size}.mp4")
            print(f"stabilizer (--stabilize 8), {size}: {ms:.0f} ms per frame")


if __name__ == "__main__":
    main()
