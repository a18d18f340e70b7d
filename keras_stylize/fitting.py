"""`fit_style`: the whole training job behind `keras_stylize fit`.

One `FitConfig` describes a run; `fit_style(config)` builds the generator, data and
loss network, trains with `StylizationModel.fit` and the standard callbacks, and saves
the generator alone as a `.keras` file (atomically: temporary file + rename). Running
the same config again after an interruption resumes from the last checkpoint in
`<log_dir>/checkpoints`; the checkpoint interval is one "epoch" of `steps_per_epoch`
steps. The log dir also holds `history.csv` (Keras `CSVLogger`), TensorBoard scalars,
sample images, and `run.json` (the config, VGG weights provenance, versions).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras

from keras_stylize.callbacks import ResumableCheckpoint, SampleImages
from keras_stylize.data import content_dataset, load_style_image
from keras_stylize.generators import FAMILIES
from keras_stylize.images import atomic_write, atomic_write_bytes
from keras_stylize.training import StylizationModel
from keras_stylize.vgg_layers import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; no model was written."""


@dataclass
class FitConfig:
    """Everything that defines a training run (all paths as strings)."""

    style: str
    content: str
    out: str
    family: str = "johnson"
    norm: str = "instance"
    width: float = 1.0
    image_size: int = 256
    batch_size: int = 4
    steps: int = 2000
    steps_per_epoch: int = 100
    learning_rate: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 0.5
    tv_weight: float = 1e-4
    content_layer: str = DEFAULT_CONTENT_LAYER
    style_layers: list[str] = field(default_factory=lambda: list(DEFAULT_STYLE_LAYERS))
    style_size: int | None = 384
    vgg_weights: str | None = None
    random_vgg: bool = False
    seed: int = 0
    log_dir: str | None = None
    precision: str = "float32"
    sample_every: int = 1

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {sorted(FAMILIES)}, not {self.family!r}")
        if self.steps < 1 or self.steps_per_epoch < 1 or self.batch_size < 1:
            raise ValueError("steps, steps_per_epoch and batch_size must be >= 1")
        if not str(self.out).endswith(".keras"):
            raise ValueError(f"--out must end with .keras: {self.out}")
        if self.precision not in ("float32", "mixed_float16", "mixed_bfloat16"):
            raise ValueError(f"unknown precision {self.precision!r}")

    @property
    def resolved_log_dir(self) -> Path:
        return Path(self.log_dir) if self.log_dir else Path(self.out).with_suffix(".logs")


def build_generator(config: FitConfig) -> keras.Model:
    """The generator a config asks for."""
    if config.family == "johnson":
        return FAMILIES["johnson"](norm=config.norm, width=config.width)
    return FAMILIES["texture"](norm=config.norm)


def float32_copy(model: keras.Model) -> keras.Model:
    """The same functional model with every mixed-precision dtype policy set to float32.

    A model trained under `mixed_bfloat16`/`mixed_float16` stores that policy in each
    layer's config; saved as is, it would run in 16-bit at inference and its exports would
    contain 16-bit ops (bfloat16 `MirrorPad` is not a TFLite builtin). Weights are float32
    in both and are copied unchanged.
    """

    def fix(obj):
        if isinstance(obj, dict):
            name = (
                obj.get("config", {}).get("name")
                if obj.get("class_name") == "DTypePolicy"
                else None
            )
            if isinstance(name, str) and name.startswith("mixed_"):
                obj = {**obj, "config": {**obj["config"], "name": "float32"}}
            return {key: fix(value) for key, value in obj.items()}
        if isinstance(obj, list):
            return [fix(value) for value in obj]
        return obj

    copy = model.__class__.from_config(fix(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def save_generator_atomically(generator: keras.Model, path: str | os.PathLike) -> None:
    """Saves a `.keras` file through a temporary file in the same folder and a rename."""
    atomic_write(path, generator.save, suffix=".keras")


def fit_style(config: FitConfig, verbose: int | str = "auto", strategy=None) -> dict:
    """Trains a generator as `config` says; returns a summary dict (also in `run.json`).

    Raises:
        data.DataError: no readable content image.
        vgg_weights.VGGWeightsError: no VGG19 weights.
        TrainingDivergedError: the loss became NaN.
    """
    log_dir = config.resolved_log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        dataset, report = content_dataset(
            config.content, config.image_size, config.batch_size, seed=config.seed
        )
        style = load_style_image(config.style, config.style_size)
        strategy = strategy or _default_strategy()
        with strategy.scope():
            generator = build_generator(config)
            model = StylizationModel(
                generator, style,
                content_layer=config.content_layer, style_layers=config.style_layers,
                content_weight=config.content_weight, style_weight=config.style_weight,
                tv_weight=config.tv_weight, vgg_weights=None if config.random_vgg else "imagenet",
                vgg_weights_path=config.vgg_weights,
            )  # fmt: skip
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        samples = next(iter(dataset.unbatch().batch(2))).numpy()  # fixed sample images
        checkpoint = ResumableCheckpoint(log_dir / "checkpoints")
        epochs = math.ceil(config.steps / config.steps_per_epoch)
        callbacks = [
            checkpoint,
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.CSVLogger(str(log_dir / "history.csv"), append=True),
            keras.callbacks.TensorBoard(
                str(log_dir), update_freq=max(1, config.steps_per_epoch // 10)
            ),
            SampleImages(samples, log_dir, every_n_epochs=config.sample_every),
        ]
        started = time.time()
        history = model.fit(
            dataset, epochs=epochs, steps_per_epoch=config.steps_per_epoch,
            callbacks=callbacks, verbose=verbose, shuffle=False,
        )  # fmt: skip
        seconds = time.time() - started
        last = {k: float(v[-1]) for k, v in history.history.items() if v}
        finished_before = not last and checkpoint.restored_epoch >= epochs
        if not finished_before and (not last or not all(map(math.isfinite, last.values()))):
            raise TrainingDivergedError(
                f"training stopped: loss is not finite ({last}); no model written. "
                f"Last good checkpoint: {log_dir / 'checkpoints'}"
            )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    save_generator_atomically(float32_copy(generator), config.out)
    summary = {
        "config": dataclasses.asdict(config),
        "out": str(config.out),
        "resumed_from_epoch": checkpoint.restored_epoch,
        "steps_done": int(model.optimizer.iterations.numpy()),
        "seconds_this_run": round(seconds, 1),
        "train_seconds_total": round(checkpoint.train_seconds, 1),
        "final_metrics": last,
        "content_images": len(report.files),
        "skipped_content_files": report.skipped,
        "vgg19_weights": model.vgg_weights_info.to_dict() if model.vgg_weights_info else "random",
        "versions": {
            "keras": keras.__version__,
            "tensorflow": _tf_version(),
            "python": platform.python_version(),
        },  # fmt: skip
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "report": report.summary(),
    }
    atomic_write_bytes(log_dir / "run.json", json.dumps(summary, indent=2).encode())
    return summary


def _default_strategy():
    import tensorflow as tf

    return tf.distribute.get_strategy()


def _tf_version() -> str:
    import tensorflow as tf

    return tf.__version__
