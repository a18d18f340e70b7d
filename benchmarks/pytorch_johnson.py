"""The PyTorch reference of the large-photos issue, measured beside keras_stylize.

    python benchmarks/pytorch_johnson.py --torch-python /path/to/python-with-torch

The same Johnson + instance-norm network as `keras_stylize.johnson_generator()` (reflection
padding, no convolution bias before a normalization, affine instance norm, nearest
upsampling + convolution, linear output; the parameter counts are printed and must agree),
written in plain PyTorch the way its examples do. Each row runs in a fresh process, one
after the other, so every figure comes from the same machine state:

- peak RSS of the whole process for one image of 1024x1024 and 2048x2048 (PyTorch float32,
  PyTorch bfloat16 autocast + channels_last; keras_stylize float32 and bfloat16 through
  `benchmarks/stylize.py memory`);
- time per 512x512 image, median of `--repeats` after warm-up (the same four
  configurations; keras_stylize through `benchmarks/stylize.py speed`).

The project does not depend on PyTorch: `--torch-python` names a Python that has it (e.g.
a separate venv with `pip install torch numpy`). Prints figures; asserts nothing. Take it
with nothing else running (the 1-minute load average is printed).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build_torch_johnson():
    """The PyTorch network, float32 RGB `(N, 3, H, W)` in [0, 255] in and out."""
    import torch
    from torch import nn

    def conv(cin, cout, k, stride=1, norm=True):
        layers = [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride, bias=not norm)]
        return layers + ([nn.InstanceNorm2d(cout, affine=True, eps=1e-3)] if norm else [])

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(*conv(c, c, 3), nn.ReLU(), *conv(c, c, 3))

        def forward(self, x):
            return x + self.body(x)

    class Johnson(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                *conv(3, 32, 9), nn.ReLU(), *conv(32, 64, 3, 2), nn.ReLU(),
                *conv(64, 128, 3, 2), nn.ReLU(), *[Residual(128) for _ in range(5)],
                nn.Upsample(scale_factor=2, mode="nearest"), *conv(128, 64, 3), nn.ReLU(),
                nn.Upsample(scale_factor=2, mode="nearest"), *conv(64, 32, 3), nn.ReLU(),
                *conv(32, 3, 9, norm=False),
            )  # fmt: skip

        def forward(self, x):
            y = self.net(x / 127.5 - 1.0)
            return torch.clamp(127.5 * (y.float() + 1.0), 0.0, 255.0)

    return Johnson().eval()


def torch_child(args) -> None:
    import torch

    model = build_torch_johnson()
    params = sum(p.numel() for p in model.parameters())
    size = args.size
    x = torch.rand(1, 3, size, size) * 255
    bf16 = args.precision == "bfloat16"
    if bf16:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def run():
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return model(x)

    label = f"pytorch {torch.__version__} {args.precision}{' channels_last' if bf16 else ''}"
    if args.what == "memory":
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        threads = torch.get_num_threads()
        print(f"{label:40} {size}x{size} peak RSS {peak:6.0f} MB  {seconds:6.1f} s  "
              f"({params:,} parameters, {threads} threads)", flush=True)  # fmt: skip
        return
    for _ in range(3):
        run()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"{label:40} {size}x{size} {1000 * times[len(times) // 2]:6.0f} ms/image", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", default=sys.executable)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--child", choices=["memory", "time"], dest="what", default=None)
    parser.add_argument("--size", type=int, default=512, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.what:
        torch_child(args)
        return
    print(f"load average: {os.getloadavg()[0]:.2f} (cpus: {os.cpu_count()})", flush=True)
    from keras_stylize import johnson_generator

    print(f"keras_stylize johnson_generator(): {johnson_generator().count_params():,} parameters")

    def torch_row(what, size, precision):
        subprocess.run([args.torch_python, __file__, "--child", what, "--size", str(size),
                        "--precision", precision, "--repeats", str(args.repeats)],
                       check=True)  # fmt: skip

    ours = [sys.executable, str(HERE / "stylize.py")]
    print("\n== peak RSS, one image, whole, fresh process each")
    for size in (1024, 2048):
        for precision in ("float32", "bfloat16"):
            torch_row("memory", size, precision)
        subprocess.run([*ours, "memory", "--models", "johnson", "--sizes", f"{size}x{size}"],
                       check=True)  # fmt: skip
    print("\n== time per 512x512 image")
    for precision in ("float32", "bfloat16"):
        torch_row("time", 512, precision)
    subprocess.run([*ours, "speed", "--models", "johnson", "--sizes", "512",
                    "--repeats", str(args.repeats)], check=True)  # fmt: skip


if __name__ == "__main__":
    main()
