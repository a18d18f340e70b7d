import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_stylize import PerceptualLoss, johnson_generator
from keras_stylize.generators.prediction import style_predictor
from keras_stylize.generators.styles import free_styles, preset_names
from keras_stylize.training.checkpoint import load_checkpoint
from keras_stylize.training.prediction import PredictionModel
from keras_stylize.training.terms import Palette

from ..conftest import TINY_FIT, invoke, with_distinct_styles, write_image

SMALL = {"content_layer": "block2_conv1", "style_layers": ["block1_conv1", "block2_conv1"]}


def test_prediction_model_lowers_the_loss_of_each_photo_painting_pair(rng):
    keras.utils.set_random_seed(0)
    generator = johnson_generator(width=0.25, num_styles=3)
    predictor = style_predictor(3, hidden=16, vgg_weights=None)
    loss = PerceptualLoss(None, vgg_weights=None, **SMALL)
    model = PredictionModel(generator, predictor, loss, terms=[Palette(1.0, None, directions=8)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    photos = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    paintings = rng.uniform(0, 255, (4, 40, 40, 3)).astype("float32") * [1, 0.3, 0.6]
    history = model.fit((photos, paintings), batch_size=2, epochs=10, verbose=0).history
    assert history["style_loss"][-1] < 0.6 * history["style_loss"][0]
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert history["palette_loss"][-1] < history["palette_loss"][0]  # each against its painting
    assert len(model.trained_variables()) == len(generator.trainable_variables) + len(
        predictor.trainable_variables
    )
    frozen = PredictionModel(generator, predictor, loss, train_generator=False)
    assert frozen.trained_variables() == predictor.trainable_variables
    with pytest.raises(ValueError, match="predictor gives 3"):
        PredictionModel(johnson_generator(width=0.25, num_styles=2), predictor, loss)


@pytest.fixture
def paintings(tmp_path):
    folder = tmp_path / "paintings"
    for i in range(4):
        write_image(folder / f"p{i}.png", size=(64, 56), seed=10 + i)
    (tmp_path / "held.txt").write_text("# validation\np3.png\n")
    return folder


@pytest.mark.parametrize(
    "extra", [(), ("--free-styles", "2", "--freeze-generator")], ids=["joint", "free-directions"]
)
def test_fit_style_prediction_writes_both_models_resumes_and_stylizes(
    tmp_path, content_dir, paintings, extra
):
    keras.utils.set_random_seed(5)
    base = johnson_generator(width=0.25, num_styles=3, style_names=["wave", "scream", "stars"])
    multi_style_path = tmp_path / "multi.keras"
    with_distinct_styles(base).save(multi_style_path)
    out = tmp_path / "run" / "any.keras"
    args = ["fit", *TINY_FIT, "--family", "johnson", "--width", "0.25", "--style-prediction",
            "--style", paintings, "--hold-out", tmp_path / "held.txt", "--warm-start",
            multi_style_path, "--content", content_dir, "--out", out, "--steps-per-epoch", "2",
            "--palette-weight", "1", "--quiet", *extra]  # fmt: skip
    result = invoke(*args, "--steps", "2")
    assert result.exit_code == 0, result.output
    predictor_file = tmp_path / "run" / "any.predictor.keras"
    assert out.is_file() and predictor_file.is_file()
    meta, weights, _ = load_checkpoint(tmp_path / "run" / "any.logs" / "checkpoint.npz")
    generator = keras.saving.load_model(out, safe_mode=True)
    predictor = keras.saving.load_model(predictor_file, safe_mode=True)
    vgg = len(predictor.get_layer("vgg19_features").weights)
    assert len(weights) == len(generator.weights) + len(predictor.weights) - vgg
    free = 2 if extra else 0
    assert int(predictor.output.shape[-1]) == 3 + free
    assert preset_names(generator) == ["wave", "scream", "stars"]
    assert free_styles(generator) == free
    result = invoke(*args, "--steps", "4")
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "run" / "any.logs" / "run.json").read_text())
    assert run["resumed_from_epoch"] == 1 and run["steps_done"] == 4
    photo = write_image(tmp_path / "photo.png", size=(48, 40))
    result = invoke("stylize", photo, "-m", out, "--style-image", paintings / "p3.png",
                    "-o", tmp_path / "a.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke("stylize", photo, "-m", out, "--style", f"wave:0.5,{paintings / 'p3.png'}:0.5",
                    "-o", tmp_path / "b.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    a, b = (np.asarray(keras.utils.load_img(tmp_path / n), np.float32) for n in ("a.png", "b.png"))
    assert np.abs(a - b).mean() > 0.5  # the blend is another style
    result = invoke("stylize", photo, "-m", out, "--style-image", paintings / "p3.png",
                    "--no-match-colors", "-o", tmp_path / "plain.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    plain = np.asarray(keras.utils.load_img(tmp_path / "plain.png"), np.float32)
    assert np.abs(a - plain).mean() > 0.5  # by default a painting's colours are matched
    # A fresh process loads the predictor with the library's own imports (safe mode).
    code = f"from keras_stylize.zoo import load_predictor; load_predictor({str(out)!r})"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-1500:]
    result = invoke("stylize", photo, "-m", multi_style_path, "--style-image",
                    paintings / "p3.png", "-o", tmp_path / "c.png")  # fmt: skip
    assert result.exit_code == 2 and "no style predictor" in result.output


def test_an_existing_predictor_file_is_refused_before_any_work(tmp_path, content_dir, paintings):
    keras.utils.set_random_seed(5)
    base = johnson_generator(width=0.25, num_styles=2, style_names=["wave", "scream"])
    base.save(tmp_path / "multi.keras")
    (tmp_path / "any.predictor.keras").write_bytes(b"a user's file")
    result = invoke("fit", *TINY_FIT, "--family", "johnson", "--width", "0.25",
                    "--style-prediction", "--style", paintings, "--warm-start",
                    tmp_path / "multi.keras", "--content", content_dir,
                    "--out", tmp_path / "any.keras", "--steps", "2", "--quiet")  # fmt: skip
    assert result.exit_code != 0 and "any.predictor.keras" in result.output
    assert (tmp_path / "any.predictor.keras").read_bytes() == b"a user's file"
    assert not (tmp_path / "any.keras").exists() and not (tmp_path / "any.logs").exists()


def test_prediction_options_are_checked_before_any_work(tmp_path, content_dir, paintings):
    base = ["fit", "--style", paintings, "--content", content_dir, "--out", tmp_path / "g.keras",
            *TINY_FIT]  # fmt: skip
    result = invoke(*base, "--hold-out", tmp_path / "held.txt")
    assert result.exit_code == 2 and "options of --style-prediction" in result.output
    result = invoke(*base, "--style-prediction")
    assert result.exit_code == 2 and "needs --warm-start" in result.output


def test_a_frozen_generator_trains_only_its_free_directions_with_the_predictor(rng):
    from keras_stylize.generators.extend import add_styles
    from keras_stylize.layers import ConditionalInstanceNormalization

    keras.utils.set_random_seed(2)
    base = with_distinct_styles(johnson_generator(width=0.25, num_styles=3))
    generator = add_styles(base, ["free_0", "free_1"], free=True)[0]
    before = [w.copy() for w in generator.get_weights()]
    predictor = style_predictor(5, hidden=16, vgg_weights=None, free_styles=2)
    loss = PerceptualLoss(None, vgg_weights=None, **SMALL)
    model = PredictionModel(generator, predictor, loss, train_generator=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    photos = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    paintings = rng.uniform(0, 255, (4, 40, 40, 3)).astype("float32") * [1, 0.3, 0.6]
    model.fit((photos, paintings), batch_size=2, epochs=3, verbose=0)
    moved = 0
    for layer in generator.layers:
        for w in layer.weights:
            old = before[[id(v) for v in generator.weights].index(id(w))]
            new = np.asarray(w)
            if isinstance(layer, ConditionalInstanceNormalization):
                np.testing.assert_array_equal(new[:3], old[:3])  # the named styles' rows
                moved += int(np.abs(new[3:] - old[3:]).max() > 1e-4)
            else:
                np.testing.assert_array_equal(new, old)
    assert moved > 0  # the free directions' rows were trained


def test_a_resumed_prediction_run_predicts_as_the_run_it_resumes(tmp_path, rng):
    from keras_stylize.generators.prediction import adapt_predictor, painting_statistics
    from keras_stylize.training.checkpoint import ResumableCheckpoint

    def build():
        keras.utils.set_random_seed(4)  # the same (random, frozen) VGG19 in both runs
        generator = johnson_generator(width=0.25, num_styles=3)
        predictor = style_predictor(3, hidden=8, vgg_weights=None)
        model = PredictionModel(generator, predictor,
                                PerceptualLoss(None, vgg_weights=None, **SMALL))  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.optimizer.build(model.trained_variables())
        return model

    paintings = rng.uniform(0, 255, (3, 40, 40, 3)).astype("float32") * [1, 0.3, 0.6]
    first = build()
    adapt_predictor(first.predictor, painting_statistics(first.predictor, paintings))
    first.predictor.get_layer("style_logits").kernel.assign(rng.normal(0, 0.05, (8, 3)))
    saving = ResumableCheckpoint(tmp_path / "c.npz", generator_attr="networks")
    saving.set_model(first)
    saving.on_epoch_end(0, {"loss": 1.0})
    second = build()
    resumed = ResumableCheckpoint(tmp_path / "c.npz", generator_attr="networks")
    resumed.set_model(second)
    resumed.on_train_begin()
    expected = np.asarray(first.predictor(paintings))
    assert np.abs(expected - 1 / 3).max() > 1e-3  # the standardization matters here
    np.testing.assert_allclose(np.asarray(second.predictor(paintings)), expected,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
