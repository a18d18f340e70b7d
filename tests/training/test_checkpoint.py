import json
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from keras_stylize.training.checkpoint import ResumableCheckpoint, read_checkpoint_metadata
from keras_stylize.training.config import FitConfig
from keras_stylize.training.fit import fit_style

from ..conftest import invoke
from .conftest import _config


def _guarded_model(path, **options):
    """A stand-in trained model (a 1x1 convolution and Adam) and the checkpoint callback
    watching it, writing `path` (`options`: the callback's)."""
    generator = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 1)])
    optimizer = keras.optimizers.Adam()
    optimizer.build(generator.trainable_variables)
    model = SimpleNamespace(generator=generator, optimizer=optimizer, stop_training=False)
    callback = ResumableCheckpoint(path, **options)
    callback.set_model(model)
    return model, callback


def test_a_loss_blowup_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    """Epoch losses as in the ten-style run that collapsed after step 3700: an epoch
    whose mean loss jumps above 1.25x the best of the five before is not saved, and a
    second such epoch in a row stops training."""
    model, callback = _guarded_model(tmp_path / "checkpoint.npz")
    generator, optimizer, path = model.generator, model.optimizer, callback.path
    losses = [3.0, 2.0, 1.6, 1.46, 1.44, 1.44, 1.438, 1.458, 1.509, 1.903, 2.4]
    for epoch, loss in enumerate(losses):
        optimizer.iterations.assign(100 * (epoch + 1))
        callback.on_epoch_end(epoch, {"loss": loss})
        if model.stop_training:
            break
        if epoch == 9:  # 1.903 > 1.25 * 1.438: not saved, one more epoch to recover
            assert callback.suspect["epoch"] == 10 and callback.blowup is None
    assert epoch == 10 and model.stop_training  # 2.4 too: stopped
    assert callback.blowup == {"epoch": 11, "loss": 2.4, "best_recent_loss": 1.438}
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
    assert read_checkpoint_metadata(tmp_path / "free.npz")["epoch"] == 11


def test_a_loss_spike_the_next_epoch_recovers_from_is_passed_over(tmp_path):
    """As in the 34-style run at step 800: one hard batch lifts an epoch's mean 27 %
    above the best before, the next epoch is back below the bar and is saved; training
    goes on. A run that ends on such an epoch keeps the checkpoint before it."""
    model, callback = _guarded_model(tmp_path / "checkpoint.npz")
    optimizer, path = model.optimizer, callback.path
    losses = [3.84, 3.33, 3.34, 3.29, 3.09, 3.93, 3.2, 3.1]
    for epoch, loss in enumerate(losses):
        optimizer.iterations.assign(100 * (epoch + 1))
        callback.on_epoch_end(epoch, {"loss": loss})
        if epoch == 5:
            assert read_checkpoint_metadata(path)["iterations"] == 500  # 3.93 not saved
    callback.on_train_end()
    assert not model.stop_training and callback.blowup is None
    meta = read_checkpoint_metadata(path)
    assert meta["iterations"] == 800 and 3.93 not in meta["recent_losses"]
    # Ending on the unwritten epoch counts as a blow-up: no model from it.
    ending = ResumableCheckpoint(tmp_path / "ending.npz")
    ending.set_model(model)
    for epoch, loss in enumerate(losses[:6]):
        optimizer.iterations.assign(100 * (epoch + 1))
        ending.on_epoch_end(epoch, {"loss": loss})
    ending.on_train_end()
    assert ending.blowup["loss"] == 3.93 and ending.blowup["last_epoch"]
    assert read_checkpoint_metadata(tmp_path / "ending.npz")["iterations"] == 500


def test_training_time_leaves_out_a_paused_run(tmp_path):
    """A run stopped with SIGSTOP between steps (here a fake clock jumping an hour) is
    counted as one ordinary step, and the time carries over a resume."""
    now = [1000.0]
    path = tmp_path / "checkpoint.npz"
    model, callback = _guarded_model(path, clock=lambda: now[0])
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


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, content_dir, style_path):
    from ..conftest import write_image

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
    result = invoke("fit", "--style", other_style, "--content", content_dir, "--out", out,
                      "--random-vgg", "--steps", "2")  # fmt: skip
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert "other settings" in result.stderr and out.read_bytes() == before[0]


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_checkpoint_is_one_line(tmp_path, content_dir, style_path, damage):
    config = _config(tmp_path, content_dir, style_path, steps=2)
    fit_style(config, verbose=0)
    checkpoint = config.resolved_log_dir / "checkpoint.npz"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x80\x04junk" * 9)
    result = invoke("fit", "--style", style_path, "--content", content_dir, "--out", config.out,
                      "--random-vgg", "--steps", "3")  # fmt: skip
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert str(checkpoint) in line and "not a readable checkpoint" in line and "--log-dir" in line


def _checkpoint_0_2_0(folder: Path, config_changes: dict | None = None) -> FitConfig:
    """In `folder` (the working directory): the inputs and `out/g.logs/checkpoint.npz` of
    the run that wrote tests/data/checkpoint_0.2.0.npz with version 0.2.0 (one step; its
    stored config has relative paths and the kurtosis and patch settings that were
    removed since, at their "off" values), and the config that resumes it."""
    from ..conftest import write_image

    for i in range(2):
        write_image(folder / "content" / f"img{i}.jpg", size=(40, 40), seed=i)
    write_image(folder / "style.png", size=(40, 40), seed=99)
    target = folder / "out" / "g.logs" / "checkpoint.npz"
    target.parent.mkdir(parents=True)
    with np.load(Path(__file__).parents[1] / "data" / "checkpoint_0.2.0.npz") as saved:
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
    kept = set(stored) - {"kurtosis_weight", "kurtosis_limit", "patch_weight"}
    added = {"style_measure", "style_window", "style_prediction", "hold_out", "freeze_generator",
             "free_styles", "palette_weight", "palette_window", "dead_unit_weight"}  # fmt: skip
    assert kept | added == set(FitConfig.__dataclass_fields__)  # the settings keep their names
    assert not kept & added  # and a resume takes the new ones at their defaults
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


def test_a_run_ending_on_a_spike_says_how_to_go_on(tmp_path, content_dir, style_path):
    from keras_stylize.training.fit import TrainingDivergedError, check_finished

    config = _config(tmp_path, content_dir, style_path, steps=800, steps_per_epoch=100)
    optimizer = keras.optimizers.Adam()
    optimizer.iterations.assign(800)
    training = SimpleNamespace(model=SimpleNamespace(optimizer=optimizer))
    blowup = {"epoch": 8, "loss": 3.93, "best_recent_loss": 3.09, "last_epoch": True}
    checkpoint = SimpleNamespace(blowup=blowup, blowup_factor=1.25)
    with pytest.raises(TrainingDivergedError, match="last epoch, 8.*--steps 900"):
        check_finished(config, training, checkpoint, {"loss": 3.93})
    blowup.pop("last_epoch")
    with pytest.raises(TrainingDivergedError, match="did not recover; .* lower --learning-rate"):
        check_finished(config, training, checkpoint, {"loss": 3.93})
