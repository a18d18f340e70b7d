import json
import os
import shlex
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_stylize.layers import ConditionalInstanceNormalization
from keras_stylize.training.checkpoint import read_checkpoint_metadata
from keras_stylize.training.fit import fit_style

from .conftest import _config


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
    from ..conftest import write_image

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

    from ..conftest import write_image

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

    from ..conftest import write_image

    second = write_image(tmp_path / "styles" / "second.png", size=(48, 48), seed=5)
    config = _config(tmp_path, content_dir, style_path, style=[str(style_path), str(second)],
                     style_shares={"second": 3.0})  # fmt: skip
    assert "--style-share second:3" in config.command()
    parsed = fit_command.make_context("fit", shlex.split(config.command())[2:]).params
    assert parsed["style_shares"] == {"second": 3.0}
    with pytest.raises(ValueError, match="unknown styles: nosuch"):
        _config(tmp_path, content_dir, style_path, style=[str(style_path), str(second)],
                style_shares={"nosuch": 2.0}).style_files()  # fmt: skip


def test_fit_from_trains_a_style_it_has_and_adds_a_new_one(tmp_path, content_dir, style_path):
    from ..conftest import write_image

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
