"""Training callbacks: an exact step budget, plain progress lines for logs, and sample
images for TensorBoard (the checkpoint is `training.checkpoint`)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from keras_stylize.files import atomic_write_bytes
from keras_stylize.images import encode_image


class StopAtStep(keras.callbacks.Callback):
    """Stops training once the optimizer has made `steps` updates, so a run does exactly
    the number of steps asked for even when it is not a multiple of the epoch length."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = int(steps)

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if int(self.model.optimizer.iterations.numpy()) >= self.steps:
            self.model.stop_training = True


class PlainProgress(keras.callbacks.Callback):
    """One plain line every `every` steps (for logs and pipes, where Keras' progress bar
    writes control characters into one endless line):
    `step 200/2000  loss=1.234 content_loss=... style_loss=... tv_loss=...  1.31 s/step`.

    The s/step figure is the median time per step over the steps since the previous line,
    so neither the first step of a run (graph tracing) nor a pause (`kill -STOP`, a
    laptop asleep) inflates it.

    Args:
        total_steps: the step count of the whole run (the `/2000`).
        every: interval between lines, in steps (the last step always gets a line).
        stream: where to write (default: `sys.stdout` at each line).
        clock: monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        total_steps: int,
        every: int = 10,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.total = int(total_steps)
        self.every = max(1, int(every))
        self.stream = stream
        self.clock = clock
        self._last_step = clock()
        self._intervals: list[float] = []

    def on_train_begin(self, logs=None) -> None:
        self._last_step = self.clock()
        self._intervals = []

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        now = self.clock()
        self._intervals.append(now - self._last_step)
        self._last_step = now
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every and step != self.total:
            return
        rate = float(np.median(self._intervals))
        self._intervals = []
        values = " ".join(f"{k}={float(v):.4g}" for k, v in (logs or {}).items())
        print(f"step {step}/{self.total}  {values}  {rate:.2f} s/step",
              file=self.stream or sys.stdout, flush=True)  # fmt: skip


class SampleImages(keras.callbacks.Callback):
    """Every `every_n_epochs` epochs, stylizes fixed sample images with the generator and
    writes them as TensorBoard images (`log_dir/samples`) and as `log_dir/samples.jpg`:
    one row per image, the photo then its stylization in each style (one column per
    style for multi-style generators).

    Args:
        images: float32 `(n, H, W, 3)` in [0, 255].
        log_dir: TensorBoard log folder.
        every_n_epochs: interval.
        num_styles: styles of a multi-style generator (None: a single-style generator).
        paintings: with a style-prediction model (`model.predictor`), paintings `(k, H,
            W, 3)` in [0, 255]: the columns are then the styles predicted for them.
    """

    def __init__(
        self,
        images: np.ndarray,
        log_dir: str | os.PathLike,
        every_n_epochs: int = 1,
        num_styles: int | None = None,
        paintings: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.paintings = paintings
        self.images = np.asarray(images, dtype=np.float32)
        self.log_dir = Path(log_dir)
        self.every = max(1, int(every_n_epochs))
        self.num_styles = num_styles
        self._writer = None

    def _stylized(self) -> list[np.ndarray]:
        generator = self.model.generator
        if self.num_styles is None:
            return [np.asarray(generator(self.images, training=False), np.float32)]
        rows = np.eye(self.num_styles, dtype=np.float32)
        if self.paintings is not None:
            rows = np.asarray(self.model.predictor(self.paintings, training=False), np.float32)
        return [np.asarray(generator([self.images, np.broadcast_to(row, (len(self.images),
                self.num_styles))], training=False), np.float32) for row in rows]  # fmt: skip

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if (epoch + 1) % self.every or (loss is not None and not np.isfinite(loss)):
            return
        rows = np.concatenate([self.images, *self._stylized()], axis=2)
        rows = np.clip(rows + 0.5, 0, 255).astype(np.uint8)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir / "samples"))
        step = int(self.model.optimizer.iterations.numpy())
        with self._writer.as_default():
            tf.summary.image("content | stylized", rows, step=step, max_outputs=len(rows))
        self._writer.flush()
        sheet = Image.fromarray(np.concatenate(list(rows), axis=0))
        atomic_write_bytes(self.log_dir / "samples.jpg", encode_image(sheet, "JPEG", quality=90))
