"""Training-step throughput: images/s of one StylizationModel.train_step, per family.

Prints a table (not asserted anywhere). Uses the real VGG19 weights if they resolve,
else random ones (same cost). Example:

    python benchmarks/train_step.py --size 256 --batch 4 --precision float32 mixed_bfloat16

Measurements taken while another job loads the CPU are meaningless; the script prints
the 1-minute load average next to the figures so that can be seen.
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np


def measure(family: str, precision: str, size: int, batch: int, steps: int, jit: bool) -> float:
    from keras_stylize.fitting import FitConfig, build_generator
    from keras_stylize.training import StylizationModel

    keras.mixed_precision.set_global_policy(precision)
    try:
        config = FitConfig(style="-", content="-", out="x.keras", family=family)
        generator = build_generator(config)
        rng = np.random.default_rng(0)
        style = rng.uniform(0, 255, (1, 384, 384, 3)).astype("float32")
        model = StylizationModel(generator, style, vgg_weights=None)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
        images = rng.uniform(0, 255, (batch * (steps + 2), size, size, 3)).astype("float32")
        model.fit(images[: batch * 2], batch_size=batch, epochs=1, verbose=0)  # warm-up/trace
        start = time.perf_counter()
        model.fit(images[batch * 2 :], batch_size=batch, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return batch * steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--families", nargs="+", default=["johnson", "texture"])
    parser.add_argument("--precision", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--jit", action="store_true", help="also measure XLA (jit_compile)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()})")
    print(f"{'family':10} {'precision':16} {'xla':4} {'images/s':>9} {'s/step':>7}")
    for family in args.families:
        for precision in args.precision:
            for jit in [False, True] if args.jit else [False]:
                ips = measure(family, precision, args.size, args.batch, args.steps, jit)
                print(
                    f"{family:10} {precision:16} {str(jit):4} {ips:9.2f} {args.batch / ips:7.2f}",
                    flush=True,
                )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
