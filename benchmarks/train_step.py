"""Training-step throughput: images/s of `StylizationModel` training, per configuration.

Each configuration runs in its own Python process (TensorFlow's thread pools can only be
set before it starts) and prints one row; nothing is asserted. Options measured:

- precision: `float32`, `mixed_bfloat16` (bf16 compute, float32 variables and losses),
  `mixed_float16`;
- `xla`: `jit_compile=True` for the whole train step;
- threads: TensorFlow's `intra_op,inter_op` pool sizes ("default" = TF's choice, which
  is one thread per core for both pools);
- family `loss_only`: a 1x1 convolution instead of a generator, so the step is the VGG19
  loss network alone (its share of a real step; and XLA, which cannot compile our
  generators' backward pass: TF has no XLA kernel for `ResizeNearestNeighborGrad`);
- data: `memory` feeds batches already in memory (the step alone); `pipeline` feeds the
  real `content_dataset` (JPEG decoding and resizing on the same cores), which needs
  `--content DIR`. If `pipeline` is as fast as `memory`, the pipeline never starves the
  step.

`loss@0` is the training loss of the untrained generator on one fixed batch, computed
under the configuration's precision (same initial weights everywhere): how far a
precision moves the loss itself.

Uses real VGG19 weights when they resolve (else random ones: same cost). Example, the
table of docs/benchmarks.md:

    python benchmarks/train_step.py --families johnson texture loss_only \\
        --configs float32 mixed_bfloat16 mixed_bfloat16:threads=2,1 mixed_bfloat16:pipeline \\
        --content ../shared/data/content
    python benchmarks/train_step.py --families loss_only --configs float32:xla mixed_bfloat16:xla

A configuration is `PRECISION[:xla][:threads=INTRA,INTER][:pipeline]`. Measurements
taken while another job loads the CPU are meaningless; the 1-minute load average is
printed next to each row so that can be seen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def parse_config(text: str) -> dict:
    """`mixed_bfloat16:xla:threads=2,1:pipeline` -> a dict of options."""
    precision, *flags = text.split(":")
    config = {"precision": precision, "xla": False, "threads": None, "data": "memory"}
    for flag in flags:
        if flag == "xla":
            config["xla"] = True
        elif flag == "pipeline":
            config["data"] = "pipeline"
        elif flag.startswith("threads="):
            intra, inter = (int(v) for v in flag.split("=", 1)[1].split(","))
            config["threads"] = [intra, inter]
        else:
            raise SystemExit(f"unknown flag {flag!r} in configuration {text!r}")
    return config


def measure(family: str, config: dict, size: int, batch: int, steps: int, content: str) -> dict:
    """Runs in a fresh process: builds the model, warms up, times `steps` train steps."""
    import tensorflow as tf

    if config["threads"]:
        tf.config.threading.set_intra_op_parallelism_threads(config["threads"][0])
        tf.config.threading.set_inter_op_parallelism_threads(config["threads"][1])
    import keras
    import numpy as np

    from keras_stylize.perceptual.loss import PerceptualLoss
    from keras_stylize.perceptual.weights import VGGWeightsError
    from keras_stylize.training.config import FitConfig
    from keras_stylize.training.data import content_dataset
    from keras_stylize.training.fit import build_generator
    from keras_stylize.training.model import StylizationModel

    keras.mixed_precision.set_global_policy(config["precision"])
    keras.utils.set_random_seed(0)  # the same initial weights under every precision
    if family == "loss_only":  # a 1x1 convolution: the step is the VGG loss network alone
        inputs = keras.Input((None, None, 3))
        outputs = keras.layers.Conv2D(3, 1, dtype="float32")(inputs)
        generator = keras.Model(inputs, outputs)
    else:
        generator = build_generator(FitConfig(style="-", content="-", out="x.keras", family=family))
    rng = np.random.default_rng(0)
    style = rng.uniform(0, 255, (1, 384, 384, 3)).astype("float32")
    try:
        model = StylizationModel(generator, PerceptualLoss(style))
        vgg = "imagenet"
    except VGGWeightsError:
        model = StylizationModel(generator, PerceptualLoss(style, vgg_weights=None))
        vgg = "random"
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=config["xla"])
    if config["data"] == "pipeline":
        dataset, _ = content_dataset(content, size, batch, seed=0)
    else:
        images = rng.uniform(0, 255, (batch * 4, size, size, 3)).astype("float32")
        dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch).repeat().prefetch(2)
    probe = tf.constant(rng.uniform(0, 255, (batch, size, size, 3)).astype("float32"))
    initial_loss = float(model.perceptual_loss(probe, generator(probe))["loss"])
    warmup = 3  # tracing and the first steps are not timed
    ends: list[float] = []
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter())
    )
    model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps, verbose=0, callbacks=[clock])
    seconds = ends[-1] - ends[warmup - 1]
    return {"images_per_s": batch * steps / seconds, "s_per_step": seconds / steps, "vgg": vgg,
            "initial_loss": initial_loss}  # fmt: skip


def label(config: dict) -> str:
    threads = "default" if not config["threads"] else ",".join(map(str, config["threads"]))
    return f"{config['precision']:15} {str(config['xla']):5} {threads:8} {config['data']:8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--families", nargs="+", default=["johnson", "texture"])
    parser.add_argument("--configs", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--content", default=None, help="content folder (for :pipeline)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: "family|config"
    args = parser.parse_args()
    if args.one:
        family, text = args.one.split("|")
        result = measure(family, parse_config(text), args.size, args.batch, args.steps,
                         args.content)  # fmt: skip
        print("RESULT " + json.dumps(result), flush=True)
        return
    configs = [parse_config(text) for text in args.configs]
    if any(c["data"] == "pipeline" for c in configs) and not args.content:
        raise SystemExit("a :pipeline configuration needs --content DIR")
    print(f"{args.size}x{args.size}, batch {args.batch}, {args.steps} timed steps after 3 "
          f"warm-up steps; {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'family':8} {'precision':15} {'xla':5} {'threads':8} {'data':8} "
          f"{'images/s':>8} {'s/step':>7} {'loss@0':>8} {'load':>5}")  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for family in args.families:
        for text, config in zip(args.configs, configs, strict=True):
            load = os.getloadavg()[0]
            command = [sys.executable, __file__, "--one", f"{family}|{text}",
                       "--size", str(args.size), "--batch", str(args.batch),
                       "--steps", str(args.steps)]  # fmt: skip
            if args.content:
                command += ["--content", args.content]
            run = subprocess.run(command, capture_output=True, text=True, env=env)
            lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
            if run.returncode or not lines:
                print(f"{family:8} {label(config)} failed: {run.stderr.strip()[-300:]}")
                continue
            r = json.loads(lines[-1][7:])
            row = f"{r['images_per_s']:8.2f} {r['s_per_step']:7.2f} {r['initial_loss']:8.4f}"
            print(f"{family:8} {label(config)} {row} {load:5.2f}", flush=True)


if __name__ == "__main__":
    main()
