import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_stylize import johnson_generator
from keras_stylize.export import ExportMismatchError, export_model
from keras_stylize.export import verify as verify_module
from keras_stylize.export.tflite import interpreter_class, run_tflite
from keras_stylize.export.verify import test_image as fixed_image

from ..conftest import invoke, with_distinct_styles


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    keras.utils.set_random_seed(5)
    path = tmp_path_factory.mktemp("m") / "g.keras"
    johnson_generator(width=0.25).save(path)
    return path


@pytest.fixture(scope="module")
def generator(model_path):
    return keras.saving.load_model(model_path, safe_mode=True)


def test_saved_model_loads_without_keras_stylize(tmp_path, model_path, generator):
    out = tmp_path / "sm"
    record = export_model(model_path, out, "savedmodel")
    sidecar = json.loads((tmp_path / "sm.json").read_text())
    assert sidecar["source_sha256"] == record["source_sha256"] and sidecar["resizable"]
    assert record["agreement"]["max_abs_diff"] < 1e-3
    image = fixed_image(61, 77)
    np.save(tmp_path / "x.npy", image)
    probe = (
        "import sys, numpy as np, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); "
        "x = np.load(sys.argv[2]); f = m.serving_float(tf.constant(x)).numpy(); "
        "u = m.serving_default(tf.constant(x.astype('uint8'))).numpy(); "
        "assert 'keras_stylize' not in sys.modules; np.save(sys.argv[3], f); "
        "print(u.dtype, u.shape)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(out), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["uint8", "(1,", "61,", "77,", "3)"]
    expected = np.asarray(generator(image))
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-3)


@pytest.mark.parametrize("quantization", ["none", "float16"])
def test_tflite_resizable_matches_keras(tmp_path, generator, quantization):
    out = tmp_path / f"g_{quantization}.tflite"
    record = export_model(generator, out, "tflite", quantization)
    assert record["resizable"] and record["quantization"] == quantization
    agreement = record["agreement"]
    assert agreement["psnr_db"] >= 40 and agreement["at_67x91"]["psnr_db"] >= 40
    image = fixed_image(45, 70)
    output = run_tflite(out.read_bytes(), image)
    psnr = verify_module.agreement(np.asarray(generator(image)), output)["psnr_db"]
    assert output.shape == image.shape and psnr >= 40


def test_tflite_fixed_size(tmp_path, generator):
    out = tmp_path / "fixed.tflite"
    record = export_model(generator, out, "tflite", size=(64, 96))
    assert not record["resizable"]
    interpreter = interpreter_class()(model_path=str(out))
    assert list(interpreter.get_input_details()[0]["shape"]) == [1, 64, 96, 3]


def test_missed_target_writes_nothing(tmp_path, generator, monkeypatch):
    monkeypatch.setitem(verify_module.PSNR_TARGETS, "float16", 500.0)
    out = tmp_path / "bad.tflite"
    with pytest.raises(ExportMismatchError, match="below"):
        export_model(generator, out, "tflite", "float16")
    assert not out.exists() and not (tmp_path / "bad.tflite.json").exists()


def test_cli_export(tmp_path, model_path):
    run = [sys.executable, "-m", "keras_stylize.cli", "export", str(model_path)]
    args = [*run, "--format", "tflite", "--size", "64x64", "-o", str(tmp_path / "a.tflite")]
    ok = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads((tmp_path / "a.tflite.json").read_text())["format"] == "tflite"
    args = [*run, "--format", "tflite", "--size", "12x12", "-o", str(tmp_path / "b.tflite")]
    bad = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and not (tmp_path / "b.tflite").exists()


def test_full_int8_is_refused_for_instance_norm(tmp_path):
    """docs/export.md: full-integer int8 breaks instance norm (24 dB on photos); it is
    refused and nothing is written."""
    from pathlib import Path

    from PIL import Image

    from keras_stylize import zoo

    photos = Path(__file__).resolve().parents[3] / "shared" / "data" / "content_eval"
    if not photos.is_dir():
        pytest.skip("needs ../shared/data/content_eval (the project's data)")
    generator = zoo.load("starry_night_johnson")
    images = [np.asarray(Image.open(f).convert("RGB").resize((256, 256)), np.float32)[None]
              for f in sorted(photos.iterdir())[:16]]  # fmt: skip
    out = tmp_path / "int8.tflite"
    with pytest.raises(ExportMismatchError, match="below the 30 dB target"):
        export_model(generator, out, "tflite", "int8", size=(256, 256),
                     representative_images=lambda: iter(images))  # fmt: skip
    assert not out.exists()


@pytest.mark.slow
def test_every_zoo_model_has_current_verified_exports():
    # export/NAME/ must hold the float16 TFLite and TF.js exports of the zoo's current
    # weights (scripts/export_zoo.py); the TFLite file is run again here against Keras.
    from pathlib import Path

    from keras_stylize import zoo
    from keras_stylize.export.verify import PSNR_TARGETS, agreement, keras_output, style_cases

    root = Path(__file__).resolve().parents[2] / "export"
    for name in zoo.list():
        sha256 = zoo.info(name)["weights"]["sha256"]
        tflite = root / name / f"{name}_float16.tflite"
        for artifact in (tflite, root / name / f"{name}_tfjs"):
            record = json.loads(Path(f"{artifact}.json").read_text())
            assert record["source_sha256"] == sha256, f"{artifact} is stale: re-export"
            assert record["agreement"]["psnr_db"] >= PSNR_TARGETS["float16"]
            assert artifact.exists()
        image, generator = fixed_image(64, 96), zoo.load(name)
        for label, weights in style_cases(generator):  # multi-style: two styles and a blend
            expected = keras_output(generator, image, weights)
            result = agreement(expected, run_tflite(tflite.read_bytes(), image, weights))
            assert result["psnr_db"] is None or result["psnr_db"] >= PSNR_TARGETS["float16"], (
                name, label, result
            )  # fmt: skip


@pytest.fixture(scope="module")
def multi_style():
    """A 3-style generator whose styles differ (random per-style scales and shifts)."""
    keras.utils.set_random_seed(8)
    model = johnson_generator(width=0.25, num_styles=3, style_names=["a", "b", "c"])
    return with_distinct_styles(model, seed=0)


def _styles(count, *rows):
    return [np.eye(count, dtype="float32")[[r]] for r in rows]


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_multi_style_exports_take_style_weights(fmt, tmp_path, multi_style):
    import tensorflow as tf

    out = tmp_path / ("m.tflite" if fmt == "tflite" else "m_savedmodel")
    record = export_model(multi_style, out, fmt)
    assert set(record["agreement"]["cases"]) == {"style 0", "style 2", "blend of styles 0 and 1"}
    image = fixed_image(48, 64)
    blend = np.array([[0.25, 0.0, 0.75]], "float32")
    outputs = []
    for weights in [*_styles(3, 0, 1), blend]:
        expected = np.asarray(multi_style([image, weights]))
        if fmt == "tflite":
            got = run_tflite(out.read_bytes(), image, weights)
        else:
            loaded = tf.saved_model.load(str(out))
            got = loaded.serving_float(tf.constant(image), tf.constant(weights)).numpy()
        psnr = verify_module.agreement(expected, got)["psnr_db"]
        assert psnr is None or psnr > 40  # None: identical
        outputs.append(got)
    assert np.abs(outputs[0] - outputs[1]).mean() > 1.0  # the style input is used


def _export_cli(*args):
    from click.testing import CliRunner

    from keras_stylize.cli import main

    return CliRunner().invoke(main, ["export", *map(str, args)])


def test_export_never_replaces_a_folder_that_is_not_an_export(tmp_path, model_path, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"precious")
    for extra in ([], ["--overwrite"]):
        result = _export_cli(model_path, "--format", "savedmodel", "-o", photos, *extra)
        assert result.exit_code == 2 and "photos" in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1
    monkeypatch.chdir(photos)
    result = _export_cli(model_path, "--format", "tfjs", "-o", ".", "--overwrite")
    assert result.exit_code == 2
    assert (photos / "holiday.jpg").read_bytes() == b"precious"
    with pytest.raises(ValueError, match="not an earlier savedmodel export"):
        export_model(model_path, photos, "savedmodel", overwrite=True)
    assert (photos / "holiday.jpg").read_bytes() == b"precious"


def test_export_replaces_an_earlier_export_only_with_overwrite(tmp_path, generator):
    out = tmp_path / "g.tflite"
    export_model(generator, out, "tflite")
    first = out.read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_model(generator, out, "tflite", "float16")
    assert out.read_bytes() == first
    export_model(generator, out, "tflite", "float16", overwrite=True)
    assert out.read_bytes() != first


def test_export_never_writes_onto_its_model(tmp_path, model_path):
    model = tmp_path / "my_model.keras"
    model.write_bytes(model_path.read_bytes())
    for extra in ([], ["--overwrite"]):
        result = _export_cli(model, "--format", "tflite", "-o", model, *extra)
        assert result.exit_code == 2 and "input" in result.stderr, result.output
    assert model.read_bytes() == model_path.read_bytes()
    result = _export_cli(model, "--format", "savedmodel", "-o", tmp_path, "--overwrite")
    assert result.exit_code == 2 and model.read_bytes() == model_path.read_bytes()


def test_export_options_are_checked_before_any_work(tmp_path, model_path, monkeypatch):
    import keras_stylize.inference.stylize as inference

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(inference, "load_generator", never)
    cases = [(["--format", "tflite", "--quantize", "int8"], "--representative"),
             (["--format", "tfjs", "--quantize", "int8"], "TF.js quantization"),
             (["--format", "savedmodel", "--size", "64x64"], "SavedModel")]  # fmt: skip
    for args, message in cases:
        result = _export_cli(model_path, *args, "-o", tmp_path / "x.out")
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_export_cli_keeps_converter_logs_off_stderr(tmp_path, model_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_stylize.cli", "export", str(model_path), "--format",
         "tflite", "-o", str(tmp_path / "g.tflite")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""


def test_replace_directory_swaps_only_an_earlier_export(tmp_path):
    def staged(text):
        folder = tmp_path / f"staged_{text}"
        folder.mkdir()
        (folder / "model.json").write_text(text)
        return folder

    out = tmp_path / "m_tfjs"
    verify_module.replace_directory(staged("one"), out, "tfjs")
    with pytest.raises(FileExistsError):
        verify_module.replace_directory(staged("two"), out, "tfjs")
    with pytest.raises(ValueError, match="not an earlier output"):  # no sidecar: not ours
        verify_module.replace_directory(staged("three"), out, "tfjs", overwrite=True)
    verify_module.write_sidecar(out, {"format": "tfjs", "agreement": {}})
    verify_module.replace_directory(staged("four"), out, "tfjs", overwrite=True)
    assert (out / "model.json").read_text() == "four"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m_tfjs", "m_tfjs.json", "staged_three", "staged_two"]  # fmt: skip


def test_tfjs_verifier_without_node_says_what_is_missing(tmp_path, monkeypatch):
    """No Node.js or npm on PATH: one clear error, not a missing-folder riddle."""
    from keras_stylize.export import tfjs

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_STYLIZE_TFJS_NODE", raising=False)
    monkeypatch.setattr(tfjs.shutil, "which", lambda name: None)
    with pytest.raises(tfjs.TFJSUnavailableError, match="needs Node.js 18\\+ and npm on PATH"):
        tfjs.node_modules()
    assert not (tmp_path / "keras_stylize" / f"tfjs-node-{tfjs.TFJS_VERSION}").exists()


@pytest.mark.network
@pytest.mark.slow
def test_tfjs_verifier_installs_its_npm_packages_into_a_cache(tmp_path, monkeypatch):
    """From an installed package (no repository web/ folder): the pinned @tensorflow/tfjs
    is `npm ci`-installed into the user cache on first use, then reused."""
    import shutil

    from keras_stylize.export import tfjs

    if shutil.which("npm") is None:
        pytest.skip("npm not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_STYLIZE_TFJS_NODE", raising=False)
    modules = tfjs.node_modules()
    assert modules == tmp_path / "keras_stylize" / "tfjs-node-4.22.0" / "node_modules"
    package = json.loads((modules / "@tensorflow" / "tfjs" / "package.json").read_text())
    assert package["version"] == tfjs.TFJS_VERSION
    assert tfjs.node_modules() == modules  # cached
    output, info = tfjs.run_tfjs_node(_tiny_tfjs_model(tmp_path), fixed_image(32, 32))
    assert output.shape == (1, 32, 32, 3) and info["backend"] == "wasm"


def _tiny_tfjs_model(tmp_path):
    """A TF.js graph model written without the converter: identity on the image."""
    model = tmp_path / "identity_tfjs"
    model.mkdir()
    topology = {"node": [
        {"name": "images", "op": "Placeholder",
         "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [
             {"size": "-1"}, {"size": "-1"}, {"size": "-1"}, {"size": "3"}]}}}},
        {"name": "Identity", "op": "Identity", "input": ["images"],
         "attr": {"T": {"type": "DT_FLOAT"}}},
    ], "versions": {"producer": 1}}  # fmt: skip
    manifest = {"format": "graph-model", "generatedBy": "test", "convertedBy": "test",
                "modelTopology": topology, "weightsManifest": []}  # fmt: skip
    (model / "model.json").write_text(json.dumps(manifest))
    return model


def test_predictor_export_drives_the_generator_like_keras(tmp_path):
    from keras_stylize.export.predictor import test_paintings
    from keras_stylize.generators.prediction import style_predictor

    keras.utils.set_random_seed(4)
    generator = johnson_generator(width=0.125, num_styles=2, style_names=["a", "b"])
    with_distinct_styles(generator)
    predictor = style_predictor(2, hidden=8, vgg_weights=None)
    kernel = np.random.default_rng(5).normal(0, 0.05, (8, 2)).astype("float32")
    predictor.get_layer("style_logits").kernel.assign(kernel)
    generator.save(tmp_path / "g.keras")
    predictor.save(tmp_path / "g.predictor.keras")
    out = tmp_path / "p.tflite"
    result = invoke("export", tmp_path / "g.keras", "--predictor", "--format", "tflite",
                    "--quantize", "float16", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "p.tflite.json").read_text())
    assert record["role"] == "style predictor" and 40 < record["agreement"]["psnr_db"] < 200
    painting = test_paintings()[1][1]
    got = run_tflite(out.read_bytes(), painting)
    np.testing.assert_allclose(got, np.asarray(predictor(painting)), atol=2e-2)
    result = invoke("export", tmp_path / "g.keras", "--predictor", "--format", "tfjs",
                    "-o", tmp_path / "p_tfjs")  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "p_tfjs.json").read_text())
    assert record["format"] == "tfjs" and 40 < record["agreement"]["psnr_db"] < 200
    result = invoke("export", tmp_path / "g.keras", "--predictor", "--format", "savedmodel",
                    "-o", tmp_path / "p_saved")  # fmt: skip
    assert result.exit_code == 2 and "--format tflite or tfjs" in result.output
