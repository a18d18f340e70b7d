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
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_stylize.files import atomic_write, atomic_write_bytes, check_output, same_path
from keras_stylize.generators import BUILDERS
from keras_stylize.generators.extend import add_styles, warm_start
from keras_stylize.generators.policy import float32_copy, native_bfloat16
from keras_stylize.generators.prediction import float32_predictor, predictor_path
from keras_stylize.generators.styles import style_names
from keras_stylize.perceptual.loss import PerceptualLoss
from keras_stylize.training.callbacks import PlainProgress, SampleImages, StopAtStep
from keras_stylize.training.checkpoint import (
    CHECKPOINT_FILE,
    ResumableCheckpoint,
    read_checkpoint_metadata,
)
from keras_stylize.training.config import FitConfig, config_differences
from keras_stylize.training.data import content_dataset, load_style_image, with_style_weights
from keras_stylize.training.distribute import make_strategy, split_global_batches
from keras_stylize.training.model import StylizationModel
from keras_stylize.training.terms import Darkening, DeadUnits, LossTerm, Palette, Temporal
from keras_stylize.zoo import load_generator

log = logging.getLogger("keras_stylize.training.fit")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; no model was written."""


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
        return BUILDERS[config.family](**kwargs)
    if config.width != 1.0:  # texture: 8 filters per scale at width 1, as in the paper
        kwargs["channels_per_scale"] = max(1, round(8 * config.width))
    kwargs["ratios"] = tuple(2**k for k in reversed(range(config.scales)))  # ..., 4, 2, 1
    return BUILDERS[config.family](**kwargs)


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
    that would emulate it: neither a GPU nor a CPU with AVX512-BF16/AMX
    (docs/benchmarks.md measures how much slower a step is there)."""
    import tensorflow as tf

    if precision != "mixed_bfloat16" or native_bfloat16():
        return False
    if tf.config.list_physical_devices("GPU"):
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


def check_resume(config: FitConfig, overwrite: bool = False) -> dict | None:
    """Before any work: the checkpoint metadata to resume from (None: a fresh start),
    after checking that the checkpoint was written by a run of the same settings and that
    `config.out` may be written.

    Raises:
        ValueError: the checkpoint is unreadable, or was written with other settings
            (the message names them and how to start afresh); `out` is an input.
        files.OutputExistsError: `out` (or a style-prediction run's predictor beside it)
            exists, is not this run's own earlier output, and `overwrite` is not set.
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
    own = bool(stored) and same_path(str(stored.get("out")), config.out)
    check_output(config.out, inputs, overwrite=overwrite or own)
    if config.style_prediction:  # its predictor is written beside `out`
        check_output(predictor_path(config.out), inputs, overwrite=overwrite or own)
    return meta


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
    predictor: keras.Model | None = None  # a style-prediction run's (training.prediction)
    paintings: np.ndarray | None = None  # held-out paintings shown in its sample sheets


def predicted_starts(model: str, files: dict, added: list[str]) -> dict | None:
    """`{name: style weights}` for the `added` styles when the multi-style `model` has a
    style predictor (`zoo.load_predictor`): each new painting's predicted weights, from
    which `add_styles` starts its rows (a quality mode of one-pass prediction); None
    without a predictor (the rows start as the mean of the others)."""
    from keras_stylize.generators.prediction import predict_style
    from keras_stylize.zoo import ZooError, load_predictor

    if not added:
        return None
    try:
        predictor = load_predictor(model)
    except (ValueError, ZooError):
        return None
    return {name: predict_style(predictor, files[name], str(files[name])) for name in added}


def loss_terms(config: FitConfig, styles: list | None = None) -> list[LossTerm]:
    """The optional loss terms `config` gives a weight (`training.terms`); `styles` are
    the style images in the generator's style order (for `Palette`)."""
    terms: list[LossTerm] = []
    if config.palette_weight:
        terms.append(Palette(config.palette_weight, styles, seed=config.seed,
                             window=config.palette_window))  # fmt: skip
    if config.darkening_weight:
        terms.append(Darkening(config.darkening_weight, config.darkening_cell,
                               config.darkening_ratio))  # fmt: skip
    if config.temporal_weight:
        terms.append(Temporal(config.temporal_weight, seed=config.seed))
    if config.dead_unit_weight:
        terms.append(DeadUnits(config.dead_unit_weight))
    return terms


def content_data(config: FitConfig, start_step: int = 0) -> tuple[Any, Any, np.ndarray]:
    """`(dataset, report, samples)`: the run's content batches from batch `start_step` on,
    the folder's report, and the two photos of the sample sheets (the same in every
    resume)."""
    first, report = content_dataset(
        config.content, config.image_size, config.batch_size, seed=config.seed
    )
    samples = next(iter(first.unbatch().batch(2))).numpy()
    dataset, _ = content_dataset(
        config.content, config.image_size, config.batch_size, seed=config.seed, report=report,
        start_batch=start_step,
    )  # fmt: skip
    return dataset, report, samples


def build_training(config: FitConfig, strategy, start_step: int = 0) -> Training:
    """Data, generator, loss and compiled `StylizationModel` for `config`, built under
    `strategy`; the data begins at batch `start_step` (a resumed run). Call with the run's
    dtype policy set."""
    if config.style_prediction:
        from keras_stylize.training.prediction import build_prediction_training

        return build_prediction_training(config, strategy, start_step)
    files = config.style_files()
    styles = [load_style_image(f, config.style_size) for f in files]
    names = [f.stem for f in files]
    dataset, report, samples = content_data(config, start_step)
    with strategy.scope():
        if config.init_from:
            base = load_generator(config.init_from)
            known = style_names(base) or []
            added = [name for name in names if name not in known]
            starts = predicted_starts(config.init_from, dict(zip(names, files, strict=True)), added)
            generator = add_styles(base, added, starts)[0] if added else base
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
                warm_start(generator, load_generator(config.warm_start))
        loss = PerceptualLoss(
            styles, content_layer=config.content_layer, style_layers=config.style_layers,
            content_weight=config.content_weight, style_weight=config.style_weight,
            tv_weight=config.tv_weight, vgg_weights=None if config.random_vgg else "imagenet",
            vgg_weights_path=config.vgg_weights, style_measure=config.style_measure,
            style_window=config.style_window, seed=config.seed,
        )  # fmt: skip
        model = StylizationModel(
            generator, loss, train_styles=trained_styles if config.init_from else None,
            terms=loss_terms(config, styles),
        )  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(config)))
    if len(names) > 1:
        shares = [config.style_shares.get(names[i], 1.0) for i in trained_styles]
        dataset = with_style_weights(dataset, len(names), trained_styles, seed=config.seed,
                                     start_batch=start_step, shares=shares)  # fmt: skip
    dataset = split_global_batches(dataset, strategy, config.batch_size)
    return Training(model, generator, names, trained_styles, dataset, report, samples)


def make_callbacks(config: FitConfig, training: Training, verbose: int | str) -> list:
    """The callbacks besides the checkpoint: exact step count, NaN stop, CSV and
    TensorBoard logs, sample images and, when stdout is not a terminal, plain progress
    lines."""
    log_dir = config.resolved_log_dir
    num_styles = len(training.style_names) if len(training.style_names) > 1 else None
    callbacks = [
        StopAtStep(config.steps),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(log_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(log_dir), update_freq=max(1, config.steps_per_epoch // 10)),
        SampleImages(training.samples, log_dir, config.sample_every, num_styles,
                     paintings=training.paintings),
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
    command: str | None = None,
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
        command: the command line that started the run, for `run.json` (default: the
            config's, `FitConfig.command`).

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
        checkpoint = ResumableCheckpoint(
            log_dir / CHECKPOINT_FILE, extra={"config": dataclasses.asdict(config)},
            generator_attr="networks" if training.predictor is not None else "generator",
        )  # fmt: skip
        callbacks = [checkpoint, *make_callbacks(config, training, verbose), *(callbacks or [])]
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
        check_finished(config, training, checkpoint, last)
    except BaseException:
        if created and not any(log_dir.iterdir()):
            log_dir.rmdir()  # a start that failed leaves no empty log folder behind
        raise
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    save_generator_atomically(float32_copy(training.generator), config.out, replace)
    if training.predictor is not None:  # allowed by check_resume, as `out`
        predictor, path = float32_predictor(training.predictor), predictor_path(config.out)
        save_generator_atomically(predictor, path, overwrite or os.path.lexists(path))
    summary = run_summary(config, training, checkpoint, seconds, last)
    summary["command"] = command or config.command()
    atomic_write_bytes(log_dir / "run.json", json.dumps(summary, indent=2).encode())
    return summary


def check_finished(config: FitConfig, training: Training, checkpoint, last: dict) -> None:
    """Raises TrainingDivergedError unless the run made all its steps with finite losses
    and without a loss blow-up (`ResumableCheckpoint.blowup`)."""
    path = config.resolved_log_dir / CHECKPOINT_FILE
    steps_done = int(training.model.optimizer.iterations.numpy())
    if checkpoint.blowup is not None and math.isfinite(checkpoint.blowup["loss"]):
        kept = read_checkpoint_metadata(path) or {"iterations": 0}
        blowup = checkpoint.blowup
        what = (
            f"the run's last epoch, {blowup['epoch']}, has a mean loss ({blowup['loss']:.4g})"
            if blowup.get("last_epoch")
            else f"the mean loss of epoch {blowup['epoch']} ({blowup['loss']:.4g}) is"
        )
        then = (
            f"run the command again with --steps {steps_done + config.steps_per_epoch} to "
            "train one epoch more (a spike the next epoch recovers from is passed over)"
            if blowup.get("last_epoch")
            else "the next epoch did not recover; run the command again with a lower "
            "--learning-rate (the data order is seeded: the same rate meets the same batches)"
        )
        raise TrainingDivergedError(
            f"training stopped at step {steps_done}: {what} above "
            f"{checkpoint.blowup_factor:g}x the lowest of the epochs before "
            f"({blowup['best_recent_loss']:.4g}); no model written. The last good "
            f"checkpoint, step {kept['iterations']}, is kept: {path}. To go on: {then}."
        )
    if steps_done < config.steps or not all(map(math.isfinite, last.values())):
        raise TrainingDivergedError(
            f"training stopped at step {steps_done}: loss is not finite ({last}); no "
            f"model written. Last good checkpoint: {path}"
        )


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
