"""TF.js graph-model export, verified by running it with TF.js in Node.

The generator is written as a SavedModel with one float32 signature (input `images`,
`[batch, H, W, 3]` in [0, 255], any size) and converted with the `tensorflowjs`
converter (optional extra `keras_stylize[tfjs]`, run in a subprocess). Quantization:
"none" or "float16" (`--quantize_float16='*'`: weights stored as float16, computed in
float32). A multi-style model also takes `style_weights` `[batch, num_styles]` and gets a
`styles.json` (its style names, for the web demo's picker). The result is run with
`@tensorflow/tfjs` + the WASM backend under Node on the verification image (every style
case of `verify.style_cases`) before it is kept. Node.js (18+) and npm are required; on
first use the pinned npm packages (package data `export/node/package*.json`) are installed
with `npm ci` into a cache folder (`~/.cache/keras_stylize/tfjs-node-4.22.0`, or
`$XDG_CACHE_HOME`; `KERAS_STYLIZE_TFJS_NODE` names a folder whose `node_modules` has them
instead). A missing piece is an error, never a silently unverified export.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import keras
import numpy as np

from keras_stylize.export.verify import (
    agreement,
    check_target,
    file_sizes,
    keras_output,
    replace_directory,
    style_cases,
    test_image,
    worst,
)
from keras_stylize.generators.graph import fuse_upsampling
from keras_stylize.inference.session import forward, input_specs
from keras_stylize.options import QUANTIZATIONS as _BY_FORMAT

QUANTIZATIONS = _BY_FORMAT["tfjs"]


class TFJSUnavailableError(RuntimeError):
    """The tensorflowjs converter, Node, or the tfjs npm packages are missing."""


TFJS_VERSION = "4.22.0"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keras_stylize" / f"tfjs-node-{TFJS_VERSION}"


def node_modules() -> Path:
    """The `node_modules` holding @tensorflow/tfjs for the Node verifier: the one under
    `KERAS_STYLIZE_TFJS_NODE` if set, else a per-user cache, installed on first use."""
    override = os.environ.get("KERAS_STYLIZE_TFJS_NODE")
    if override:
        modules = Path(override) / "node_modules"
        if not (modules / "@tensorflow" / "tfjs").is_dir():
            raise TFJSUnavailableError(
                f"KERAS_STYLIZE_TFJS_NODE={override}: no node_modules/@tensorflow/tfjs there"
            )
        return modules
    folder = _cache_dir()
    modules = folder / "node_modules"
    if not (modules / "@tensorflow" / "tfjs-backend-wasm").is_dir():
        _install(folder)
    return modules


def _install(folder: Path) -> None:
    """`npm ci` of the packaged package.json + lock into `folder` (atomically, one
    process at a time)."""
    import fcntl

    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        raise TFJSUnavailableError(
            "verifying a TF.js export needs Node.js 18+ and npm on PATH (https://nodejs.org); "
            "keras_stylize installs @tensorflow/tfjs into a cache with them on first use"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "node_modules" / "@tensorflow" / "tfjs-backend-wasm").is_dir():
            return  # another process installed it meanwhile
        print(f"keras_stylize: installing @tensorflow/tfjs {TFJS_VERSION} for verifying "
              f"TF.js exports into {folder} (first use only)", file=sys.stderr)  # fmt: skip
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            package = resources.files("keras_stylize.export") / "node"
            for name in ("package.json", "package-lock.json"):
                (staging / name).write_bytes((package / name).read_bytes())
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev"],
                cwd=staging, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
                raise TFJSUnavailableError(
                    f"`npm ci` of @tensorflow/tfjs {TFJS_VERSION} into {folder} failed "
                    f"(is the npm registry reachable?): {tail[:300]}"
                )
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def run_tfjs_node(
    model_dir: str | os.PathLike,
    images: np.ndarray,
    backend: str = "wasm",
    style_weights: np.ndarray | None = None,
):
    """Runs a TF.js graph model on float32 `(1, H, W, 3)` images (and `(1, num_styles)`
    style weights for multi-style models) in Node; returns `(output, info)` where info has
    the backend and milliseconds."""
    modules = node_modules()
    node = shutil.which("node")
    if node is None:
        raise TFJSUnavailableError("verifying a TF.js export needs Node.js 18+ on PATH")
    _, height, width, _ = images.shape
    script = resources.files("keras_stylize.export") / "run_tfjs.cjs"
    with tempfile.TemporaryDirectory() as tmp, resources.as_file(script) as script_path:
        src, dst = Path(tmp) / "in.f32", Path(tmp) / "out.f32"
        images.astype("<f4").tofile(src)
        proc = subprocess.run(
            [node, str(script_path), str(model_dir), str(src), str(height), str(width), str(dst),
             backend, ",".join(f"{v:.9g}" for v in np.ravel(style_weights))
             if style_weights is not None else ""],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "NODE_PATH": str(modules)},
        )  # fmt: skip
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["(no message)"]
            message = next((ln for ln in lines if "Error" in ln), lines[-1])
            raise RuntimeError(f"TF.js run failed: {message.strip()[:500]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        output = np.fromfile(dst, "<f4").reshape(info.get("shape", images.shape))
    return output, info


def convert_graph_model(model, function, specs, staging: Path, quantization: str) -> Path:
    """Writes `function` (traced with `specs`, the variables of `model`) as a SavedModel in
    `staging` and converts it to a TF.js graph model folder there; returns that folder."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", function, specs)
    archive.write_out(str(staging / "saved_model"), verbose=False)
    converted = staging / "tfjs"
    cmd = [sys.executable, "-m", "tensorflowjs.converters.converter",
           "--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
           "--signature_name=serving_default", "--saved_model_tags=serve"]  # fmt: skip
    if quantization == "float16":
        cmd.append("--quantize_float16=*")
    proc = subprocess.run(
        [*cmd, str(staging / "saved_model"), str(converted)],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    if proc.returncode != 0:
        if "No module named 'tensorflowjs'" in proc.stderr:
            raise TFJSUnavailableError("TF.js export needs: pip install 'keras_stylize[tfjs]'")
        raise RuntimeError(f"tensorflowjs converter failed: {proc.stderr.strip()[-800:]}")
    return converted


def export_tfjs(
    generator: keras.Model,
    out: str | os.PathLike,
    quantization: str = "none",
    overwrite: bool = False,
) -> dict:
    """Converts `generator` to a TF.js graph model folder `out`, verifies it in Node,
    then moves it into place (an existing `out` only with `overwrite`, and only an earlier
    TF.js export); returns the verification record."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"TF.js quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        graph = fuse_upsampling(generator)  # same values, less memory and work
        converted = convert_graph_model(graph, forward(graph), input_specs(graph), staging,
                                        quantization)  # fmt: skip
        image = test_image()
        results = []
        for label, weights in style_cases(generator):
            output, info = run_tfjs_node(converted, image, style_weights=weights)
            results.append({**agreement(keras_output(generator, image, weights), output),
                            "case": label})  # fmt: skip
        result = {**worst(results), "runtime": f"Node tfjs {info['backend']}"}
        check_target(result, quantization, f"TF.js ({quantization})")
        if len(generator.inputs) > 1:  # names for the web demo's style picker
            from keras_stylize.generators.styles import preset_names

            names = json.dumps(preset_names(generator))  # the free directions come last
            (converted / "styles.json").write_text(names + "\n")
        replace_directory(converted, out, "tfjs", overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "format": "tfjs",
        "quantization": quantization,
        "input": "float32 [batch, H, W, 3] RGB in [0, 255], any H, W >= 32; output the same"
        + (
            f"; style_weights float32 [batch, {generator.inputs[1].shape[-1]}]"
            if len(generator.inputs) > 1
            else ""
        ),
        "resizable": True,
        "files": file_sizes(out),
        "agreement": result,
    }
