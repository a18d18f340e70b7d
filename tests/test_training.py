import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_stylize import StylizationModel, johnson_generator, texture_net_generator, vgg19_features
from keras_stylize.fitting import FitConfig, fit_style

SMALL_LAYERS = {"content_layer": "block2_conv1", "style_layers": ["block1_conv1", "block2_conv1"]}


def _model(generator, rng, **kwargs):
    style = rng.uniform(0, 255, (1, 40, 40, 3)).astype("float32")
    return StylizationModel(generator, style, vgg_weights=None, **SMALL_LAYERS, **kwargs)


def test_loss_decreases_over_a_few_steps(rng):
    keras.utils.set_random_seed(0)
    model = _model(johnson_generator(width=0.25), rng)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    history = model.fit(images, batch_size=2, epochs=8, verbose=0).history
    assert set(history) == {"loss", "content_loss", "style_loss", "tv_loss"}
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert history["style_loss"][-1] < history["style_loss"][0]
    evaluated = model.evaluate(images, batch_size=2, verbose=0, return_dict=True)
    assert np.isfinite(evaluated["loss"])


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_losses_float32(policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    model = _model(texture_net_generator(), rng)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    parts = model.compute_losses(images, model.generator(images))
    assert all(v.dtype == "float32" for v in parts.values())
    history = model.fit(images, batch_size=2, epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert model.generator.output.dtype == "float32"


def test_shared_feature_extractor_and_generator_is_the_artifact(rng, tmp_path):
    features = vgg19_features(["block1_conv1", "block2_conv1"], weights=None)
    style = rng.uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    model = StylizationModel(
        texture_net_generator(), style, feature_extractor=features, **SMALL_LAYERS
    )
    assert model.loss_network is features
    model.generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras", safe_mode=True)
    assert not any("vgg" in layer.name or "block1" in layer.name for layer in loaded.layers)


def _config(tmp_path, content_dir, style_path, **kwargs):
    options = dict(
        style=str(style_path), content=str(content_dir), out=str(tmp_path / "out" / "g.keras"),
        family="texture", image_size=32, batch_size=2, steps=4, steps_per_epoch=2,
        random_vgg=True, content_layer="block2_conv1",
        style_layers=["block1_conv1", "block2_conv1"], style_size=32,
    )  # fmt: skip
    options.update(kwargs)
    return FitConfig(**options)


def test_fit_style_writes_model_logs_and_resumes(tmp_path, content_dir, style_path):
    config = _config(tmp_path, content_dir, style_path)
    summary = fit_style(config, verbose=0)
    assert summary["steps_done"] == 4 and summary["resumed_from_epoch"] == 0
    log_dir = tmp_path / "out" / "g.logs"
    assert (log_dir / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    assert (log_dir / "samples.jpg").is_file() and (log_dir / "run.json").is_file()
    assert json.loads((log_dir / "checkpoints" / "checkpoint.json").read_text())["epoch"] == 2
    generator = keras.saving.load_model(config.out, safe_mode=True)
    assert generator.output_shape == (None, None, None, 3)
    # Same command with more steps continues from epoch 2 instead of restarting.
    longer = _config(tmp_path, content_dir, style_path, steps=6)
    summary = fit_style(longer, verbose=0)
    assert summary["resumed_from_epoch"] == 2 and summary["steps_done"] == 6
    assert (log_dir / "history.csv").read_text().count("\n") == 4
    assert not list((tmp_path / "out").glob(".*.keras"))  # no temporary file left behind


def test_fit_config_validation(tmp_path):
    with pytest.raises(ValueError, match=".keras"):
        FitConfig(style="s", content="c", out=str(tmp_path / "g.h5"))
    with pytest.raises(ValueError, match="family"):
        FitConfig(style="s", content="c", out="g.keras", family="unet")


def _cli(*args):
    return [sys.executable, "-m", "keras_stylize.cli", *args]


def test_cli_kill_9_then_resume(tmp_path, content_dir, style_path):
    out = tmp_path / "run" / "g.keras"
    args = [
        "fit", "--style", str(style_path), "--content", str(content_dir), "--out", str(out),
        "--family", "texture", "--image-size", "32", "--batch-size", "2",
        "--steps-per-epoch", "2", "--random-vgg", "--content-layer", "block2_conv1",
        "--style-layers", "block1_conv1,block2_conv1:0.5", "--style-size", "32", "--quiet",
    ]  # fmt: skip
    pointer = tmp_path / "run" / "g.logs" / "checkpoints" / "checkpoint.json"
    proc = subprocess.Popen(_cli(*args, "--steps", "100000"), stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if pointer.is_file() and json.loads(pointer.read_text())["epoch"] >= 2:
                break
            assert proc.poll() is None, "training exited early"
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint within 240 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not out.exists()
    done = json.loads(pointer.read_text())["epoch"]
    steps = 2 * (done + 1)
    result = subprocess.run(
        _cli(*args, "--steps", str(steps)), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads((tmp_path / "run" / "g.logs" / "run.json").read_text())
    assert run["resumed_from_epoch"] == done and run["steps_done"] == steps
    assert out.is_file()


def test_cli_bad_content_folder_is_one_line_error(tmp_path, style_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        _cli("fit", "--style", str(style_path), "--content", str(tmp_path / "empty"),
             "--out", str(tmp_path / "g.keras"), "--random-vgg"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: no image files")
    assert not (tmp_path / "g.keras").exists()


MIRRORED = r"""
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_stylize.fitting import FitConfig, fit_style
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
config = FitConfig(style=sys.argv[1], content=sys.argv[2], out=sys.argv[3], family="johnson",
                   width=0.25, image_size=32, batch_size=4, steps=3, steps_per_epoch=3,
                   random_vgg=True, content_layer="block2_conv1",
                   style_layers=["block1_conv1", "block2_conv1"], style_size=32)
summary = fit_style(config, verbose=0, strategy=strategy)
print("STEPS", summary["steps_done"], "LOSS", summary["final_metrics"]["loss"])
"""


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, content_dir, style_path):
    out = tmp_path / "m.keras"
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(style_path), str(content_dir), str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    line = [t for t in result.stdout.splitlines() if t.startswith("STEPS")][0].split()
    assert line[1] == "3" and np.isfinite(float(line[3]))
    assert out.is_file()


def test_nan_loss_stops_without_writing_a_model(tmp_path, content_dir, style_path):
    from keras_stylize.fitting import TrainingDivergedError

    config = _config(tmp_path, content_dir, style_path, learning_rate=1e30, steps=6)
    with pytest.raises(TrainingDivergedError, match="not finite"):
        fit_style(config, verbose=0)
    assert not os.path.exists(config.out)


def test_mixed_precision_run_saves_a_float32_generator(tmp_path, content_dir, style_path):
    config = _config(tmp_path, content_dir, style_path, precision="mixed_bfloat16", steps=2)
    fit_style(config, verbose=0)
    generator = keras.saving.load_model(config.out, safe_mode=True)
    assert {layer.dtype_policy.name for layer in generator.layers} == {"float32"}
