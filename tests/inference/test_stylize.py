import keras
import numpy as np
import pytest
from PIL import Image

from keras_stylize import johnson_generator
from keras_stylize.images import ImageReadError
from keras_stylize.inference.memory import rss_mb
from keras_stylize.inference.session import session_for
from keras_stylize.inference.stylize import stylize, transfer_luminance

from ..conftest import invoke, pattern_photo, write_image


def test_accepts_path_pil_array_and_model_path(tmp_path, generator, model_path):
    photo = pattern_photo()
    Image.fromarray(photo).save(tmp_path / "p.png")
    a = stylize(tmp_path / "p.png", generator, return_array=True)
    b = stylize(Image.fromarray(photo), str(model_path), return_array=True)
    c = stylize(photo.astype(np.float32), generator)
    assert a.shape == photo.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert isinstance(c, Image.Image) and c.size == (80, 64)


def test_strength_zero_returns_input_and_one_the_stylized(generator):
    photo = pattern_photo()
    np.testing.assert_array_equal(stylize(photo, generator, strength=0.0, return_array=True), photo)
    full = stylize(photo, generator, return_array=True).astype(float)
    half = stylize(photo, generator, strength=0.5, return_array=True).astype(float)
    np.testing.assert_allclose(half, 0.5 * full + 0.5 * photo, atol=1.0)
    assert np.abs(full - photo).mean() > 5


def test_preserve_color_keeps_input_chroma(generator):
    photo = pattern_photo()
    out = stylize(photo, generator, preserve_color=True, return_array=True)
    chroma_in = np.asarray(Image.fromarray(photo).convert("YCbCr"))[..., 1:].astype(float)
    chroma_out = np.asarray(Image.fromarray(out).convert("YCbCr"))[..., 1:].astype(float)
    plain = stylize(photo, generator, return_array=True)
    chroma_plain = np.asarray(Image.fromarray(plain).convert("YCbCr"))[..., 1:].astype(float)
    assert np.abs(chroma_out - chroma_in).mean() < 3.0
    assert np.abs(chroma_plain - chroma_in).mean() > 3 * np.abs(chroma_out - chroma_in).mean()
    luma = transfer_luminance(photo, plain)
    y_plain = np.asarray(Image.fromarray(plain).convert("YCbCr"))[..., 0].astype(float)
    y_luma = np.asarray(Image.fromarray(luma).convert("YCbCr"))[..., 0].astype(float)
    assert np.abs(y_plain - y_luma).mean() < 3.0


def test_stylize_tiles_what_does_not_fit_the_memory_budget(generator):
    photo = pattern_photo(300, 260)
    whole = stylize(photo, generator, return_array=True, precision="float32")
    session = session_for(generator, "float32")  # the session stylize uses
    assert session.plan_tiles(300, 260, max_memory_mb=10**6, overlap=128) is None
    assert session.plan_tiles(8000, 6000, max_memory_mb=2048, overlap=128) >= 128
    small = rss_mb() + 2 * session.bytes_per_pixel * 200**2 / 2**20
    tile = session.plan_tiles(300, 260, max_memory_mb=small, overlap=32)
    assert tile is not None and tile < 260
    tiled = stylize(photo, generator, return_array=True, precision="float32",
                    max_memory=small, overlap=128)  # fmt: skip
    assert np.abs(tiled.astype(int) - whole).max() <= 1


def test_max_size_and_too_small(generator):
    out = stylize(pattern_photo(64, 128), generator, max_size=64)
    assert out.size == (64, 32)
    with pytest.raises(ImageReadError, match="too small"):
        stylize(pattern_photo(20, 100), generator)
    with pytest.raises(ValueError, match="strength"):
        stylize(pattern_photo(), generator, strength=1.5)


def test_stroke_scale_paints_at_a_working_size_and_keeps_the_size(generator):
    photo = pattern_photo(128, 160)
    bigger = stylize(photo, generator, stroke_scale=2.0, return_array=True, precision="float32")
    assert bigger.shape == photo.shape
    # the same as painting the half-size photo and enlarging the painting back
    half = Image.fromarray(photo).resize((80, 64), Image.Resampling.LANCZOS)
    painted = stylize(half, generator, return_array=True, precision="float32")
    expected = np.asarray(Image.fromarray(painted).resize((160, 128), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(bigger, expected)
    # and not the plain stylization: the marks are twice as large
    plain = stylize(photo, generator, return_array=True, precision="float32")
    assert np.abs(plain.astype(int) - bigger).mean() > 2
    finer = stylize(photo, generator, stroke_scale=0.5, return_array=True, precision="float32")
    assert finer.shape == photo.shape
    # strength and preserve_color apply to the enlarged painting against the photo
    mixed = stylize(photo, generator, stroke_scale=2.0, strength=0.5, return_array=True,
                    precision="float32")  # fmt: skip
    np.testing.assert_allclose(mixed, 0.5 * expected + 0.5 * photo, atol=1.0)
    with pytest.raises(ValueError, match="leaves 20x16 px to paint"):
        stylize(photo, generator, stroke_scale=8.0)
    with pytest.raises(ValueError, match="leaves 20x16 px to paint"):  # whatever the strength
        stylize(photo, generator, stroke_scale=8.0, strength=0.0)
    with pytest.raises(ValueError, match="stroke_scale must be in"):
        stylize(photo, generator, stroke_scale=0.25)


def test_keep_alpha(generator, tmp_path):
    path = write_image(tmp_path / "a.png", size=(40, 40), mode="RGBA")
    out = stylize(path, generator, keep_alpha=True)
    assert out.mode == "RGBA"
    alpha = np.asarray(Image.open(path))[..., 3]
    np.testing.assert_array_equal(np.asarray(out)[..., 3], alpha)
    assert stylize(path, generator).mode == "RGB"


def test_tiled_close_to_whole_image_with_a_zoo_model():
    """The documented bound (docs/stylize.md): with the default 512 px tiles and 128 px
    overlap, the bundled 768x512 photo differs from whole-image inference by about 4.4 grey
    levels on average (instance-norm statistics are per tile); we require < 6."""
    from importlib import resources

    from keras_stylize import zoo
    from keras_stylize.options import DEFAULT_OVERLAP, DEFAULT_TILE

    generator = zoo.load("starry_night_johnson")
    photo = resources.files("keras_stylize") / "assets" / "kodim23.jpg"
    whole = stylize(photo, generator, return_array=True).astype(float)
    tiled = stylize(photo, generator, tile=DEFAULT_TILE, overlap=DEFAULT_OVERLAP,
                    return_array=True).astype(float)  # fmt: skip
    assert np.abs(tiled - whole).mean() < 6.0


def test_style_names_indices_and_blends(multi_style_path):
    from keras_stylize.generators.styles import style_vector
    from keras_stylize.zoo import load_generator

    model = load_generator(str(multi_style_path))
    np.testing.assert_array_equal(style_vector(model, None), [1, 0, 0])
    np.testing.assert_array_equal(style_vector(model, "scream"), [0, 1, 0])
    np.testing.assert_array_equal(style_vector(model, 2), [0, 0, 1])
    np.testing.assert_allclose(style_vector(model, "wave:0.7,stars:0.3"), [0.7, 0, 0.3])
    np.testing.assert_allclose(style_vector(model, "0:1,1:1"), [0.5, 0.5, 0])
    np.testing.assert_allclose(style_vector(model, {"stars": 2.0}), [0, 0, 1])
    for bad, message in [("starry", "unknown style 'starry'"), ("wave:-1", "non-negative"),
                         ("wave:0", "all zero"), ("wave:x", "bad style weight"),
                         (7, "unknown style")]:  # fmt: skip
        with pytest.raises(ValueError, match=message) as info:
            style_vector(model, bad)
        assert "wave, scream, stars" in str(info.value) or "NAME:WEIGHT" in str(info.value)
    single = johnson_generator(width=0.25)
    assert style_vector(single) is None
    with pytest.raises(ValueError, match="single style"):
        style_vector(single, "wave")


def test_blending_styles_mixes_normalization_parameters(multi_style_path):
    from keras_stylize.zoo import load_generator

    model = load_generator(str(multi_style_path))
    for layer in model.layers:  # give each style distinct parameters
        if hasattr(layer, "num_styles"):
            gamma, beta = layer.get_weights()
            layer.set_weights([gamma * np.array([[1.0], [0.3], [2.0]]), beta + [[0], [0.5], [-1]]])
    photo = pattern_photo()
    a = stylize(photo, model, style="wave", return_array=True).astype(float)
    b = stylize(photo, model, style="stars", return_array=True).astype(float)
    mixed = stylize(photo, model, style="wave:0.5,stars:0.5", return_array=True).astype(float)
    assert np.abs(a - b).mean() > 5
    assert np.abs(mixed - a).mean() > 1 and np.abs(mixed - b).mean() > 1
    tiled = stylize(photo, model, style="stars", tile=48, overlap=16, return_array=True)
    assert tiled.shape == photo.shape


def test_a_keras_file_that_is_not_a_generator_is_one_line(tmp_path):
    photo = write_image(tmp_path / "p.png", size=(40, 40))
    images = keras.Input((None, None, 3))
    grey = tmp_path / "grey.keras"
    keras.Model(images, keras.layers.Conv2D(1, 3, padding="same")(images)).save(grey)
    two = tmp_path / "two.keras"
    weights = keras.Input((2,))
    keras.Model([images, weights], keras.layers.Conv2D(3, 1)(images)).save(two)
    for model, reason in ((grey, "output shape"), (two, "no style_mix layer")):
        result = invoke("stylize", photo, "-m", model, "-o", tmp_path / "o.png")
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.splitlines()
        assert "is not a keras_stylize generator" in line and reason in line
    assert not (tmp_path / "o.png").exists()
