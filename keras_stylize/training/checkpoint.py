"""The resumable training checkpoint: one compressed file with the generator's weights,
the optimizer's state, the step count and the run's config (`ResumableCheckpoint`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from keras_stylize.files import atomic_write

CHECKPOINT_FILE = "checkpoint.npz"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, not ours, tampered with)."""


def _unreadable(path: Path, exc: BaseException) -> CheckpointError:
    reason = " ".join(str(exc).split())[:120] or type(exc).__name__
    return CheckpointError(
        f"{path}: not a readable checkpoint ({type(exc).__name__}: {reason}); move it away "
        "to start afresh, or give another --log-dir"
    )


def load_checkpoint(path: str | os.PathLike) -> tuple[dict, list, list]:
    """(metadata, generator arrays, optimizer arrays) of a checkpoint file.

    Raises:
        CheckpointError: one line naming the file, for any truncated or malformed file.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(saved["meta"].tobytes().decode())
            weights = [saved[f"g{i}"] for i in range(int(meta["generator_arrays"]))]
            states = [saved[f"o{i}"] for i in range(int(meta["optimizer_arrays"]))]
        int(meta["epoch"]), int(meta["iterations"])
    except Exception as exc:  # noqa: BLE001 - zipfile, pickle, json, key and value errors
        raise _unreadable(path, exc) from None
    return meta, weights, states


def read_checkpoint_metadata(path: str | os.PathLike) -> dict | None:
    """The metadata record of a checkpoint file (epoch, iterations, train_seconds, ...),
    or None if there is no such file.

    Raises:
        CheckpointError: the file is truncated or malformed (one line naming it).
    """
    path = Path(path)
    if not path.is_file():
        return None
    return load_checkpoint(path)[0]


_LEARNING_RATE = "learning_rate"


def _short_name(variable) -> str:
    """An optimizer variable's path without the optimizer's own (numbered) name."""
    return variable.path.split("/", 1)[-1]


class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves generator weights, optimizer state and progress at every epoch end in one
    compressed file, and restores them at the start of `fit`, so a killed run (even with
    `kill -9`) goes on from its last checkpoint when started again with the same options.

    The file (`np.savez_compressed`, read with `allow_pickle=False`) holds the generator's
    weights `g0, g1, ...` in `generator.weights` order, the optimizer's variables `o0,
    o1, ...` and a JSON record `meta` (epoch, iterations, train_seconds, and `extra`, e.g.
    the run's config). It is written to a temporary file and renamed over the previous
    checkpoint, so there is always exactly one complete checkpoint. Unlike
    `keras.callbacks.BackupAndRestore` it does not store the frozen VGG19 loss network.

    Training time (`train_seconds`) is summed over resumed runs from the intervals between
    consecutive steps, so a run stopped and continued later (`kill -STOP`/`-CONT`, a laptop
    asleep) does not count the pause: an interval longer than `PAUSE_FACTOR` times the
    median of the last steps and longer than `PAUSE_SECONDS` counts as one median step.

    A blow-up never overwrites a good checkpoint. An epoch whose mean loss exceeds
    `blowup_factor` times the lowest of the previous `window` epochs' (their losses are
    kept in the metadata, across resumes) is not written, and training goes on for one
    more epoch: a transient spike the optimizer recovers from (one hard batch of a
    many-style run) leaves the next epoch below the bar, and that epoch is written. When
    the next epoch is above the bar too, when a loss is not finite, or when the run ends on
    an unwritten epoch, training stops and `blowup` describes the epoch that stopped it
    (`None` otherwise): a collapse never replaces the last good checkpoint.

    Args:
        path: the checkpoint file (its folder is created if missing).
        generator_attr: attribute of the trained model holding the generator (or the
            networks a run trains); its `after_restore()`, if it has one, is called once
            the checkpoint's values are assigned.
        extra: JSON-serializable record stored in the metadata.
        blowup_factor: see above; `None` turns the guard off.
        window: number of previous epochs the guard compares with (it starts after them).
        clock: monotonic clock in seconds (tests pass a fake one).
    """

    PAUSE_FACTOR = 5.0
    PAUSE_SECONDS = 60.0
    _RECENT_STEPS = 50

    def __init__(
        self,
        path: str | os.PathLike,
        generator_attr: str = "generator",
        extra: dict | None = None,
        blowup_factor: float | None = 1.25,
        window: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.attr = generator_attr
        self.extra = extra or {}
        self.blowup_factor = blowup_factor
        self.window = int(window)
        self.recent_losses: list[float] = []
        self.blowup: dict | None = None
        self.suspect: dict | None = None  # the last epoch, when above the bar (not written)
        self.restored_epoch = 0
        self.previous_seconds = 0.0
        self.clock = clock
        self._seconds = 0.0
        self._last_step: float | None = None
        self._intervals: list[float] = []

    @property
    def train_seconds(self) -> float:
        """Training time so far (up to the last step), summed over every resumed run,
        pauses left out (see the class docstring)."""
        return self.previous_seconds + self._seconds

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        now = self.clock()
        if self._last_step is not None:
            interval = now - self._last_step
            if self._intervals:
                typical = float(np.median(self._intervals))
                if interval > max(self.PAUSE_FACTOR * typical, self.PAUSE_SECONDS):
                    interval = typical  # a pause: counted as one ordinary step
            self._intervals = (self._intervals + [interval])[-self._RECENT_STEPS :]
            self._seconds += interval
        self._last_step = now

    def on_train_begin(self, logs=None) -> None:
        self._seconds = 0.0
        self._last_step = self.clock()
        self._intervals = []
        if not self.path.is_file():
            return
        generator = getattr(self.model, self.attr)
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(generator.trainable_variables)
        meta, weights, states = load_checkpoint(self.path)
        names = meta.get("optimizer_names")
        if names is None:
            raise CheckpointError(
                f"{self.path}: a checkpoint of an older version (no optimizer variable "
                "names); move it away to start afresh, or give another --log-dir"
            )
        # The learning rate is not state: it comes from the run's options (a constant is
        # an optimizer variable, a schedule is not), so it is neither restored nor matched.
        states = [v for v, name in zip(states, names, strict=True) if name != _LEARNING_RATE]
        variables = [v for v in optimizer.variables if _short_name(v) != _LEARNING_RATE]
        if len(weights) != len(generator.weights) or len(states) != len(variables):
            raise ValueError(
                f"checkpoint {self.path} does not match this model ({len(weights)} weights, "
                f"{len(states)} optimizer variables; the model has {len(generator.weights)} "
                f"and {len(variables)}): was the run started with other options?"
            )
        for variable, value in zip(generator.weights, weights, strict=True):
            variable.assign(value)
        for variable, value in zip(variables, states, strict=True):
            variable.assign(value)
        after_restore = getattr(generator, "after_restore", None)
        if after_restore is not None:  # state derived from the restored variables
            after_restore()
        self.restored_epoch = int(meta["epoch"])
        self.previous_seconds = float(meta.get("train_seconds", 0.0))
        self.recent_losses = [float(v) for v in meta.get("recent_losses", [])]

    def _blown_up(self, loss: float | None) -> bool:
        if loss is None:
            return False
        if not np.isfinite(loss):
            return True
        recent = self.recent_losses[-self.window :]
        return (
            self.blowup_factor is not None
            and len(recent) >= self.window
            and loss > self.blowup_factor * min(recent)
        )

    def on_train_end(self, logs=None) -> None:
        if self.blowup is None and self.suspect is not None:  # ended on an unwritten epoch
            self.blowup = {**self.suspect, "last_epoch": True}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        loss = None if loss is None else float(loss)
        if self._blown_up(loss):  # never checkpoint a diverged model
            record = {
                "epoch": epoch + 1,
                "loss": loss,
                "best_recent_loss": min(self.recent_losses[-self.window :] or [loss]),
            }
            if self.suspect is None and np.isfinite(loss):
                self.suspect = record  # one more epoch to recover
                return
            self.blowup = record
            self.model.stop_training = True
            return
        self.suspect = None
        if loss is not None:
            self.recent_losses = (self.recent_losses + [loss])[-self.window :]
        generator = getattr(self.model, self.attr)
        optimizer = self.model.optimizer
        meta = {
            "epoch": epoch + 1,
            "iterations": int(optimizer.iterations.numpy()),
            "recent_losses": self.recent_losses,
            "train_seconds": round(self.train_seconds, 1),
            "time": time.time(),
            "generator_arrays": len(generator.weights),
            "optimizer_arrays": len(optimizer.variables),
            "optimizer_names": [_short_name(v) for v in optimizer.variables],
            "extra": self.extra,
        }
        arrays = {f"g{i}": np.asarray(w) for i, w in enumerate(generator.weights)}
        arrays.update({f"o{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        atomic_write(self.path, lambda tmp: np.savez_compressed(tmp, **arrays), suffix=".npz")
