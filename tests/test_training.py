import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_stylize import (
    PerceptualLoss,
    StylizationModel,
    johnson_generator,
    texture_net_generator,
    vgg19_features,
)
from keras_stylize.generators.extend import add_styles
from keras_stylize.layers import ConditionalInstanceNormalization
from keras_stylize.training.checkpoint import read_checkpoint_metadata
from keras_stylize.training.config import FitConfig
from keras_stylize.training.fit import fit_style

SMALL_LAYERS = {"content_layer": "block2_conv1", "style_layers": ["block1_conv1", "block2_conv1"]}


def _loss(rng, styles=1, **kwargs):
    images = [rng.uniform(0, 255, (1, 40, 40, 3)).astype("float32") for _ in range(styles)]
    return PerceptualLoss(images, vgg_weights=None, **SMALL_LAYERS, **kwargs)


def test_loss_decreases_over_a_few_steps(rng):
    keras.utils.set_random_seed(0)
    model = StylizationModel(johnson_generator(width=0.25), _loss(rng))
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
    model = StylizationModel(texture_net_generator(), _loss(rng))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    parts = model.perceptual_loss(images, model.generator(images))
    assert all(v.dtype == "float32" for v in parts.values())
    history = model.fit(images, batch_size=2, epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert model.generator.output.dtype == "float32"


def test_shared_feature_extractor_and_generator_is_the_artifact(rng, tmp_path):
    features = vgg19_features(["block1_conv1", "block2_conv1"], weights=None)
    style = rng.uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    loss = PerceptualLoss(style, feature_extractor=features, **SMALL_LAYERS)
    assert loss.feature_extractor is features
    model = StylizationModel(texture_net_generator(), loss)
    model.generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras", safe_mode=True)
    assert not any("vgg" in layer.name or "block1" in layer.name for layer in loaded.layers)


def test_loss_optimizes_pixels_without_a_generator(rng):
    # The loss is independent of training: Gatys-style optimization of an image.
    loss = _loss(rng)
    photo = rng.uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    pixels = keras.Variable(photo)
    optimizer = keras.optimizers.Adam(5.0)
    import tensorflow as tf

    first = None
    for _ in range(15):
        with tf.GradientTape() as tape:
            value = loss(photo, pixels)["loss"]
        optimizer.apply([tape.gradient(value, pixels)], [pixels])
        first = float(value) if first is None else first
    assert float(loss(photo, pixels)["loss"]) < 0.8 * first


def test_multi_style_loss_scores_each_image_against_its_style(rng):
    loss = _loss(rng, styles=2)
    assert loss.num_styles == 2
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    generated = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    one_hot = np.eye(2, dtype="float32")
    both = float(loss(images, generated, one_hot)["style_loss"])
    single = [
        float(loss(images[i : i + 1], generated[i : i + 1], one_hot[i : i + 1])["style_loss"])
        for i in range(2)
    ]
    np.testing.assert_allclose(both, np.mean(single), rtol=1e-5)
    swapped = float(loss(images, generated, one_hot[::-1])["style_loss"])
    assert abs(swapped - both) > 1e-3 * both
    with pytest.raises(ValueError, match="style_weights"):
        loss(images, generated)


def test_multi_style_training_and_adding_a_style(rng):
    keras.utils.set_random_seed(0)
    generator = johnson_generator(width=0.25, num_styles=2, style_names=["a", "b"])
    model = StylizationModel(generator, _loss(rng, styles=2))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    weights = np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    history = model.fit((images, weights), batch_size=2, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]

    grown, new = add_styles(generator, ["c"])
    assert new == [2] and grown.get_layer("style_mix").style_names == ["a", "b", "c"]
    x = images[:1]
    for i in range(2):  # the old styles are unchanged
        w = np.eye(3, dtype="float32")[i : i + 1]
        np.testing.assert_allclose(
            np.asarray(grown([x, w])), np.asarray(generator([x, w[:, :2]])), atol=1e-4
        )
    before = [v.numpy().copy() for v in grown.weights]
    adapt = StylizationModel(grown, _loss(rng, styles=3), train_styles=new)
    adapt.compile(optimizer=keras.optimizers.Adam(1e-2))
    adapt.fit((images, np.eye(3, dtype="float32")[[2] * 4]), batch_size=2, epochs=2, verbose=0)
    changed_rows = set()
    for old, variable in zip(before, grown.weights, strict=True):
        diff = np.abs(variable.numpy() - old)
        if isinstance(variable.path, str) and ("gamma" in variable.path or "beta" in variable.path):
            changed_rows |= {int(r) for r in np.nonzero(diff.max(axis=-1) > 0)[0]}
        else:
            assert diff.max() == 0, variable.path  # frozen
    assert changed_rows == {2}
    cin = [layer for layer in grown.layers if isinstance(layer, ConditionalInstanceNormalization)]
    assert cin and all(layer.num_styles == 3 for layer in cin)


def _config(tmp_path, content_dir, style_path, **kwargs):
    options = dict(
        style=str(style_path), content=str(content_dir), out=str(tmp_path / "out" / "g.keras"),
        family="texture", image_size=32, batch_size=2, steps=4, steps_per_epoch=2,
        random_vgg=True, content_layer="block2_conv1",
        style_layers=["block1_conv1", "block2_conv1"], style_size=32,
    )  # fmt: skip
    options.update(kwargs)
    return FitConfig(**options)


def test_fit_style_exact_steps_logs_and_resume(tmp_path, content_dir, style_path):
    # 5 steps at 2 per epoch: exactly 5, not rounded up to 6.
    config = _config(tmp_path, content_dir, style_path, steps=5)
    seen = []  # a user callback sees every epoch end, with the step count and the generator

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, int(self.model.optimizer.iterations.numpy()),
                         self.model.generator.name))  # fmt: skip

    summary = fit_style(config, verbose=0, callbacks=[Record()])
    assert summary["steps_done"] == 5 and summary["resumed_from_epoch"] == 0
    assert [(e, s) for e, s, _ in seen] == [(0, 2), (1, 4), (2, 5)] and seen[0][2]
    log_dir = tmp_path / "out" / "g.logs"
    assert (log_dir / "history.csv").read_text().count("\n") == 4  # header + 3 epochs
    assert (log_dir / "samples.jpg").is_file() and (log_dir / "run.json").is_file()
    meta = read_checkpoint_metadata(log_dir / "checkpoint.npz")
    assert meta["iterations"] == 5 and meta["extra"]["config"]["steps"] == 5
    assert sorted(p.name for p in log_dir.glob("*.npz")) == ["checkpoint.npz"]  # one file
    generator = keras.saving.load_model(config.out, safe_mode=True)
    assert generator.output_shape == (None, None, None, 3)
    # The same command with more steps continues from step 5 instead of restarting.
    summary = fit_style(_config(tmp_path, content_dir, style_path, steps=8), verbose=0)
    assert summary["resumed_from_epoch"] == 3 and summary["steps_done"] == 8
    assert not list((tmp_path / "out").glob(".*.keras"))  # no temporary file left behind


def test_a_warm_started_run_resumes_without_its_warm_start_model(tmp_path, content_dir, style_path):
    # A second stage trained on from a model, then resumed on a machine where that model is
    # gone (only the checkpoint was kept): the checkpoint restores every weight.
    source = tmp_path / "first.keras"
    first_run = _config(tmp_path, content_dir, style_path, steps=2, out=str(source),
                        log_dir=str(tmp_path / "first.logs"))  # fmt: skip
    fit_style(first_run, verbose=0)
    first = keras.saving.load_model(source, safe_mode=True)
    stage = _config(tmp_path, content_dir, style_path, steps=2, warm_start=str(source),
                    learning_rate=1e-9)  # fmt: skip
    fit_style(stage, verbose=0)
    warm = keras.saving.load_model(stage.out, safe_mode=True)
    for a, b in zip(first.weights, warm.weights, strict=True):  # started from it
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    source.unlink()
    summary = fit_style(_config(tmp_path, content_dir, style_path, steps=4,
                                warm_start=str(source), learning_rate=1e-9), verbose=0)  # fmt: skip
    assert summary["resumed_from_epoch"] == 1 and summary["steps_done"] == 4
    resumed = keras.saving.load_model(stage.out, safe_mode=True)
    for a, b in zip(first.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_learning_rate_decays_over_the_last_steps_and_a_resume_stays_on_the_curve(
    tmp_path, content_dir, style_path
):
    from keras_stylize.training.fit import learning_rate_schedule

    config = _config(tmp_path, content_dir, style_path, steps=6, lr_decay_steps=4,
                     learning_rate=1e-3)  # fmt: skip
    schedule = learning_rate_schedule(config)
    values = [float(schedule(step)) for step in range(7)]
    np.testing.assert_allclose(values[:3], 1e-3, rtol=1e-6)  # constant for 6 - 4 steps
    np.testing.assert_allclose(values[4], 5e-4, rtol=1e-5)  # half-way down the cosine
    assert values[6] == 0.0 and values[2] > values[3] > values[4] > values[5] > values[6]
    assert learning_rate_schedule(_config(tmp_path, content_dir, style_path)) == 1e-3

    class Interrupt(keras.callbacks.Callback):  # after the step-4 checkpoint is written
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    # Interrupted while the rate was constant, then resumed with the decay: the rate
    # follows the schedule from the restored step count.
    constant = _config(tmp_path, content_dir, style_path, steps=6, learning_rate=1e-3)
    with pytest.raises(KeyboardInterrupt):
        fit_style(constant, verbose=0, callbacks=[Interrupt()])
    path = tmp_path / "out" / "g.logs" / "checkpoint.npz"
    with np.load(path) as saved:
        arrays = dict(saved)
    meta = json.loads(arrays["meta"].tobytes())
    assert meta["optimizer_names"][:2] == ["iteration", "learning_rate"]
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            optimizer = self.model.optimizer
            seen.append((int(optimizer.iterations.numpy()), float(optimizer.learning_rate)))

    summary = fit_style(config, verbose=0, callbacks=[Record()])
    assert summary["resumed_from_epoch"] == 2 and summary["steps_done"] == 6
    assert [step for step, _ in seen] == [4, 5]
    np.testing.assert_allclose([lr for _, lr in seen], values[4:6], rtol=1e-5)
    # A checkpoint without optimizer variable names (written before they were kept) is
    # refused in one line.
    del meta["optimizer_names"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez_compressed(path, **arrays)
    longer = _config(tmp_path, content_dir, style_path, steps=8, lr_decay_steps=4)
    with pytest.raises(ValueError, match="older version"):
        fit_style(longer, verbose=0)
    with pytest.raises(ValueError, match="lr_decay_steps"):
        _config(tmp_path, content_dir, style_path, steps=6, lr_decay_steps=7)


def test_fit_two_styles_makes_a_multi_style_model(tmp_path, content_dir, style_path):
    from .conftest import write_image

    second = write_image(tmp_path / "styles" / "second.png", size=(48, 48), seed=5)
    config = _config(tmp_path, content_dir, style_path, family="johnson", width=0.25,
                     style=[str(style_path), str(second)], steps=2)  # fmt: skip
    summary = fit_style(config, verbose=0)
    assert summary["styles"] == ["style", "second"]
    generator = keras.saving.load_model(config.out, safe_mode=True)
    assert generator.get_layer("style_mix").style_names == ["style", "second"]
    # samples: photo + one column per style
    from PIL import Image

    sheet = Image.open(tmp_path / "out" / "g.logs" / "samples.jpg")
    assert sheet.width == 3 * 32


def test_fit_with_the_temporal_loss_on_a_multi_style_model(tmp_path, content_dir, style_path):
    from click.testing import CliRunner

    from keras_stylize.cli import main

    from .conftest import write_image

    second = write_image(tmp_path / "styles" / "second.png", size=(48, 48), seed=5)
    config = _config(tmp_path, content_dir, style_path, family="johnson", width=0.25,
                     style=[str(style_path), str(second)], steps=2,
                     temporal_weight=0.01)  # fmt: skip
    summary = fit_style(config, verbose=0)
    assert summary["final_metrics"]["temporal_loss"] > 0
    header = (tmp_path / "out" / "g.logs" / "history.csv").read_text().splitlines()[0]
    assert "temporal_loss" in header.split(",")
    assert "--temporal-weight 0.01" in config.command()
    # The run's command (what a resume runs), one step longer, continues it with the loss.
    command = shlex.split(config.command().replace("--steps 2", "--steps 3"))
    result = CliRunner().invoke(main, command[1:] + ["--quiet"])
    assert result.exit_code == 0 and "after 3 steps" in result.output, result.output
    rows = (tmp_path / "out" / "g.logs" / "history.csv").read_text().splitlines()
    assert len(rows) == 3 and all(row.split(",")[header.split(",").index("temporal_loss")]
                                  for row in rows[1:])  # fmt: skip
    with pytest.raises(ValueError, match="loss weights"):
        _config(tmp_path, content_dir, style_path, temporal_weight=-1.0)


def test_style_shares_are_in_the_command_and_name_known_styles(tmp_path, content_dir, style_path):
    from keras_stylize.cli.fit import fit as fit_command

    from .conftest import write_image

    second = write_image(tmp_path / "styles" / "second.png", size=(48, 48), seed=5)
    config = _config(tmp_path, content_dir, style_path, style=[str(style_path), str(second)],
                     style_shares={"second": 3.0})  # fmt: skip
    assert "--style-share second:3" in config.command()
    parsed = fit_command.make_context("fit", shlex.split(config.command())[2:]).params
    assert parsed["style_shares"] == {"second": 3.0}
    with pytest.raises(ValueError, match="unknown styles: nosuch"):
        _config(tmp_path, content_dir, style_path, style=[str(style_path), str(second)],
                style_shares={"nosuch": 2.0}).style_files()  # fmt: skip


def test_darkening_penalty_in_training(rng):
    from keras_stylize.training.terms import Darkening, darkening_penalty

    keras.utils.set_random_seed(0)
    generator = johnson_generator(width=0.25)
    model = StylizationModel(generator, _loss(rng), terms=[Darkening(3.0)])
    images = rng.uniform(100, 255, (2, 32, 32, 3)).astype("float32")
    parts = model._batch_losses(images, None, training=True)
    generated = generator(images, training=True)
    penalty = float(darkening_penalty(images, generated))
    np.testing.assert_allclose(parts["darkening_loss"], penalty, rtol=1e-4)
    plain = model.perceptual_loss(images, generated)
    np.testing.assert_allclose(parts["loss"], plain["loss"] + 3.0 * penalty, rtol=1e-4)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(images, batch_size=2, epochs=1, verbose=0).history
    assert "darkening_loss" in history and np.isfinite(history["darkening_loss"][0])
    # Smaller squares (fit --darkening-cell) give another penalty, used as such.
    small = StylizationModel(generator, _loss(rng), terms=[Darkening(3.0, cell=4)])
    generated = generator(images, training=True)
    fine, coarse = (float(darkening_penalty(images, generated, cell=c)) for c in (4, 16))
    assert fine != pytest.approx(coarse, rel=1e-3)
    parts = small._batch_losses(images, None, training=True)
    np.testing.assert_allclose(parts["darkening_loss"], fine, rtol=1e-4)
    # A lower ratio (fit --darkening-ratio) lets squares lose more brightness for free.
    lenient = StylizationModel(generator, _loss(rng), terms=[Darkening(3.0, ratio=0.2)])
    strict, low = (float(darkening_penalty(images, generated, ratio=r)) for r in (0.5, 0.2))
    assert low < strict
    parts = lenient._batch_losses(images, None, training=True)
    np.testing.assert_allclose(parts["darkening_loss"], low, rtol=1e-4)


def test_fit_from_trains_a_style_it_has_and_adds_a_new_one(tmp_path, content_dir, style_path):
    from .conftest import write_image

    second = write_image(tmp_path / "styles" / "second.png", size=(48, 48), seed=5)
    third = write_image(tmp_path / "styles" / "third.png", size=(48, 48), seed=6)
    base = _config(tmp_path, content_dir, style_path, family="johnson", width=0.25,
                   style=[str(style_path), str(second)], steps=2)  # fmt: skip
    fit_style(base, verbose=0)
    again = _config(tmp_path, content_dir, style_path, family="johnson", width=0.25,
                    style=[str(second), str(third)], steps=2, init_from=base.out,
                    out=str(tmp_path / "again.keras"), learning_rate=1e-2,
                    darkening_weight=2.0, darkening_ratio=0.3)  # fmt: skip
    summary = fit_style(again, verbose=0)
    assert "darkening_loss" in summary["final_metrics"]
    assert "--darkening-weight 2.0" in again.command()
    assert "--darkening-ratio 0.3" in again.command()
    with pytest.raises(ValueError, match="darkening_ratio"):
        _config(tmp_path, content_dir, style_path, darkening_ratio=0.0)
    old = keras.saving.load_model(base.out, safe_mode=True)
    new = keras.saving.load_model(again.out, safe_mode=True)
    assert new.get_layer("style_mix").style_names == ["style", "second", "third"]
    second_changed = []
    for layer in new.layers:
        old_weights = old.get_layer(layer.name).get_weights()
        for before, after in zip(old_weights, layer.get_weights(), strict=True):
            if isinstance(layer, ConditionalInstanceNormalization):
                assert after.shape[0] == 3 and np.array_equal(before[0], after[0])  # "style"
                second_changed.append(not np.array_equal(before[1], after[1]))
            else:
                assert np.array_equal(before, after), layer.name  # frozen
    assert second_changed and any(second_changed)  # the style it had was trained on


def test_fit_config_validation(tmp_path):
    with pytest.raises(ValueError, match=".keras"):
        FitConfig(style="s", content="c", out=str(tmp_path / "g.h5"))
    with pytest.raises(ValueError, match="family"):
        FitConfig(style="s", content="c", out="g.keras", family="unet")
    with pytest.raises(ValueError, match="not found"):
        FitConfig(style="missing.jpg", content="c", out="g.keras").style_files()


def _cli(*args):
    return [sys.executable, "-m", "keras_stylize.cli", *args]


TINY = ["--family", "texture", "--image-size", "32", "--batch-size", "2", "--random-vgg",
        "--content-layer", "block2_conv1", "--style-layers", "block1_conv1,block2_conv1:0.5",
        "--style-size", "32"]  # fmt: skip


@pytest.mark.slow
def test_cli_kill_9_then_resume(tmp_path, content_dir, style_path):
    out = tmp_path / "run" / "g.keras"
    args = ["fit", "--style", str(style_path), "--content", str(content_dir), "--out", str(out),
            "--steps-per-epoch", "2", "--quiet", *TINY]  # fmt: skip
    checkpoint = tmp_path / "run" / "g.logs" / "checkpoint.npz"
    proc = subprocess.Popen(_cli(*args, "--steps", "100000"), stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if checkpoint.is_file() and read_checkpoint_metadata(checkpoint)["epoch"] >= 2:
                break
            assert proc.poll() is None, "training exited early"
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint within 240 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not out.exists()
    done = read_checkpoint_metadata(checkpoint)["iterations"]
    steps = done + 3
    result = subprocess.run(
        _cli(*args, "--steps", str(steps)), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads((tmp_path / "run" / "g.logs" / "run.json").read_text())
    assert run["resumed_from_epoch"] == done // 2 and run["steps_done"] == steps
    assert out.is_file()


def test_cli_output_is_quiet_and_plain_when_not_a_terminal(tmp_path, content_dir, style_path):
    result = subprocess.run(
        _cli("fit", "--style", str(style_path), "--content", str(content_dir),
             "--out", str(tmp_path / "g.keras"), "--steps", "3", "--steps-per-epoch", "10",
             *TINY),
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("step ")] == ["1/3", "2/3", "3/3"]
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    # No TensorFlow start-up noise (cuInit, cuDNN factories, CPU feature guard).
    assert result.stderr.strip().splitlines() == [f"6 content images in {content_dir}"]


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


@pytest.mark.parametrize(
    "option, value, message",
    [("--style-layers", "a:x", "unknown VGG19 layer 'a'"),
     ("--style-layers", "block1_conv1:x", "bad weight"),
     ("--style-layers", "block1_conv1:-1", ">= 0"),
     ("--content-layer", "relu4_2", "unknown VGG19 layer"),
     ("--learning-rate", "0", "0"),
     ("--steps", "0", "0"),
     ("--family", "unet", "unet"),
     ("--precision", "fp8", "fp8"),
     ("--out", "model.h5", ".keras"),
     ("--style-share", "style:x", "bad share"),
     ("--style-share", "nosuch:2", "unknown styles: nosuch")],
)  # fmt: skip
def test_cli_bad_option_values_are_one_line_and_exit_2(option, value, message, tmp_path,
                                                      content_dir, style_path):  # fmt: skip
    args = {"--out": str(tmp_path / "g.keras")}
    args[option] = value
    flat = [x for pair in args.items() for x in pair]
    result = subprocess.run(
        _cli("fit", "--style", str(style_path), "--content", str(content_dir), *flat),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "rror" in last and message in last
    assert "Traceback" not in result.stderr


MIRRORED = r"""
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_stylize.training.config import FitConfig
from keras_stylize.training.fit import fit_style
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


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_training_on_two_local_workers(tmp_path, content_dir, style_path):
    """Two worker processes (TF_CONFIG, two localhost ports) train together with
    `fit --distribute multiworker`: both end with identical weights, and those equal a
    single-worker run on the same global batches."""
    # A narrow Johnson network at 64 px: the texture network's coarsest branches would
    # see 1-2 pixels, where instance norm makes gradients ill-conditioned.
    common = ["--style", str(style_path), "--content", str(content_dir), "--steps", "3",
              "--steps-per-epoch", "3", "--batch-size", "4", "--quiet", *TINY,
              "--family", "johnson", "--width", "0.25", "--image-size", "64"]  # fmt: skip
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        out = tmp_path / f"worker{index}.keras"
        workers.append(subprocess.Popen(
            _cli("fit", *common, "--out", str(out), "--distribute", "multiworker"),
            env={**env, "TF_CONFIG": tf_config}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        ))  # fmt: skip
    for proc in workers:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    single = tmp_path / "single.keras"
    result = subprocess.run(_cli("fit", *common, "--out", str(single)), env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    models = [keras.saving.load_model(tmp_path / f"{n}.keras", safe_mode=True)
              for n in ("worker0", "worker1", "single")]  # fmt: skip
    worker0, worker1, one = (np.concatenate([w.ravel() for w in m.get_weights()]) for m in models)
    np.testing.assert_array_equal(worker0, worker1)  # the workers agree exactly
    # and agree with one machine up to summation order. Adam divides each gradient by its
    # own running size, so a weight whose gradient is a sum of cancelling terms (a residual
    # block's shift) carries its rounding differences into the step. Measured: 99.96 % of
    # the weights within a tenth of one Adam step (lr = 1e-3), all within a quarter step,
    # while training moved most weights by more than one step. (Before the data order was
    # made stateless, weights differed by up to two steps: the batches were not the same.)
    keras.utils.set_random_seed(0)
    start = np.concatenate([w.ravel() for w in johnson_generator(width=0.25).get_weights()])
    assert (np.abs(one - start) > 1e-3).mean() > 0.5
    difference = np.abs(worker0 - one)
    assert (difference <= 1e-4).mean() >= 0.995
    assert difference.max() <= 5e-4


def test_nan_loss_stops_without_writing_a_model(tmp_path, content_dir, style_path):
    from keras_stylize.training.fit import TrainingDivergedError

    config = _config(tmp_path, content_dir, style_path, learning_rate=1e30, steps=6)
    with pytest.raises(TrainingDivergedError, match="not finite"):
        fit_style(config, verbose=0)
    assert not os.path.exists(config.out)


def test_mixed_precision_run_saves_a_float32_generator(tmp_path, content_dir, style_path):
    config = _config(tmp_path, content_dir, style_path, precision="mixed_bfloat16", steps=2)
    fit_style(config, verbose=0)
    generator = keras.saving.load_model(config.out, safe_mode=True)
    assert {layer.dtype_policy.name for layer in generator.layers} == {"float32"}


def test_a_loss_blowup_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    """Epoch losses as in the ten-style run that collapsed after step 3700: the epoch
    whose mean loss jumps above 1.25x the best of the five before is not saved."""
    from types import SimpleNamespace

    from keras_stylize.training.checkpoint import ResumableCheckpoint

    generator = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
    optimizer = keras.optimizers.Adam()
    optimizer.build(generator.trainable_variables)
    model = SimpleNamespace(generator=generator, optimizer=optimizer, stop_training=False)
    path = tmp_path / "checkpoint.npz"
    callback = ResumableCheckpoint(path)
    callback.set_model(model)
    losses = [3.0, 2.0, 1.6, 1.46, 1.44, 1.44, 1.438, 1.458, 1.509, 1.903]
    for epoch, loss in enumerate(losses):
        optimizer.iterations.assign(100 * (epoch + 1))
        callback.on_epoch_end(epoch, {"loss": loss})
        if model.stop_training:
            break
    assert epoch == 9 and model.stop_training  # 1.903 > 1.25 * 1.438
    assert callback.blowup == {"epoch": 10, "loss": 1.903, "best_recent_loss": 1.438}
    meta = read_checkpoint_metadata(path)
    assert meta["iterations"] == 900 and meta["recent_losses"][-1] == 1.509
    # A resumed run keeps the guard's memory of the epochs before.
    resumed = ResumableCheckpoint(path)
    resumed.set_model(SimpleNamespace(generator=generator, optimizer=optimizer))
    resumed.on_train_begin()
    assert resumed.recent_losses == [1.44, 1.44, 1.438, 1.458, 1.509]
    assert resumed._blown_up(1.903) and not resumed._blown_up(1.6)
    # Off: the same losses are all saved.
    model.stop_training = False
    free = ResumableCheckpoint(tmp_path / "free.npz", blowup_factor=None)
    free.set_model(model)
    for epoch, loss in enumerate(losses):
        free.on_epoch_end(epoch, {"loss": loss})
    assert not model.stop_training
    assert read_checkpoint_metadata(tmp_path / "free.npz")["epoch"] == 10


def test_training_time_leaves_out_a_paused_run(tmp_path):
    """A run stopped with SIGSTOP between steps (here a fake clock jumping an hour) is
    counted as one ordinary step, and the time carries over a resume."""
    from types import SimpleNamespace

    from keras_stylize.training.checkpoint import ResumableCheckpoint

    generator = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
    optimizer = keras.optimizers.Adam()
    optimizer.build(generator.trainable_variables)
    model = SimpleNamespace(generator=generator, optimizer=optimizer, stop_training=False)
    now = [1000.0]
    path = tmp_path / "checkpoint.npz"
    callback = ResumableCheckpoint(path, clock=lambda: now[0])
    callback.set_model(model)
    callback.on_train_begin()
    steps = [9.0, 8.0, 10.0, 9.0, 3600.0 + 9.0, 9.0, 40.0]  # a pause, then a slow step
    for batch, seconds in enumerate(steps):
        now[0] += seconds
        callback.on_train_batch_end(batch)
    # The pause counts as the median step, 9 s; the slow step (under 60 s) counts in full.
    assert callback.train_seconds == pytest.approx(9 + 8 + 10 + 9 + 9 + 9 + 40)
    callback.on_epoch_end(0, {"loss": 1.0})
    assert read_checkpoint_metadata(path)["train_seconds"] == pytest.approx(94.0)
    resumed = ResumableCheckpoint(path, clock=lambda: now[0])
    resumed.set_model(model)
    resumed.on_train_begin()
    now[0] += 50.0  # the first step after a resume (tracing included) counts in full
    resumed.on_train_batch_end(0)
    assert resumed.train_seconds == pytest.approx(144.0)


def test_progress_lines_report_the_median_step_time():
    """The s/step figure of `PlainProgress` ignores a pause and the first (tracing) step."""
    import io
    from types import SimpleNamespace

    from keras_stylize.training.callbacks import PlainProgress

    optimizer = SimpleNamespace(iterations=keras.Variable(0, dtype="int64"))
    now = [0.0]
    stream = io.StringIO()
    callback = PlainProgress(8, every=4, stream=stream, clock=lambda: now[0])
    callback.set_model(SimpleNamespace(optimizer=optimizer))
    callback.on_train_begin()
    for seconds in [40.0, 2.0, 3.0, 2.0, 2.0, 3600.0, 4.0, 4.0]:  # tracing; a pause
        now[0] += seconds
        optimizer.iterations.assign_add(1)
        callback.on_train_batch_end(0, {"loss": 1.5})
    lines = stream.getvalue().splitlines()
    assert lines == ["step 4/8  loss=1.5  2.50 s/step", "step 8/8  loss=1.5  4.00 s/step"]


def test_emulated_bfloat16_training_is_warned_about(monkeypatch, caplog):
    import tensorflow as tf

    import keras_stylize.training.fit as fit_module

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU: bfloat16 is native there")
    monkeypatch.setattr(fit_module, "native_bfloat16", lambda: False)
    with caplog.at_level("WARNING", logger="keras_stylize.training.fit"):
        assert fit_module.warn_if_emulated("mixed_bfloat16")
    assert "emulated" in caplog.text and "--precision float32" in caplog.text
    caplog.clear()
    assert not fit_module.warn_if_emulated("float32")
    monkeypatch.setattr(fit_module, "native_bfloat16", lambda: True)
    assert not fit_module.warn_if_emulated("mixed_bfloat16") and not caplog.text


def test_width_scales_both_families(tmp_path, content_dir, style_path):
    from keras_stylize.training.fit import build_generator

    def filters(model):
        return [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]

    for family in ("texture", "johnson"):
        base = filters(build_generator(_config(tmp_path, content_dir, style_path, family=family)))
        wide = filters(build_generator(_config(tmp_path, content_dir, style_path, family=family,
                                               width=2.0)))  # fmt: skip
        # every layer twice as wide, except the RGB output
        assert wide[-1] == base[-1] == 3
        assert wide[:-1] == [2 * f for f in base[:-1]]


def test_scales_set_the_texture_pyramid_and_its_field_of_view(tmp_path, content_dir, style_path):
    """`scales=4` builds the pyramid of ratios 8, 4, 2, 1; an output pixel then no longer
    depends on the input 100 px away (the statistics of the norm layers set aside: `none`),
    while with the paper's six scales it does."""
    import tensorflow as tf

    from keras_stylize.training.fit import build_generator

    def pools(model):
        return [layer.pool_size[0] for layer in model.layers
                if isinstance(layer, keras.layers.AveragePooling2D)]  # fmt: skip

    def reach(model):  # input pixels the centre output pixel depends on, farthest row away
        x = tf.Variable(np.random.default_rng(0).uniform(0, 255, (1, 256, 256, 3)), dtype="float32")
        with tf.GradientTape() as tape:
            centre = tf.reduce_sum(model(x)[0, 128, 128])
        rows = np.flatnonzero(np.abs(tape.gradient(centre, x).numpy()[0]).sum(axis=(1, 2)))
        return max(128 - rows.min(), rows.max() - 128)

    def build(**kwargs):
        return build_generator(_config(tmp_path, content_dir, style_path, family="texture",
                                       norm="none", **kwargs))  # fmt: skip

    paper, four = build(), build(scales=4)
    assert pools(paper) == [32, 16, 8, 4, 2] and pools(four) == [8, 4, 2]
    assert reach(four) < 100 < reach(paper)
    with pytest.raises(ValueError, match="texture only"):
        _config(tmp_path, content_dir, style_path, family="johnson", scales=4)


def _fit_cli(*args):
    from click.testing import CliRunner

    from keras_stylize.cli import main

    return CliRunner().invoke(main, ["fit", *map(str, args)])


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, content_dir, style_path):
    from .conftest import write_image

    fit_style(_config(tmp_path, content_dir, style_path, steps=2), verbose=0)
    out = tmp_path / "out" / "g.keras"
    run_json = tmp_path / "out" / "g.logs" / "run.json"
    before = out.read_bytes(), run_json.read_bytes()
    other_style = write_image(tmp_path / "other.png", size=(40, 40), seed=5)
    other_content = tmp_path / "photos"
    write_image(other_content / "a.jpg", size=(48, 48), seed=6)
    changed = _config(tmp_path, other_content, other_style, steps=2, image_size=48, seed=3)
    with pytest.raises(ValueError, match="other settings") as info:
        fit_style(changed, verbose=0)
    message = str(info.value)
    for option in ("--style", "--content", "--image-size", "--seed"):
        assert option in message
    assert "another --out or --log-dir" in message and "--steps" not in message
    assert (out.read_bytes(), run_json.read_bytes()) == before
    result = _fit_cli("--style", other_style, "--content", content_dir, "--out", out,
                      "--random-vgg", "--steps", "2")  # fmt: skip
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert "other settings" in result.stderr and out.read_bytes() == before[0]


def test_fit_replaces_an_existing_model_only_with_overwrite(tmp_path, content_dir, style_path):
    config = _config(tmp_path, content_dir, style_path, steps=2)
    Path(config.out).parent.mkdir(parents=True)
    Path(config.out).write_bytes(b"someone else's model")
    with pytest.raises(FileExistsError, match="--overwrite"):
        fit_style(config, verbose=0)
    assert Path(config.out).read_bytes() == b"someone else's model"
    assert not config.resolved_log_dir.exists()
    fit_style(config, verbose=0, overwrite=True)
    keras.saving.load_model(config.out, safe_mode=True)
    saved = Path(config.out).read_bytes()
    onto_input = _config(tmp_path, content_dir, style_path, warm_start=config.out,
                         log_dir=str(tmp_path / "second"))  # fmt: skip
    with pytest.raises(ValueError, match="overwrite an input"):
        fit_style(onto_input, verbose=0, overwrite=True)
    assert Path(config.out).read_bytes() == saved
    fit_style(_config(tmp_path, content_dir, style_path, steps=3), verbose=0)  # its own: fine


def test_a_failed_start_leaves_no_empty_log_folder(tmp_path, style_path):
    from keras_stylize.training.data import DataError

    (tmp_path / "empty").mkdir()
    config = _config(tmp_path, tmp_path / "empty", style_path)
    with pytest.raises(DataError):
        fit_style(config, verbose=0)
    assert not config.resolved_log_dir.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_checkpoint_is_one_line(tmp_path, content_dir, style_path, damage):
    config = _config(tmp_path, content_dir, style_path, steps=2)
    fit_style(config, verbose=0)
    checkpoint = config.resolved_log_dir / "checkpoint.npz"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x80\x04junk" * 9)
    result = _fit_cli("--style", style_path, "--content", content_dir, "--out", config.out,
                      "--random-vgg", "--steps", "3")  # fmt: skip
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert str(checkpoint) in line and "not a readable checkpoint" in line and "--log-dir" in line


def test_cli_non_finite_floats_are_usage_errors(tmp_path, content_dir, style_path):
    for option, value in [("--learning-rate", "nan"), ("--style-weight", "inf"),
                          ("--style-layers", "block1_conv1:nan"), ("--width", "nan")]:  # fmt: skip
        result = _fit_cli("--style", style_path, "--content", content_dir, "--out",
                          tmp_path / "g.keras", option, value)  # fmt: skip
        assert result.exit_code == 2, (option, result.output)
    assert not (tmp_path / "g.keras").exists() and not (tmp_path / "g.logs").exists()


def test_a_stored_config_matches_its_own_command_with_other_steps(tmp_path, style_path):
    import dataclasses
    import shlex

    from keras_stylize.cli.fit import fit
    from keras_stylize.training.config import config_differences

    (tmp_path / "c").mkdir()

    def parse(args):
        options = dict(fit.make_context("fit", args).params)
        options.pop("quiet"), options.pop("overwrite")
        return FitConfig(**{**options, "style": list(options["style"])})

    given = parse(["--style", str(style_path), "--content", str(tmp_path / "c"), "--out",
                   "o.keras", "--family", "texture", "--scales", "4", "--style-layers",
                   "block1_conv1:0.3,block2_conv1", "--lr", "0.002", "--seed", "7"])  # fmt: skip
    stored = json.loads(json.dumps(dataclasses.asdict(given)))  # as in checkpoint.npz
    again = parse(shlex.split(FitConfig(**stored).command())[2:] + ["--steps", "5000"])
    assert config_differences(stored, again) == []
    assert config_differences(stored, dataclasses.replace(again, seed=8)) == ["--seed 7 -> 8"]


def _checkpoint_0_2_0(folder: Path, config_changes: dict | None = None) -> FitConfig:
    """In `folder` (the working directory): the inputs and `out/g.logs/checkpoint.npz` of
    the run that wrote tests/data/checkpoint_0.2.0.npz with version 0.2.0 (one step; its
    stored config has relative paths and the kurtosis and patch settings that were
    removed since, at their "off" values), and the config that resumes it."""
    from .conftest import write_image

    for i in range(2):
        write_image(folder / "content" / f"img{i}.jpg", size=(40, 40), seed=i)
    write_image(folder / "style.png", size=(40, 40), seed=99)
    target = folder / "out" / "g.logs" / "checkpoint.npz"
    target.parent.mkdir(parents=True)
    with np.load(Path(__file__).parent / "data" / "checkpoint_0.2.0.npz") as saved:
        arrays = dict(saved)
    meta = json.loads(arrays["meta"].tobytes())
    meta["extra"]["config"].update(config_changes or {})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez_compressed(target, **arrays)
    return FitConfig(style="style.png", content="content", out="out/g.keras", width=0.125,
                     image_size=32, batch_size=1, steps=2, steps_per_epoch=1, random_vgg=True,
                     content_layer="block1_conv1", style_layers=["block1_conv1"], style_size=32,
                     darkening_weight=1.0)  # fmt: skip


def test_a_checkpoint_of_version_0_2_0_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _checkpoint_0_2_0(tmp_path)
    stored = read_checkpoint_metadata("out/g.logs/checkpoint.npz")["extra"]["config"]
    assert {"kurtosis_weight", "kurtosis_limit", "patch_weight"} <= set(stored)
    assert set(stored) - {"kurtosis_weight", "kurtosis_limit", "patch_weight"} == set(
        FitConfig.__dataclass_fields__
    )  # the settings keep their names
    summary = fit_style(config, verbose=0)
    assert summary["resumed_from_epoch"] == 1 and summary["steps_done"] == 2
    assert "darkening_loss" in summary["final_metrics"]
    meta = read_checkpoint_metadata("out/g.logs/checkpoint.npz")
    assert meta["iterations"] == 2 and meta["train_seconds"] > 2.3  # 0.2.0's step counted


@pytest.mark.parametrize("removed", ["kurtosis_weight", "patch_weight"])
def test_a_checkpoint_trained_with_a_removed_option_is_not_resumed(tmp_path, monkeypatch, removed):
    monkeypatch.chdir(tmp_path)
    config = _checkpoint_0_2_0(tmp_path, {removed: 0.5})
    with pytest.raises(ValueError, match=f"--{removed.replace('_', '-')} 0.5 .an option that"):
        fit_style(config, verbose=0)
