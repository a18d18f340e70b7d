"""TF.js export run in a real headless Chromium, compared with Keras.

Needs the `[tfjs]` extra, Node's packages in web (`npm ci`) and Debian's
chromium; `.ci/run` installs all three and sets KERAS_STYLIZE_REQUIRE_BROWSER=1, which
turns a missing piece into a failure instead of a skip.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_stylize import johnson_generator
from keras_stylize.export import export_model
from keras_stylize.export.tfjs import run_tfjs_node, web_dir
from keras_stylize.export.verify import agreement
from keras_stylize.export.verify import test_image as fixed_image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _missing() -> str | None:
    if importlib.util.find_spec("tensorflowjs") is None:
        return "tensorflowjs not installed (pip install -e .[tfjs])"
    if not (web_dir() / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        return "web/node_modules missing (npm ci in web)"
    if CHROMIUM is None:
        return "chromium not installed (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def requirements():
    reason = _missing()
    if reason:
        if os.environ.get("KERAS_STYLIZE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


class _Handler(http.server.SimpleHTTPRequestHandler):
    results: list = []
    routes: dict = {}

    def translate_path(self, path):
        clean = path.split("?", 1)[0]
        for prefix, folder in self.routes.items():
            if clean.startswith(prefix):
                return str(Path(folder) / clean[len(prefix) :].lstrip("/"))
        return super().translate_path(path)

    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        query = dict(p.split("=") for p in self.path.split("?", 1)[1].split("&"))
        self.results.append((body, query))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _multi_style_generator():
    keras.utils.set_random_seed(12)
    model = johnson_generator(width=0.25, num_styles=3, style_names=["ink", "sun", "sea"])
    rng = np.random.default_rng(1)
    for layer in model.layers:  # distinct styles
        if hasattr(layer, "num_styles"):
            gamma, beta = layer.get_weights()
            layer.set_weights([gamma * rng.uniform(0.5, 1.5, gamma.shape),
                               beta + rng.normal(0, 0.3, beta.shape)])  # fmt: skip
    return model


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["single", "multi"])
def test_tfjs_export_in_headless_chromium(requirements, tmp_path, kind):
    """The demo page runs the export in Chromium (WASM) and matches Keras; for a
    multi-style model it shows a style picker and one blend slider per style, and a blend
    set on the sliders gives the blend Keras computes."""
    quantization = "float16"
    if kind == "single":
        keras.utils.set_random_seed(11)
        generator = johnson_generator(width=0.25)
    else:
        generator = _multi_style_generator()
    model_dir = tmp_path / "model_tfjs"
    record = export_model(generator, model_dir, "tfjs", quantization)
    h, w = 64, 96
    image = fixed_image(h, w)
    image.astype("<f4").tofile(tmp_path / "input.f32")
    weights = np.array([[0.25, 0.0, 0.75]], "float32")
    reference = np.asarray(generator(image if kind == "single" else [image, weights]))

    _Handler.results = []
    _Handler.routes = {"/model/": str(model_dir), "/data/": str(tmp_path)}
    handler = lambda *a, **k: _Handler(*a, directory=str(web_dir()), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    url = (f"http://127.0.0.1:{port}/index.html?model=/model/model.json&backend=wasm"
           f"&input=/data/input.f32&h={h}&w={w}&report=/result"
           + ("&weights=0.25,0,0.75" if kind == "multi" else ""))  # fmt: skip
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    browser = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = 120
        for _ in range(deadline * 10):
            if _Handler.results or browser.poll() is not None:
                break
            threading.Event().wait(0.1)
    finally:
        browser.kill()
        browser.wait()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    assert _Handler.results, f"no result from the page: {browser.stderr.read()[-1500:]!r}"
    body, query = _Handler.results[0]
    output = np.frombuffer(body, "<f4").reshape(1, h, w, 3)
    result = agreement(reference, output)
    assert query["backend"] == "wasm"
    assert result["psnr_db"] >= 40.0, result  # the browser matches Keras
    styles = 3 if kind == "multi" else 0
    assert (query["sliders"], query["options"]) == (str(styles), str(styles))
    # and the page computes what the same model computes under Node (same WASM kernels),
    # so the page's own pre- and post-processing adds no error.
    node_output, _ = run_tfjs_node(model_dir, image,
                                   style_weights=weights if kind == "multi" else None)
    same = agreement(node_output, output)
    assert same["psnr_db"] is None or same["psnr_db"] >= 80.0, same
    assert record["agreement"]["psnr_db"] >= 40.0
