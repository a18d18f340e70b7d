"""Training callbacks: resumable checkpoints and sample images for TensorBoard."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from keras_stylize.images import atomic_write_bytes, encode_image

_POINTER = "checkpoint.json"


class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves generator weights, optimizer state and the epoch at every epoch end, and
    restores them at the start of `fit`, so a killed run (even with `kill -9`) goes on
    from its last checkpoint when started again with the same arguments.

    Unlike `keras.callbacks.BackupAndRestore` it does not store the frozen VGG19 loss
    network (tens of MB), and it keeps the checkpoint after training ends. Layout:
    `directory/epoch-000012/{generator.weights.h5, optimizer.npz}` plus
    `directory/checkpoint.json` naming the latest complete one; the pointer is replaced
    atomically after the files are written, then older epochs are deleted.

    Args:
        directory: checkpoint folder (created if missing).
        model_generator_attr: attribute of the trained model holding the generator.
    """

    def __init__(self, directory: str | os.PathLike, model_generator_attr: str = "generator"):
        super().__init__()
        self.directory = Path(directory)
        self.attr = model_generator_attr
        self.restored_epoch = 0
        self.previous_seconds = 0.0
        self._started = time.time()

    @property
    def train_seconds(self) -> float:
        """Wall time of training so far, summed over every resumed run."""
        return self.previous_seconds + time.time() - self._started

    def latest(self) -> dict | None:
        """The pointer record `{epoch, path, ...}` of the newest checkpoint, or None."""
        pointer = self.directory / _POINTER
        if not pointer.is_file():
            return None
        record = json.loads(pointer.read_text())
        return record if (self.directory / record["path"]).is_dir() else None

    def on_train_begin(self, logs=None) -> None:
        self._started = time.time()
        record = self.latest()
        if record is None:
            return
        folder = self.directory / record["path"]
        generator = getattr(self.model, self.attr)
        generator.load_weights(folder / "generator.weights.h5")
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(generator.trainable_variables)
        with np.load(folder / "optimizer.npz", allow_pickle=False) as saved:
            values = [saved[f"v{i}"] for i in range(len(saved.files))]
        if len(values) != len(optimizer.variables):
            raise ValueError(
                f"checkpoint {folder} has {len(values)} optimizer variables, the optimizer "
                f"has {len(optimizer.variables)}: was the run started with other options?"
            )
        for variable, value in zip(optimizer.variables, values, strict=True):
            variable.assign(value)
        self.restored_epoch = int(record["epoch"])
        self.previous_seconds = float(record.get("train_seconds", 0.0))
        self.model._initial_epoch = self.restored_epoch

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            return  # never checkpoint a diverged model
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1:06d}"
        folder = self.directory / name
        staging = self.directory / f".{name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        getattr(self.model, self.attr).save_weights(staging / "generator.weights.h5")
        arrays = {f"v{i}": np.asarray(v) for i, v in enumerate(self.model.optimizer.variables)}
        np.savez(staging / "optimizer.npz", **arrays)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
        record = {"epoch": epoch + 1, "path": name, "time": time.time(),
                  "train_seconds": round(self.train_seconds, 1),
                  "iterations": int(self.model.optimizer.iterations.numpy())}  # fmt: skip
        atomic_write_bytes(self.directory / _POINTER, json.dumps(record, indent=2).encode())
        for old in self.directory.glob("epoch-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)


class SampleImages(keras.callbacks.Callback):
    """Every `every_n_epochs` epochs, stylizes fixed sample images with the generator and
    writes them as TensorBoard images (`log_dir/samples`) and as `log_dir/samples.jpg`.

    Args:
        images: float32 `(n, H, W, 3)` in [0, 255].
        log_dir: TensorBoard log folder.
        every_n_epochs: interval.
    """

    def __init__(self, images: np.ndarray, log_dir: str | os.PathLike, every_n_epochs: int = 1):
        super().__init__()
        self.images = np.asarray(images, dtype=np.float32)
        self.log_dir = Path(log_dir)
        self.every = max(1, int(every_n_epochs))
        self._writer = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if (epoch + 1) % self.every or (loss is not None and not np.isfinite(loss)):
            return
        generated = np.asarray(self.model.generator(self.images, training=False))
        pairs = np.concatenate([self.images, generated], axis=2)
        pairs = np.clip(pairs + 0.5, 0, 255).astype(np.uint8)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir / "samples"))
        step = int(self.model.optimizer.iterations.numpy())
        with self._writer.as_default():
            tf.summary.image("content | stylized", pairs, step=step, max_outputs=len(pairs))
        self._writer.flush()
        sheet = Image.fromarray(np.concatenate(list(pairs), axis=0))
        atomic_write_bytes(self.log_dir / "samples.jpg", encode_image(sheet, "JPEG", quality=90))
