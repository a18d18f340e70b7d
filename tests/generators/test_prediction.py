import keras
import numpy as np
import pytest

from keras_stylize import johnson_generator
from keras_stylize.generators.prediction import (
    PREDICTOR_SIZE,
    STATISTICS_SIZE,
    adapt_predictor,
    float32_predictor,
    painting_statistics,
    predict_style,
    read_painting,
    style_predictor,
)
from keras_stylize.generators.styles import ResolvedStyle, has_painting, style_vector
from keras_stylize.images import ImageReadError
from keras_stylize.layers import ChannelStatistics

from ..conftest import write_image


def test_channel_statistics_match_numpy(rng):
    x = rng.normal(3.0, 2.0, size=(2, 5, 7, 4)).astype("float32")
    out = np.asarray(ChannelStatistics(epsilon=1e-5)(x))
    expected = np.concatenate([x.mean(axis=(1, 2)), np.sqrt(x.var(axis=(1, 2)) + 1e-5)], -1)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    layer = ChannelStatistics.from_config(ChannelStatistics(epsilon=0.1).get_config())
    assert layer.epsilon == 0.1


@pytest.fixture(scope="module")
def predictor():
    keras.utils.set_random_seed(1)
    return style_predictor(3, hidden=8, vgg_weights=None)


def test_predictor_starts_at_the_even_blend_and_standardizes(predictor, rng, tmp_path):
    paintings = rng.uniform(0, 255, (3, 40, 48, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(predictor(paintings)), 1 / 3, atol=1e-7)
    stats = painting_statistics(predictor, paintings)
    assert stats.shape == (3, STATISTICS_SIZE)
    adapt_predictor(predictor, stats)
    standardize = keras.Model(predictor.input, predictor.get_layer("standardize").output)
    z = np.asarray(standardize(paintings))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-3)
    # A trained predictor saved and loaded (safe mode) predicts the same.
    predictor.get_layer("style_logits").kernel.assign(rng.normal(size=(8, 3)))
    path = tmp_path / "p.keras"
    predictor.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(paintings)), np.asarray(predictor(paintings)),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    copy = float32_predictor(predictor)
    np.testing.assert_allclose(np.asarray(copy(paintings)), np.asarray(predictor(paintings)),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_read_painting_resizes_and_refuses_what_has_no_style(tmp_path, rng):
    painting = read_painting(write_image(tmp_path / "p.png", size=(80, 40)))
    assert painting.shape == (1, PREDICTOR_SIZE, 2 * PREDICTOR_SIZE, 3)
    with pytest.raises(ImageReadError, match="too small"):
        read_painting(rng.integers(0, 255, (20, 64, 3), dtype=np.uint8))
    with pytest.raises(ImageReadError, match="flat colour"):
        read_painting(np.full((64, 64, 3), 120, np.uint8), "grey.png")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_painting(tmp_path / "bad.jpg")


def test_paintings_in_styles_and_blends(tmp_path, rng):
    generator = johnson_generator(width=0.125, num_styles=3, style_names=["a", "b", "c"])
    predictor = style_predictor(3, hidden=4, vgg_weights=None)
    logits = np.array([0.5, -0.25, 2.0], np.float32)  # zero kernel: the same for every painting
    predictor.get_layer("style_logits").bias.assign(logits)
    row = np.exp(logits) / np.exp(logits).sum()  # a convex blend, as every prediction
    path = write_image(tmp_path / "my painting.jpg", size=(64, 48))
    assert has_painting(f"a:0.6,{path}:0.4") and has_painting(path) and not has_painting("a:1")
    np.testing.assert_allclose(predict_style(predictor, path), row, rtol=1e-6)
    np.testing.assert_allclose(style_vector(generator, str(path), predictor), row, rtol=1e-6)
    blend = style_vector(generator, f"a:0.6,{path}:0.4", predictor)
    np.testing.assert_allclose(blend, 0.6 * np.eye(3)[0] + 0.4 * row, rtol=1e-6)
    array = rng.integers(0, 255, (50, 60, 3), dtype=np.uint8)
    np.testing.assert_allclose(style_vector(generator, {"b": 1, path: 3}, predictor),
                               (np.eye(3)[1] + 3 * row) / 4, rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(style_vector(generator, array, predictor), row, rtol=1e-6)
    resolved = ResolvedStyle(style_vector(generator, array, predictor))
    np.testing.assert_allclose(style_vector(generator, resolved), row, rtol=1e-6)
    with pytest.raises(ValueError, match="style predictor"):
        style_vector(generator, str(path))


def test_a_new_style_starts_from_its_predicted_weights(tmp_path):
    from keras_stylize.generators.extend import add_styles
    from keras_stylize.layers import ConditionalInstanceNormalization
    from keras_stylize.training.fit import predicted_starts

    keras.utils.set_random_seed(7)
    base = johnson_generator(width=0.125, num_styles=3, style_names=["a", "b", "c"])
    rng = np.random.default_rng(3)
    for layer in base.layers:
        if isinstance(layer, ConditionalInstanceNormalization):
            layer.set_weights([rng.normal(1, 0.3, w.shape) for w in layer.get_weights()])
    predictor = style_predictor(3, hidden=4, vgg_weights=None)
    logits = np.array([0.2, -0.5, 1.3], np.float32)
    predictor.get_layer("style_logits").bias.assign(logits)
    row = np.exp(logits) / np.exp(logits).sum()
    base.save(tmp_path / "g.keras")
    assert predicted_starts(str(tmp_path / "g.keras"), {}, ["new"]) is None  # no predictor
    predictor.save(tmp_path / "g.predictor.keras")
    painting = write_image(tmp_path / "new.png", size=(64, 48))
    starts = predicted_starts(str(tmp_path / "g.keras"), {"new": painting}, ["new"])
    np.testing.assert_allclose(starts["new"], row, rtol=1e-5)
    grown, new = add_styles(base, ["new", "other"], starts)
    assert new == [3, 4]
    for old, layer in zip(base.layers, grown.layers, strict=True):
        if isinstance(layer, ConditionalInstanceNormalization):
            for before, after in zip(old.get_weights(), layer.get_weights(), strict=True):
                np.testing.assert_allclose(after[3], row @ before, rtol=1e-5)
                np.testing.assert_allclose(after[4], before.mean(axis=0), rtol=1e-5)


def test_free_directions_leave_the_named_styles_and_are_not_presets(tmp_path, rng):
    from keras_stylize.generators.extend import add_styles
    from keras_stylize.generators.styles import free_styles, preset_names, style_names
    from keras_stylize.layers import ConditionalInstanceNormalization

    keras.utils.set_random_seed(8)
    base = johnson_generator(width=0.125, num_styles=3, style_names=["a", "b", "c"])
    for layer in base.layers:
        if isinstance(layer, ConditionalInstanceNormalization):
            layer.set_weights([rng.normal(1, 0.3, w.shape) for w in layer.get_weights()])
    grown, free = add_styles(base, ["free_0", "free_1"], free=True)
    assert free == [3, 4] and free_styles(grown) == 2
    assert style_names(grown) == ["a", "b", "c", "free_0", "free_1"]
    assert preset_names(grown) == ["a", "b", "c"]
    for layer in grown.layers:
        if isinstance(layer, ConditionalInstanceNormalization):
            assert all(np.all(w[3:] == 0) for w in layer.get_weights())
    photo = rng.uniform(0, 255, (1, 40, 48, 3)).astype("float32")
    for name in ("a", "c"):  # named styles render exactly as before
        row = style_vector(grown, name)
        np.testing.assert_array_equal(row, np.eye(5)[["a", "b", "c"].index(name)])
        np.testing.assert_array_equal(
            np.asarray(grown([photo, row[None]])),
            np.asarray(base([photo, style_vector(base, name)[None]])),
        )
    np.testing.assert_array_equal(style_vector(grown, [1, 0, 3]), [0.25, 0, 0.75, 0, 0])
    with pytest.raises(ValueError, match=r"unknown style 'free_0'; valid styles: a, b, c \("):
        style_vector(grown, "free_0")
    # A style added later goes before the free directions, which stay last.
    more, new = add_styles(grown, ["d"])
    assert new == [3] and style_names(more) == ["a", "b", "c", "d", "free_0", "free_1"]
    assert preset_names(more) == ["a", "b", "c", "d"]
    path = tmp_path / "g.keras"
    more.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert free_styles(loaded) == 2 and preset_names(loaded) == ["a", "b", "c", "d"]


def test_a_predictor_with_free_directions_gives_a_convex_mix_plus_a_bounded_offset(rng):
    predictor = style_predictor(5, hidden=8, vgg_weights=None, free_styles=2)
    predictor.get_layer("style_logits").kernel.assign(rng.normal(0, 1, (8, 3)))
    predictor.get_layer("free_weights").kernel.assign(rng.normal(0, 3, (8, 2)))
    paintings = rng.uniform(0, 255, (3, 40, 48, 3)).astype("float32")
    weights = np.asarray(predictor(paintings))
    assert weights.shape == (3, 5)
    np.testing.assert_allclose(weights[:, :3].sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights[:, :3] >= 0) and np.all(np.abs(weights[:, 3:]) <= 1)
    assert np.abs(weights[:, 3:]).max() > 0.1
    copy = float32_predictor(predictor)
    np.testing.assert_allclose(np.asarray(copy(paintings)), weights, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="free_styles"):
        style_predictor(3, vgg_weights=None, free_styles=3)
