"""The `tf.data` pipeline of content images for training.

Each element is a float32 batch `(batch_size, image_size, image_size, 3)`, RGB, values
in [0, 255]. Files are found recursively by extension (jpg, jpeg, png, bmp, gif, webp,
tif), decoded with Pillow (`images.open_image`: EXIF orientation, first frame of
animations, greyscale/palette/CMYK/16-bit/RGBA converted to RGB), randomly cropped to a
square whose side is a uniform fraction in [`min_crop`, 1] of the shorter side, resized
to `image_size` (Lanczos, antialiased), randomly mirrored, shuffled, batched and
prefetched. Decoding runs in parallel in tf.data's thread pool (Pillow releases the GIL)
and large JPEGs are decoded at a reduced scale when the crop allows it.

Flat crops are redrawn: a crop whose every channel has a standard deviation below
`FLAT_STD` grey levels (a blown-out sky, a white wall) carries no content to keep, and
it makes training diverge. On a constant image every instance-normalized activation of
the generator has zero variance, so each normalization multiplies the backward signal
by about `1/sqrt(epsilon)`; through a dozen such layers the gradients overflow to
inf/NaN in float32 as in bfloat16, and one Adam step turns every weight into NaN. (A
single white 256x256 crop did this to both zoo generator families.) Up to
`FLAT_RETRIES` crops are drawn per element, after which the element is dropped; files
that are flat as a whole are skipped and reported before training.

Bad files never stop training: every file is checked once before training (header and
structure with Pillow's `verify()`, then a reduced-size decode that also finds flat
images); files that fail, or that fail to decode later, are skipped and recorded in the
`ContentReport`. A folder with no image files, or with no usable one, raises `DataError`
before training starts.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_stylize.images import ImageReadError, list_images, open_image

FLAT_STD = 2.0
FLAT_RETRIES = 8


class DataError(ValueError):
    """The content folder has no usable image."""


@dataclass
class ContentReport:
    """Files used and skipped (unreadable or flat) by `content_dataset` (thread-safe to update)."""

    directory: str
    files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def skip(self, path: str, reason: str) -> None:
        with self._lock:
            self.skipped.setdefault(path, reason)

    def summary(self) -> str:
        """One line: how many files are used and how many were skipped."""
        line = f"{len(self.files)} content images in {self.directory}"
        if self.skipped:
            line += f"; skipped {len(self.skipped)} unusable: " + ", ".join(
                f"{Path(p).name} ({r})" for p, r in sorted(self.skipped.items())[:5]
            )
            if len(self.skipped) > 5:
                line += ", ..."
        return line


def scan_content_folder(directory: str | os.PathLike) -> ContentReport:
    """Lists image files under `directory` and checks each one (header, reduced-size
    decode, not flat); raises `DataError` if there is none or none is usable."""
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"content folder not found: {root}")
    report = ContentReport(str(root))
    candidates = list_images(root)
    if not candidates:
        raise DataError(f"no image files (jpg, png, bmp, gif, webp, tif) under {root}")
    for path in candidates:
        try:
            if path.stat().st_size == 0:
                raise ValueError("empty file")
            with Image.open(path) as image:
                image.verify()
            small, _ = open_image(path, draft_size=64)
            small.thumbnail((64, 64))
            if is_flat(np.asarray(small, dtype=np.float32)):
                raise ValueError("flat: the whole image has no detail")
            report.files.append(str(path))
        except Exception as exc:  # noqa: BLE001 - any failure means "skip this file"
            report.skip(str(path), " ".join(str(exc).split())[:120] or type(exc).__name__)
    if not report.files:
        raise DataError(f"none of the {len(candidates)} image files under {root} is usable")
    return report


def random_square_crop(
    image: Image.Image, image_size: int, rng: np.random.Generator, min_crop: float
) -> np.ndarray:
    """Random square crop (side in [min_crop, 1] x shorter side), resized, maybe mirrored."""
    short = min(image.width, image.height)
    side = max(1, int(round(short * rng.uniform(min_crop, 1.0))))
    left = int(rng.integers(0, image.width - side + 1))
    top = int(rng.integers(0, image.height - side + 1))
    crop = image.resize(
        (image_size, image_size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side)
    )
    array = np.asarray(crop, dtype=np.uint8)
    if rng.random() < 0.5:
        array = array[:, ::-1]
    return np.ascontiguousarray(array)


def is_flat(array: np.ndarray, threshold: float = FLAT_STD) -> bool:
    """True if every channel of an `(H, W, C)` image has std below `threshold` (pixel units)."""
    stds = array.reshape(-1, array.shape[-1]).std(axis=0)
    return bool(np.all(stds < threshold))


def content_dataset(
    directory: str | os.PathLike | None,
    image_size: int = 256,
    batch_size: int = 4,
    seed: int | None = None,
    min_crop: float = 0.5,
    report: ContentReport | None = None,
    start_batch: int = 0,
) -> tuple[tf.data.Dataset, ContentReport]:
    """An endless, shuffled dataset of random content crops (see the module docstring).

    With a `seed` the sequence of crops is the same in every iterator, process and
    worker; without one it differs from run to run (and decoding may reorder elements).
    `start_batch` begins the sequence at that batch, as if that many batches had been
    drawn (skipped before decoding, so it costs nothing): a resumed training goes on with
    the crops the uninterrupted run would have seen next, instead of seeing the first
    ones again (exact unless files failed to decode on the way). With a `report` (from
    `scan_content_folder`, or listing files chosen otherwise) its files are used and
    `directory` is not scanned (it may be None).

    Returns:
        `(dataset, report)`; `report.skipped` grows if files fail to decode later.
    """
    if image_size < 32:
        raise ValueError(f"image_size must be >= 32. Received: {image_size}")
    if not 0 < min_crop <= 1:
        raise ValueError(f"min_crop must be in (0, 1]. Received: {min_crop}")
    report = report or scan_content_folder(directory)
    files = list(report.files)
    deterministic = seed is not None

    decode = _crop_decoder(report, image_size, min_crop)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    paths = _shuffled_paths(files, seed)
    seeds = tf.data.Dataset.random(seed=seed)
    if start_batch < 0:
        raise ValueError(f"start_batch must be >= 0. Received: {start_batch}")
    dataset = (
        tf.data.Dataset.zip((paths, seeds))
        .skip(start_batch * batch_size)
        .map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
        .filter(lambda image, ok: ok)
        .map(lambda image, ok: tf.cast(image, tf.float32))
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    return dataset, report


def _crop_decoder(report: ContentReport, image_size: int, min_crop: float):
    """The tf.data map from `(path, seed)` to `(crop, ok)`: a random non-flat uint8 crop
    of the image (`random_square_crop`), or `ok` False for a file that fails to decode
    (recorded in `report`) or yields only flat crops."""

    def load(path: bytes, element_seed: np.int64) -> tuple[np.ndarray, np.bool_]:
        name = path.decode()
        rng = np.random.default_rng(int(element_seed) & 0xFFFFFFFF)
        try:
            image, _ = open_image(name, draft_size=image_size)
            for _ in range(FLAT_RETRIES):
                crop = random_square_crop(image, image_size, rng, min_crop)
                if not is_flat(crop):
                    return crop, np.bool_(True)
        except (ImageReadError, OSError, ValueError) as exc:
            report.skip(name, str(exc).split(": ", 1)[-1][:120])
        return np.zeros((image_size, image_size, 3), np.uint8), np.bool_(False)

    def decode(path, element_seed):
        image, ok = tf.numpy_function(load, [path, element_seed], [tf.uint8, tf.bool])
        image.set_shape((image_size, image_size, 3))
        ok.set_shape(())
        return image, ok

    return decode


def _shuffled_paths(files: list[str], seed: int) -> tf.data.Dataset:
    """The file paths, endlessly, in a new order each epoch drawn from `seed` alone."""
    file_tensor = tf.constant(files)

    def one_epoch(epoch):
        # A stateless permutation per epoch: every iterator (and every worker of a
        # multi-worker run) sees the same order, unlike `shuffle`, whose reshuffles
        # depend on a seed generator shared by the iterators of one dataset object.
        keys = tf.random.stateless_uniform([len(files)], seed=tf.stack([seed, epoch]))
        return tf.data.Dataset.from_tensor_slices(tf.gather(file_tensor, tf.argsort(keys)))

    return tf.data.Dataset.counter().flat_map(one_epoch)


def load_style_image(path: str | os.PathLike, style_size: int | None) -> np.ndarray:
    """The style image as float32 `(1, H, W, 3)` in [0, 255], its shorter side resized
    to `style_size` (None keeps the original size)."""
    image, _ = open_image(path)
    if style_size:
        scale = style_size / min(image.width, image.height)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float32)[None]


def painting_dataset(
    files: list[str | os.PathLike],
    image_size: int = 256,
    batch_size: int = 4,
    seed: int | None = None,
    min_crop: float = 0.4,
    start_batch: int = 0,
) -> tf.data.Dataset:
    """An endless dataset of painting crops `(batch_size, image_size, image_size, 3)`
    float32 in [0, 255] for style-prediction training: every element a random square
    crop of a random painting (side a uniform fraction in [`min_crop`, 1] of the
    painting's shorter side, so the strokes are seen at several scales), resized and
    randomly mirrored, exactly as `content_dataset` draws photos (same reproducibility
    and `start_batch`). Unreadable files are skipped."""
    files = [str(f) for f in files]
    if not files:
        raise DataError("no training paintings")
    report = ContentReport(directory=f"{len(files)} paintings", files=files)
    dataset, _ = content_dataset(
        None, image_size, batch_size, seed=seed, min_crop=min_crop, report=report,
        start_batch=start_batch,
    )  # fmt: skip
    return dataset


def with_style_weights(
    dataset: tf.data.Dataset,
    num_styles: int,
    choices: list[int] | None = None,
    seed: int = 0,
    start_batch: int = 0,
    shares: list[float] | None = None,
) -> tf.data.Dataset:
    """Pairs each batch of images with one-hot style weights `(batch, num_styles)`: every
    image gets a style drawn from `choices` (default: all styles), uniformly or, with
    `shares` (one non-negative number per choice, not all zero), in proportion to them;
    reproducibly for a given `seed` (stateless random numbers keyed by the batch index,
    counted from `start_batch`, as for `content_dataset`)."""
    choices = list(range(num_styles)) if choices is None else list(choices)
    if not choices or not all(0 <= c < num_styles for c in choices):
        raise ValueError(f"style choices {choices} must be in [0, {num_styles})")
    shares = [1.0] * len(choices) if shares is None else [float(s) for s in shares]
    if len(shares) != len(choices) or min(shares) < 0 or not sum(shares) > 0:
        raise ValueError(f"style shares {shares} must be {len(choices)} numbers >= 0, not all 0")
    table = tf.constant(choices, tf.int32)
    uniform = len(set(shares)) == 1  # the integer draw of runs made before shares existed
    # Otherwise inverse CDF: choice i when the uniform number is below its cumulative share.
    bounds = tf.constant(np.cumsum(shares[:-1]) / sum(shares), tf.float32)

    def pair(index, images):
        batch = tf.shape(images)[0]
        key = tf.stack([tf.cast(seed, tf.int64), index])
        if uniform:
            draw = tf.random.stateless_uniform(
                [batch], seed=key, maxval=len(choices), dtype=tf.int32
            )
        else:
            u = tf.random.stateless_uniform([batch], seed=key)
            draw = tf.searchsorted(bounds, u, side="right")
        return images, tf.one_hot(tf.gather(table, draw), num_styles, dtype=tf.float32)

    return dataset.enumerate(start=start_batch).map(pair, num_parallel_calls=tf.data.AUTOTUNE)
