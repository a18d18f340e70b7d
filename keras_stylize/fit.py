"""`fit_style`: the whole training job behind `keras_stylize fit`.

One `FitConfig` describes a run. `fit_style(config)` builds the generator, the content
data and the `PerceptualLoss` (`build_training`), trains a `StylizationModel` with
`model.fit` and the callbacks of `make_callbacks`, and saves the generator alone as a
`.keras` file (atomically: temporary file + rename). Exactly `config.steps` optimizer
steps are made. Running the same config again after an interruption resumes from the
checkpoint file `<log_dir>/checkpoint.npz` (written every `steps_per_epoch` steps); a
checkpoint of other settings is refused (`check_resume`), and an existing output that is not
the run's own is replaced only with `overwrite`. The
log dir also holds `history.csv` (Keras `CSVLogger`), TensorBoard scalars, sample images,
and `run.json` (the config, VGG weights provenance, versions).

Several style images make a multi-style generator (conditional instance normalization):
each image of a batch gets one style, drawn at random, and is scored against that
style's Gram targets. `init_from` adds the styles to an existing multi-style model and
trains only their normalization parameters (everything else frozen); a style the model
already has (same name) is not added again but has its own parameters trained on (e.g.
with another recipe setting), the other styles staying exactly as they were; `warm_start` starts
every weight of the new generator from a trained one of the same architecture (e.g. a
multi-style model from a single-style zoo model) and trains them all; a resumed run does not
read the warm-start model again (its checkpoint holds every weight).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_stylize.callbacks import (
    CHECKPOINT_FILE,
    PlainProgress,
    ResumableCheckpoint,
    SampleImages,
    StopAtStep,
    read_checkpoint_metadata,
)
from keras_stylize.data import content_dataset, load_style_image, with_style_weights
from keras_stylize.files import atomic_write, atomic_write_bytes, check_output
from keras_stylize.generators import FAMILIES
from keras_stylize.generators.extend import add_styles, warm_start
from keras_stylize.generators.texture_net import DEFAULT_RATIOS
from keras_stylize.images import list_images
from keras_stylize.options import (
    DARKENING_CELL,
    DARKENING_RATIO,
    DISTRIBUTE,
    NORMS,
    OUTPUTS,
    PRECISIONS,
)
from keras_stylize.perceptual_loss import PerceptualLoss
from keras_stylize.precision import float32_copy, resolve
from keras_stylize.stylization_model import StylizationModel
from keras_stylize.vgg_layers import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS

log = logging.getLogger("keras_stylize.fit")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; no model was written."""


@dataclass
class FitConfig:
    """Everything that defines a training run (all paths as strings).

    `style` is one path or a list of paths; each is a style image or a folder of them.
    One style image trains a single-style generator; several train a multi-style one
    (`norm="instance"` only) whose styles are named after the files. `style_shares` maps
    style names to their relative share of the training images (default 1 each).
    """

    style: list[str] | str
    content: str
    out: str
    family: str = "johnson"
    norm: str = "instance"
    output: str = "linear"
    width: float = 1.0
    scales: int = len(DEFAULT_RATIOS)  # texture family: 6, as in the paper
    image_size: int = 256
    batch_size: int = 4
    steps: int = 2000
    steps_per_epoch: int = 100
    learning_rate: float = 1e-3
    lr_decay_steps: int = 0
    content_weight: float = 1.0
    style_weight: float = 0.5
    tv_weight: float = 1e-4
    temporal_weight: float = 0.0
    kurtosis_weight: float = 0.0
    kurtosis_limit: float = 40.0
    darkening_weight: float = 0.0
    darkening_cell: int = DARKENING_CELL
    darkening_ratio: float = DARKENING_RATIO
    patch_weight: float = 0.0
    content_layer: str = DEFAULT_CONTENT_LAYER
    style_layers: list[str] | dict[str, float] = field(
        default_factory=lambda: list(DEFAULT_STYLE_LAYERS)
    )
    style_size: int | None = 384
    vgg_weights: str | None = None
    random_vgg: bool = False
    seed: int = 0
    log_dir: str | None = None
    precision: str = "float32"
    sample_every: int = 1
    init_from: str | None = None
    warm_start: str | None = None
    distribute: str = "none"
    style_shares: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        styles = [self.style] if isinstance(self.style, (str, os.PathLike)) else self.style
        self.style = [str(s) for s in styles]
        checks = [
            (self.family in FAMILIES, f"family must be one of {sorted(FAMILIES)}"),
            (self.norm in NORMS, f"norm must be one of {NORMS}, not {self.norm!r}"),
            (self.output in OUTPUTS, f"output must be one of {OUTPUTS}, not {self.output!r}"),
            (min(self.steps, self.steps_per_epoch, self.batch_size) >= 1,
             "steps, steps_per_epoch and batch_size must be >= 1"),
            (self.image_size >= 32, f"image_size must be >= 32, not {self.image_size}"),
            (self.scales >= 1, f"scales must be >= 1, not {self.scales}"),
            (self.family == "texture" or self.scales == len(DEFAULT_RATIOS),
             "--scales applies to --family texture only"),
            (str(self.out).endswith(".keras"), f"--out must end with .keras: {self.out}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (self.distribute in DISTRIBUTE, f"distribute must be one of {DISTRIBUTE}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, not {self.learning_rate}"),
            (0 <= self.lr_decay_steps <= self.steps,
             f"lr_decay_steps must be between 0 and steps ({self.steps}), "
             f"not {self.lr_decay_steps}"),
            (min(self.content_weight, self.style_weight, self.tv_weight,
                 self.temporal_weight, self.kurtosis_weight, self.darkening_weight,
                 self.patch_weight) >= 0,
             "loss weights must be >= 0"),
            (self.kurtosis_limit > 0, f"kurtosis_limit must be > 0, not {self.kurtosis_limit}"),
            (self.darkening_cell >= 1, f"darkening_cell must be >= 1, not {self.darkening_cell}"),
            (0 < self.darkening_ratio <= 1,
             f"darkening_ratio must be in (0, 1], not {self.darkening_ratio}"),
            (not (self.kurtosis_weight and self.norm == "none"),
             "--kurtosis-weight needs normalization layers (--norm instance or batch)"),
            (bool(self.style), "at least one --style is required"),
            (not (self.init_from and self.warm_start),
             "--from and --warm-start exclude each other"),
            (all(w >= 0 for w in self.style_shares.values()), "style shares must be >= 0"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def resolved_log_dir(self) -> Path:
        return Path(self.log_dir) if self.log_dir else Path(self.out).with_suffix(".logs")

    def command(self) -> str:
        """The `keras_stylize fit` command line of this config (options at their default
        values are left out)."""
        import shlex

        defaults = FitConfig(style=self.style, content=self.content, out=self.out)
        args = ["keras_stylize", "fit"]
        for style in self.style:
            args += ["--style", style]
        args += ["--content", self.content, "--out", self.out]
        flags = {"init_from": "--from", "style_shares": "--style-share"}
        for item in dataclasses.fields(self):
            key, value = item.name, getattr(self, item.name)
            if key in ("style", "content", "out") or value == getattr(defaults, key):
                continue
            flag = flags.get(key, "--" + key.replace("_", "-"))
            if key == "style_shares":
                for name, share in value.items():
                    args += [flag, f"{name}:{share:g}"]
                continue
            if key == "style_layers":
                pairs = value.items() if isinstance(value, dict) else ((v, 1.0) for v in value)
                value = ",".join(k if w == 1.0 else f"{k}:{w:g}" for k, w in pairs)
            if isinstance(value, bool):
                args += [flag] if value else []
            else:
                args += [flag, str(value)]
        return shlex.join(args)

    def style_files(self) -> list[Path]:
        """The style images, in order: files as given, folders expanded (sorted)."""
        files: list[Path] = []
        for entry in map(Path, self.style):
            if entry.is_dir():
                found = list_images(entry, recursive=False)
                if not found:
                    raise ValueError(f"no style images in folder {entry}")
                files.extend(found)
            elif entry.is_file():
                files.append(entry)
            else:
                raise ValueError(f"style image not found: {entry}")
        names = [f.stem for f in files]
        unknown = sorted(set(self.style_shares) - set(names))
        if unknown:
            raise ValueError(
                f"--style-share names unknown styles: {', '.join(unknown)} "
                f"(styles: {', '.join(names)})"
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"style names must be unique; repeated: {', '.join(duplicates)}")
        return files


def build_generator(config: FitConfig, style_names: list[str] | None = None) -> keras.Model:
    """The generator a config asks for (multi-style when `style_names` has 2+ names)."""
    multi = style_names is not None and len(style_names) > 1
    if multi and config.norm != "instance":
        raise ValueError("several styles need --norm instance (conditional instance norm)")
    kwargs: dict[str, Any] = {"norm": config.norm, "output": config.output}
    if multi:
        kwargs.update(num_styles=len(style_names), style_names=list(style_names))
    if config.family == "johnson":
        kwargs["width"] = config.width
        return FAMILIES[config.family](**kwargs)
    if config.width != 1.0:  # texture: 8 filters per scale at width 1, as in the paper
        kwargs["channels_per_scale"] = max(1, round(8 * config.width))
    kwargs["ratios"] = tuple(2**k for k in reversed(range(config.scales)))  # ..., 4, 2, 1
    return FAMILIES[config.family](**kwargs)


def learning_rate_schedule(config: FitConfig) -> float | keras.optimizers.schedules.CosineDecay:
    """The learning rate of a run: `config.learning_rate`, constant, then, over the last
    `config.lr_decay_steps` steps, a cosine decay to 0. The schedule reads the optimizer's
    step count, which a checkpoint restores, so a resumed run continues on the same curve."""
    if not config.lr_decay_steps:
        return config.learning_rate
    constant = config.steps - config.lr_decay_steps
    return keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=config.lr_decay_steps, alpha=0.0,
        warmup_target=config.learning_rate if constant else None, warmup_steps=constant,
    )  # fmt: skip


def warn_if_emulated(precision: str) -> bool:
    """Logs a warning and returns True when `precision` is `mixed_bfloat16` on a machine
    that would emulate it: where `precision.resolve("auto")` finds neither a GPU nor a CPU
    with AVX512-BF16/AMX. There a training step took 4.2x as long as in float32 (13.9
    against 3.3 s, docs/benchmarks.md)."""
    if precision != "mixed_bfloat16" or resolve("auto") != "float32":
        return False
    log.warning(
        "warning: this CPU has no native bfloat16 (AVX512-BF16/AMX) and there is no GPU: "
        "mixed_bfloat16 is emulated and about 4x slower than --precision float32"
    )
    return True


def save_generator_atomically(
    generator: keras.Model, path: str | os.PathLike, overwrite: bool = True
) -> None:
    """Saves a `.keras` file through a temporary file in the same folder and a rename
    (`overwrite=False`: never onto an existing file, `files.OutputExistsError`)."""
    atomic_write(path, generator.save, suffix=".keras", overwrite=overwrite)


# Settings a resumed run may change: the step budget and learning rate (not state: a
# resumed run follows the given schedule from the restored step count), where things are
# written, and how the same computation is run. Every other setting must match.
RESUMABLE_SETTINGS = ("steps", "learning_rate", "lr_decay_steps", "out", "log_dir",
                      "sample_every", "distribute", "precision", "vgg_weights")  # fmt: skip
_PATH_SETTINGS = ("style", "content", "init_from", "warm_start")
_OPTION_NAMES = {"init_from": "--from", "style_shares": "--style-share"}


def _same_path(a: Any, b: Any) -> bool:
    if a == b or a is None or b is None:
        return a == b
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def _comparable(key: str, value: Any) -> Any:
    if key == "style_layers" and isinstance(value, list):  # a list means weight 1 each
        return {name: 1.0 for name in value}
    return value


def config_differences(stored: dict, config: FitConfig) -> list[str]:
    """The settings of `config` that differ from a checkpoint's stored config (apart from
    `RESUMABLE_SETTINGS`), as `--option stored -> given` strings. A setting the stored
    config lacks (a checkpoint of an older version) counts as its default."""
    current = json.loads(json.dumps(dataclasses.asdict(config)))
    defaults = json.loads(json.dumps(dataclasses.asdict(
        FitConfig(style=config.style, content=config.content, out=config.out))))  # fmt: skip
    differences = []
    for key, value in current.items():
        if key in RESUMABLE_SETTINGS:
            continue
        old = _comparable(key, stored.get(key, defaults[key]))
        value = _comparable(key, value)
        if key in _PATH_SETTINGS:
            olds = old if isinstance(old, list) else [old]
            values = value if isinstance(value, list) else [value]
            same = len(olds) == len(values) and all(map(_same_path, olds, values))
        else:
            same = old == value
        if not same:
            name = _OPTION_NAMES.get(key, "--" + key.replace("_", "-"))
            differences.append(f"{name} {json.dumps(old)} -> {json.dumps(value)}")
    return differences


def check_resume(config: FitConfig, overwrite: bool = False) -> dict | None:
    """Before any work: the checkpoint metadata to resume from (None: a fresh start),
    after checking that the checkpoint was written by a run of the same settings and that
    `config.out` may be written.

    Raises:
        ValueError: the checkpoint is unreadable, or was written with other settings
            (the message names them and how to start afresh); `out` is an input.
        files.OutputExistsError: `out` exists, is not this run's own earlier output, and
            `overwrite` is not set.
    """
    path = config.resolved_log_dir / CHECKPOINT_FILE
    meta = read_checkpoint_metadata(path)
    stored = (meta or {}).get("extra", {}).get("config")
    if meta is not None and isinstance(stored, dict):
        differences = config_differences(stored, config)
        if differences:
            raise ValueError(
                f"{path} is the checkpoint of a run with other settings "
                f"({'; '.join(differences)}): not resumed. Run the same command to resume "
                "it, or give another --out or --log-dir to start afresh"
            )
    inputs = [*config.style_files(), config.init_from, config.warm_start, config.vgg_weights]
    own = meta is not None and _same_path(str((stored or {}).get("out")), config.out)
    check_output(config.out, inputs, overwrite=overwrite or own)
    return meta


def make_strategy(name: str):
    """The `tf.distribute` strategy for `FitConfig.distribute`: "none" (the default
    strategy), "mirrored" (every GPU of this machine) or "multiworker" (the machines of
    `TF_CONFIG`)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


@dataclass
class Training:
    """What `build_training` builds for a run."""

    model: StylizationModel
    generator: keras.Model
    style_names: list[str]
    trained_styles: list[int]  # style columns trained: all, or those given with --from
    dataset: Any
    report: Any
    samples: np.ndarray


def build_training(config: FitConfig, strategy, start_step: int = 0) -> Training:
    """Data, generator, loss and compiled `StylizationModel` for `config`, built under
    `strategy`; the data begins at batch `start_step` (a resumed run). Call with the run's
    dtype policy set."""
    files = config.style_files()
    styles = [load_style_image(f, config.style_size) for f in files]
    names = [f.stem for f in files]
    first, report = content_dataset(
        config.content, config.image_size, config.batch_size, seed=config.seed
    )
    samples = next(iter(first.unbatch().batch(2))).numpy()  # the same in every resume
    dataset, _ = content_dataset(
        config.content, config.image_size, config.batch_size, seed=config.seed, report=report,
        start_batch=start_step,
    )  # fmt: skip
    with strategy.scope():
        if config.init_from:
            from keras_stylize.inference import load_generator, style_names

            base = load_generator(config.init_from)
            known = style_names(base) or []
            added = [name for name in names if name not in known]
            generator = add_styles(base, added)[0] if added else base
            trained, names = names, style_names(generator)
            trained_styles = [names.index(name) for name in trained]
            # The loss needs every style's targets only for the column order; the styles
            # given are the only ones trained, so the others get placeholder targets.
            styles = [styles[trained.index(name)] if name in trained else styles[0]
                      for name in names]  # fmt: skip
        else:
            generator = build_generator(config, names)
            trained_styles = list(range(len(names)))
            if config.warm_start and start_step == 0:
                # (a resumed run's checkpoint restores every weight: the warm-start
                # model is needed only at the start, and may be gone since)
                from keras_stylize.inference import load_generator

                warm_start(generator, load_generator(config.warm_start))
        loss = PerceptualLoss(
            styles, content_layer=config.content_layer, style_layers=config.style_layers,
            content_weight=config.content_weight, style_weight=config.style_weight,
            tv_weight=config.tv_weight, vgg_weights=None if config.random_vgg else "imagenet",
            vgg_weights_path=config.vgg_weights,
        )  # fmt: skip
        model = StylizationModel(
            generator, loss, train_styles=trained_styles if config.init_from else None,
            temporal_weight=config.temporal_weight, motion_seed=config.seed,
            kurtosis_weight=config.kurtosis_weight, kurtosis_limit=config.kurtosis_limit,
            darkening_weight=config.darkening_weight, darkening_cell=config.darkening_cell,
            darkening_ratio=config.darkening_ratio,
            patch_weight=config.patch_weight,
        )  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(config)))
    if len(names) > 1:
        shares = [config.style_shares.get(names[i], 1.0) for i in trained_styles]
        dataset = with_style_weights(dataset, len(names), trained_styles, seed=config.seed,
                                     start_batch=start_step, shares=shares)  # fmt: skip
    dataset = split_global_batches(dataset, strategy, config.batch_size)
    return Training(model, generator, names, trained_styles, dataset, report, samples)


def split_global_batches(dataset, strategy, global_batch: int):
    """For several workers: every worker builds the same seeded dataset of global batches
    and feeds its replicas only its own slice of each, so the workers together train on
    exactly the batches a single machine would (instead of tf.data's auto-sharding, which
    gives each worker different batches). Other strategies get `dataset` back."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return dataset

    def per_worker(context: tf.distribute.InputContext):
        share = global_batch // context.num_input_pipelines
        if share * context.num_input_pipelines != global_batch:
            raise ValueError(
                f"batch size {global_batch} is not divisible by the "
                f"{context.num_input_pipelines} workers"
            )
        start = context.input_pipeline_id * share
        local = dataset.map(
            lambda *batch: tf.nest.map_structure(lambda t: t[start : start + share], batch)
        )
        replica_batch = context.get_per_replica_batch_size(global_batch)
        return local.unbatch().batch(replica_batch, drop_remainder=True)

    return strategy.distribute_datasets_from_function(per_worker)


def make_callbacks(config: FitConfig, training: Training, verbose: int | str) -> list:
    """Checkpoint, exact step count, NaN stop, CSV and TensorBoard logs, sample images
    and, when stdout is not a terminal, plain progress lines."""
    log_dir = config.resolved_log_dir
    num_styles = len(training.style_names) if len(training.style_names) > 1 else None
    callbacks = [
        ResumableCheckpoint(
            log_dir / CHECKPOINT_FILE, extra={"config": dataclasses.asdict(config)}
        ),
        StopAtStep(config.steps),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(log_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(log_dir), update_freq=max(1, config.steps_per_epoch // 10)),
        SampleImages(training.samples, log_dir, config.sample_every, num_styles),
    ]  # fmt: skip
    if verbose == "plain":
        callbacks.append(PlainProgress(config.steps, every=max(1, config.steps_per_epoch // 10)))
    return callbacks


def fit_style(
    config: FitConfig,
    verbose: int | str = "auto",
    strategy=None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    overwrite: bool = False,
) -> dict:
    """Trains a generator as `config` says; returns a summary dict (also in `run.json`).

    Args:
        config: the run.
        verbose: 1 (Keras progress bar), 0 (silent), "plain" (a line every tenth of an
            epoch, for logs) or "auto" (the bar on a terminal, else "plain").
        strategy: a `tf.distribute` strategy; default from `config.distribute`.
        callbacks: more Keras callbacks, run after the built-in ones (an epoch is
            `config.steps_per_epoch` steps; the generator is `self.model.generator`).
        overwrite: replace an existing `config.out` that is not this run's own (a resumed
            run writes its own output again without it).

    A checkpoint in the log dir is resumed only if it was written with the same settings
    (`check_resume`; `RESUMABLE_SETTINGS` such as `steps` may change).

    Raises:
        ValueError: a bad option (e.g. style files, checkpoint of another run).
        files.OutputExistsError: `config.out` exists (see `overwrite`).
        data.DataError: no readable content image.
        vgg_weights.VGGWeightsError: no VGG19 weights.
        TrainingDivergedError: the loss became NaN.
    """
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else "plain"
    log_dir = config.resolved_log_dir
    done = check_resume(config, overwrite) or {"epoch": 0, "iterations": 0}
    replace = overwrite or os.path.lexists(config.out)  # allowed by check_resume
    created = not log_dir.exists()
    log_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    warn_if_emulated(config.precision)
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        strategy = strategy or make_strategy(config.distribute)
        training = build_training(config, strategy, start_step=done["iterations"])
        callbacks = make_callbacks(config, training, verbose) + list(callbacks or [])
        checkpoint = callbacks[0]
        remaining = max(0, config.steps - done["iterations"])
        started = time.time()
        history = training.model.fit(
            training.dataset, initial_epoch=done["epoch"],
            epochs=done["epoch"] + math.ceil(remaining / config.steps_per_epoch),
            steps_per_epoch=config.steps_per_epoch, callbacks=callbacks,
            verbose=verbose if isinstance(verbose, int) else 0, shuffle=False,
        )  # fmt: skip
        seconds = time.time() - started
        last = {k: float(v[-1]) for k, v in history.history.items() if v}
        steps_done = int(training.model.optimizer.iterations.numpy())
        if checkpoint.blowup is not None and math.isfinite(checkpoint.blowup["loss"]):
            kept = read_checkpoint_metadata(log_dir / CHECKPOINT_FILE) or {"iterations": 0}
            raise TrainingDivergedError(
                f"training stopped at step {steps_done}: the mean loss of epoch "
                f"{checkpoint.blowup['epoch']} ({checkpoint.blowup['loss']:.4g}) is above "
                f"{checkpoint.blowup_factor:g}x the lowest of the epochs before "
                f"({checkpoint.blowup['best_recent_loss']:.4g}); no model written. The last "
                f"good checkpoint, step {kept['iterations']}, is kept: {log_dir / CHECKPOINT_FILE}"
            )
        if steps_done < config.steps or not all(map(math.isfinite, last.values())):
            raise TrainingDivergedError(
                f"training stopped at step {steps_done}: loss is not finite ({last}); no "
                f"model written. Last good checkpoint: {log_dir / CHECKPOINT_FILE}"
            )
    except BaseException:
        if created and not any(log_dir.iterdir()):
            log_dir.rmdir()  # a start that failed leaves no empty log folder behind
        raise
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    save_generator_atomically(float32_copy(training.generator), config.out, replace)
    summary = run_summary(config, training, checkpoint, seconds, last)
    atomic_write_bytes(log_dir / "run.json", json.dumps(summary, indent=2).encode())
    return summary


def run_summary(config: FitConfig, training: Training, checkpoint, seconds: float, last: dict):
    """The record of a finished run (`run.json`)."""
    import tensorflow as tf

    info = training.model.perceptual_loss.vgg_weights_info
    return {
        "config": dataclasses.asdict(config),
        "out": str(config.out),
        "styles": training.style_names,
        "resumed_from_epoch": checkpoint.restored_epoch,
        "steps_done": int(training.model.optimizer.iterations.numpy()),
        "seconds_this_run": round(seconds, 1),
        "train_seconds_total": round(checkpoint.train_seconds, 1),
        "final_metrics": last,
        "content_images": len(training.report.files),
        "skipped_content_files": training.report.skipped,
        "vgg19_weights": info.to_dict() if info else "random",
        "versions": {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "python": platform.python_version(),
        },  # fmt: skip
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "report": training.report.summary(),
    }
