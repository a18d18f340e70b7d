"""Stylization speed, memory with tiling, and tiled-vs-whole agreement.

    python benchmarks/stylize.py speed                      # ms/image, 256/512/1024 px
    python benchmarks/stylize.py memory --sizes 1024x1024 2048x2048   # whole-image peak RSS
    python benchmarks/stylize.py memory --sizes 6000x4000 --max-memory 2048  # automatic
    python benchmarks/stylize.py tiling --model NAME_OR_PATH --image PHOTO
    python benchmarks/stylize.py precision --photos ../shared/data/content_eval

Prints figures; asserts nothing. The 1-minute load average is printed so that runs
taken while something else uses the CPU can be recognised.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np


def _load(name: str):
    from keras_stylize import johnson_generator, texture_net_generator
    from keras_stylize.zoo import load_generator

    if name == "johnson":
        return johnson_generator()
    if name == "texture":
        return texture_net_generator()
    return load_generator(name)


def speed(args) -> None:
    from keras_stylize.inference.stylize import stylize

    print(f"load average: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()})")
    print(f"{'model':10} {'precision':9} {'size':>6} {'ms/image':>9}")
    for name in args.models:
        generator = _load(name)
        for precision in args.precisions:
            for size in args.sizes:
                image = np.random.default_rng(0).integers(0, 256, (size, size, 3), np.uint8)
                options = {"precision": precision, "max_memory": None}
                stylize(image, generator, **options)  # warm-up (tracing, allocation)
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    stylize(image, generator, **options)
                    times.append(time.perf_counter() - start)
                print(f"{name:10} {precision:9} {size:6d} {1000 * np.median(times):9.0f}",
                      flush=True)  # fmt: skip


def memory(args) -> None:
    """Peak RSS of the whole process (TensorFlow included) per image size, each size in
    a fresh process: `--max-memory 0` forces the whole image at once."""
    if args.child:
        from keras_stylize.inference.stylize import stylize

        generator = _load(args.models[0])
        width, height = map(int, args.sizes[0].split("x"))
        image = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        stylize(image, generator, tile=args.tile, overlap=args.overlap, return_array=True,
                precision=args.precision, max_memory=args.max_memory or None)  # fmt: skip
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        mode = (
            "whole"
            if not (args.max_memory or args.tile)
            else (f"tile={args.tile}" if args.tile else f"budget {args.max_memory:.0f} MB")
        )
        print(f"{args.models[0]:8} {width}x{height} {width * height / 1e6:5.1f} MP "
              f"{args.precision:8} {mode:16} peak RSS {peak_mb:6.0f} MB (before the image "
              f"{before:.0f} MB)  {seconds:6.1f} s", flush=True)  # fmt: skip
        return
    print(f"load average: {os.getloadavg()[0]:.2f}")
    for name in args.models:
        for size in args.sizes:
            for precision in args.precisions:
                cmd = [sys.executable, __file__, "memory", "--child", "--models", name,
                       "--sizes", size, "--overlap", str(args.overlap), "--precision",
                       precision, "--max-memory", str(args.max_memory)]  # fmt: skip
                if args.tile:
                    cmd += ["--tile", str(args.tile)]
                subprocess.run(cmd, check=True)


def tiling(args) -> None:
    from PIL import Image

    from keras_stylize.inference.stylize import stylize

    generator = _load(args.model)
    image = Image.open(args.image).convert("RGB")
    image.thumbnail((args.size, args.size), Image.Resampling.LANCZOS)
    options = {"precision": "float32", "return_array": True}
    whole = stylize(image, generator, max_memory=None, **options).astype(np.float64)
    print(f"image {image.size[0]}x{image.size[1]}, model {args.model}")
    print(f"{'tile':>5} {'overlap':>7} {'mean|d|':>8} {'p99|d|':>7} {'PSNR dB':>8}")
    for tile in args.tiles:
        for overlap in args.overlaps:
            if overlap > tile // 2:
                continue
            tiled = stylize(image, generator, tile=tile, overlap=overlap, **options)
            d = np.abs(tiled.astype(np.float64) - whole)
            psnr = 10 * np.log10(255**2 / max(np.mean(d**2), 1e-12))
            print(
                f"{tile:5d} {overlap:7d} {d.mean():8.2f} {np.percentile(d, 99):7.1f} {psnr:8.1f}",
                flush=True,
            )


def precision(args) -> None:
    """PSNR of each reduced precision against float32 over a folder of photos."""
    from keras_stylize.evaluation import load_photo
    from keras_stylize.images import list_images
    from keras_stylize.inference.session import session_for

    photos = list_images(args.photos)
    print(f"{len(photos)} photos from {args.photos}, long side {args.size} px")
    print("| model | precision | mean PSNR | min PSNR |")
    print("|---|---|---|---|")
    for name in args.models:
        generator = _load(name)
        scores = {p: [] for p in args.precisions}
        for path in photos:
            x = load_photo(path, args.size)[None].astype(np.float32)
            reference = np.clip(np.round(session_for(generator, "float32").run(x)), 0, 255)
            for p in args.precisions:
                out = np.clip(np.round(session_for(generator, p).run(x)), 0, 255)
                mse = max(float(np.mean((out - reference) ** 2)), 1e-12)
                scores[p].append(10 * np.log10(255**2 / mse))
        for p, values in scores.items():
            print(f"| {name} | {p} | {np.mean(values):.1f} dB | {np.min(values):.1f} dB |",
                  flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--models", nargs="+", default=["johnson", "texture"])
    p.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024])
    p.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    p.add_argument("--repeats", type=int, default=5)
    p = sub.add_parser("memory")
    p.add_argument("--models", nargs="+", default=["johnson"])
    p.add_argument("--sizes", nargs="+", default=["1024x1024", "2048x2048"], help="WxH")
    p.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    p.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    p.add_argument("--max-memory", type=float, default=0, help="MB; 0: whole image")
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--overlap", type=int, default=128)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p = sub.add_parser("tiling")
    p.add_argument("--model", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--size", type=int, default=1024, help="long side of the test image")
    p.add_argument("--tiles", nargs="+", type=int, default=[256, 384, 512])
    p.add_argument("--overlaps", nargs="+", type=int, default=[32, 64, 128])
    p = sub.add_parser("precision")
    p.add_argument("--models", nargs="+", default=["starry_night_johnson", "starry_night_texture"])
    p.add_argument("--precisions", nargs="+", default=["bfloat16", "float16"])
    p.add_argument("--photos", required=True, help="folder of photos, e.g. content_eval")
    p.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    commands = {"speed": speed, "memory": memory, "tiling": tiling, "precision": precision}
    commands[args.command](args)


if __name__ == "__main__":
    main()
