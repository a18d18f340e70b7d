"""Shared fixtures. Tests run on the CPU with tiny images; see README for the command."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy():
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def write_image(path: Path, size=(48, 40), mode="RGB", seed=0, fmt=None) -> Path:
    """Writes a random image; returns its path."""
    r = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = r.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(array.squeeze(-1) if channels == 1 else array, mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return path


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A folder of six small random photos in a nested layout."""
    folder = tmp_path / "content"
    for i in range(4):
        write_image(folder / f"img{i}.jpg", size=(64 + 8 * i, 56), seed=i)
    write_image(folder / "sub" / "grey.png", size=(50, 70), mode="L", seed=7)
    write_image(folder / "sub" / "alpha.png", size=(60, 60), mode="RGBA", seed=8)
    return folder


@pytest.fixture
def style_path(tmp_path: Path) -> Path:
    return write_image(tmp_path / "style.png", size=(64, 64), seed=99)


def recoloured_scene(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic photo and a "stylization" of it that is all local colour mapping.

    The photo (uint8 RGB `(h, w, 3)`): a gradient sky, a dark box at rows 30-69 and columns
    120-169, a bright disc of radius 18 px centred 50 px from the bottom and left edges,
    Gaussian noise (sigma 3). The stylization (float64, not clipped): channels inverted,
    swapped and rescaled, plus fine vertical strokes of +-30 grey levels (2 px period).
    """
    yy, xx = np.mgrid[:h, :w]
    photo = np.stack([60 + 0.5 * yy, 110 + 0.3 * xx, 200 - 0.4 * yy], -1)
    photo[30:70, 120:170] = (40, 35, 30)
    photo[(yy - (h - 50)) ** 2 + (xx - 50) ** 2 <= 18**2] = (230, 230, 210)
    photo = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).round().astype(np.uint8)
    p = photo.astype(float)
    styled = np.stack([255 - p[..., 2], 0.6 * p[..., 0] + 40, 0.8 * (255 - p[..., 1])], -1)
    return photo, styled + np.where((xx // 2) % 2, 30, -30)[..., None]


def run_model(model, images, weights=None) -> np.ndarray:
    """`model`'s compiled forward pass, unchanged (no fused layers, no precision copy)."""
    from keras_stylize.inference.session import call_compiled, compiled

    return call_compiled(compiled(model), images, weights)


def read_rgb(source, **kwargs) -> np.ndarray:
    """A decoded image as a uint8 `(H, W, 3)` array (`images.open_image`)."""
    from keras_stylize.images import open_image

    return np.asarray(open_image(source, **kwargs)[0], np.uint8)


PHOTO = Path(__file__).resolve().parents[1] / "keras_stylize" / "assets" / "kodim23.jpg"
TINY_FIT = ["--family", "texture", "--image-size", "32", "--batch-size", "2", "--random-vgg",
            "--content-layer", "block2_conv1", "--style-layers", "block1_conv1,block2_conv1:0.5",
            "--style-size", "32"]  # fmt: skip


def pattern_photo(h=64, w=80) -> np.ndarray:
    """A smooth colour pattern, uint8 `(h, w, 3)`."""
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    planes = [
        128 + 100 * np.sin(i / 6.0),
        128 + 100 * np.cos(j / 7.0),
        128 + 60 * np.sin((i + j) / 9),
    ]
    return np.stack(planes, -1).astype(np.uint8)


def with_distinct_styles(model, seed: int = 1):
    """`model` with the rows of its conditional norms made different (a fresh multi-style
    generator's styles are all the same: scale 1, shift 0)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if hasattr(layer, "num_styles"):
            gamma, beta = layer.get_weights()
            layer.set_weights([gamma * rng.uniform(0.5, 1.5, gamma.shape),
                               beta + rng.normal(0, 0.3, beta.shape)])  # fmt: skip
    return model


def cli_command(*args) -> list[str]:
    """The command line running `keras_stylize ARGS` in a new Python process."""
    return [sys.executable, "-m", "keras_stylize.cli", *map(str, args)]


def invoke(*args):
    """`keras_stylize ARGS` run in this process (click's CliRunner)."""
    from click.testing import CliRunner

    from keras_stylize.cli import main

    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def generator():
    # tanh keeps a random network's colours inside the pixel range (a random linear output
    # is mostly clipped), so colour tests measure the code, not clipping.
    keras.utils.set_random_seed(3)
    from keras_stylize import johnson_generator

    return johnson_generator(width=0.25, output="tanh")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, generator):
    path = tmp_path_factory.mktemp("model") / "g.keras"
    generator.save(path)
    return path


@pytest.fixture(scope="module")
def multi_style_path(tmp_path_factory):
    keras.utils.set_random_seed(5)
    from keras_stylize import johnson_generator

    model = johnson_generator(width=0.25, num_styles=3, style_names=["wave", "scream", "stars"])
    path = tmp_path_factory.mktemp("multi") / "multi.keras"
    model.save(path)
    return path
