import keras
import numpy as np
import pytest
from PIL import Image

from keras_stylize import johnson_generator, stylize
from keras_stylize.generators.prediction import read_painting, style_predictor
from keras_stylize.generators.styles import ResolvedStyle
from keras_stylize.inference.color_match import (
    MAX_GAIN,
    PREVIEW_SIZE,
    SOURCE_FLOOR,
    ColorStatistics,
    color_map,
    color_statistics,
    mixed_statistics,
    painting_colors,
)

from ..conftest import write_image


def _colours(rng, n, mixing, mean):
    return rng.normal(0, 1, (n, 3)) @ np.asarray(mixing, np.float64).T + mean


def test_the_map_takes_the_source_statistics_to_the_target(rng):
    source = color_statistics(_colours(rng, 5000, [[30, 5, 0], [0, 20, 4], [2, 0, 10]], 90))
    target = color_statistics(_colours(rng, 4000, [[10, 0, 3], [4, 40, 0], [0, 6, 25]], 120))
    mapping = color_map(source, target)
    floored = source.covariance + SOURCE_FLOOR * np.eye(3)
    np.testing.assert_allclose(mapping.matrix, mapping.matrix.T, atol=1e-9)
    np.testing.assert_allclose(mapping.matrix @ floored @ mapping.matrix.T, target.covariance,
                               rtol=1e-6, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(mapping(source.mean[None])[0], target.mean, atol=1e-3)
    # Colours that already have the target's statistics are left as they are.
    same = color_map(source, ColorStatistics(source.mean, floored))
    np.testing.assert_allclose(same.matrix, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(same.offset, 0.0, atol=1e-9)


def test_a_flat_source_is_stretched_at_most_max_gain():
    flat = ColorStatistics(np.full(3, 100.0), np.zeros((3, 3)))
    busy = ColorStatistics(np.array([50.0, 60, 70]), np.diag([2500.0, 1600, 900]))
    gains = np.linalg.eigvalsh(color_map(flat, busy).matrix)
    assert gains.max() == pytest.approx(MAX_GAIN) and gains.min() >= 0


def test_mixed_statistics_are_those_of_the_pooled_colours(rng):
    a = _colours(rng, 300, np.diag([20, 5, 9]), [200, 40, 90])
    b = _colours(rng, 900, np.diag([4, 30, 12]), [30, 140, 60])
    mixed = mixed_statistics([(color_statistics(a), 1.0), (color_statistics(b), 3.0)])
    pooled = color_statistics(np.concatenate([a, b]))
    np.testing.assert_allclose(mixed.mean, pooled.mean, rtol=1e-12)
    np.testing.assert_allclose(mixed.covariance, pooled.covariance, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="non-negative"):
        mixed_statistics([(color_statistics(a), 0.0)])


def test_painting_colors_only_for_styles_made_of_paintings(tmp_path):
    one = write_image(tmp_path / "one.png", size=(64, 48), seed=1)
    two = write_image(tmp_path / "two.jpg", size=(48, 64), seed=2)
    stats = [color_statistics(read_painting(p)) for p in (one, two)]
    got = painting_colors(str(one))
    np.testing.assert_allclose(got.mean, stats[0].mean)
    np.testing.assert_allclose(got.covariance, stats[0].covariance)
    blend = painting_colors(f"{one}:1,{two}:3")
    expected = mixed_statistics([(stats[0], 1.0), (stats[1], 3.0)])
    np.testing.assert_allclose(blend.mean, expected.mean)
    np.testing.assert_allclose(blend.covariance, expected.covariance)
    assert painting_colors("starry_night") is None
    assert painting_colors(f"starry_night:0.5,{one}:0.5") is None
    assert painting_colors(None) is None and painting_colors([0.5, 0.5]) is None
    assert painting_colors(ResolvedStyle(np.ones(2), got)) is got


@pytest.fixture(scope="module")
def painting_model():
    keras.utils.set_random_seed(3)
    generator = johnson_generator(width=0.125, num_styles=2, style_names=["a", "b"])
    return generator, style_predictor(2, hidden=4, vgg_weights=None)


def _orange_painting(rng, path):
    pixels = rng.normal([200, 110, 40], [25, 20, 15], (96, 128, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def test_a_painting_style_gets_the_paintings_colours_on_every_path(tmp_path, rng,
                                                                   painting_model):  # fmt: skip
    generator, predictor = painting_model
    painting = _orange_painting(rng, tmp_path / "orange.png")
    target = color_statistics(read_painting(painting))
    photo = rng.integers(0, 256, (72, 88, 3), dtype=np.uint8)
    options = dict(style=painting, predictor=predictor, precision="float32", return_array=True)
    matched = stylize(photo, generator, **options)
    plain = stylize(photo, generator, match_colors=False, **options)
    got, before = color_statistics(matched), color_statistics(plain)
    assert np.abs(got.mean - target.mean).max() < 2.0
    assert np.abs(before.mean - target.mean).max() > 20.0
    np.testing.assert_allclose(np.sqrt(np.diag(got.covariance)),
                               np.sqrt(np.diag(target.covariance)), rtol=0.1)  # fmt: skip
    # Tiles share one map: the same picture as the whole image.
    tiled = stylize(photo, generator, tile=32, overlap=64, **options)
    assert np.abs(tiled.astype(int) - matched.astype(int)).max() <= 1
    # The photo's colours win when asked for; a larger stroke scale is matched too.
    kept = stylize(photo, generator, preserve_color=True, **options)
    np.testing.assert_array_equal(
        kept, stylize(photo, generator, preserve_color=True, match_colors=False, **options)
    )
    larger = stylize(photo, generator, stroke_scale=2.0, **options)
    assert np.abs(color_statistics(larger).mean - target.mean).max() < 4.0


def test_a_large_image_is_matched_through_a_preview(tmp_path, rng, painting_model):
    generator, predictor = painting_model
    painting = _orange_painting(rng, tmp_path / "orange.png")
    target = color_statistics(read_painting(painting))
    photo = np.asarray(Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
                       .resize((PREVIEW_SIZE + 88, 400), Image.Resampling.BICUBIC))  # fmt: skip
    options = dict(style=painting, predictor=predictor, precision="float32", return_array=True)
    whole = stylize(photo, generator, **options)
    tiled = stylize(photo, generator, tile=256, **options)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1
    assert np.abs(color_statistics(whole).mean - target.mean).max() < 4.0


def test_match_colors_refuses_what_it_cannot_do(tmp_path, rng, painting_model):
    generator, predictor = painting_model
    painting = _orange_painting(rng, tmp_path / "orange.png")
    photo = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="needs a painting"):
        stylize(photo, generator, style="a", match_colors=True)
    with pytest.raises(ValueError, match="needs a painting"):
        stylize(photo, generator, style=f"a:0.5,{painting}:0.5", predictor=predictor,
                match_colors=True)  # fmt: skip
    with pytest.raises(ValueError, match="exclude each other"):
        stylize(photo, generator, style=painting, predictor=predictor, match_colors=True,
                preserve_color=True)  # fmt: skip
    # A named style is never matched: the default leaves it as the generator paints it.
    np.testing.assert_array_equal(
        stylize(photo, generator, style="b", precision="float32", return_array=True),
        stylize(photo, generator, style="b", precision="float32", return_array=True,
                match_colors=False))  # fmt: skip
