import keras
import numpy as np
import pytest
from PIL import Image

from keras_stylize import johnson_generator
from keras_stylize.inference.sheets import LABEL_HEIGHT, blend_strip, square, style_sheet
from keras_stylize.inference.stylize import stylize

from ..conftest import PHOTO


@pytest.fixture(scope="module")
def two_styles():
    keras.utils.set_random_seed(4)
    model = johnson_generator(width=0.25, output="tanh", num_styles=2, style_names=["ink", "sun"])
    rng = np.random.default_rng(2)
    for layer in model.layers:  # make the two styles differ
        if hasattr(layer, "num_styles"):
            gamma, beta = layer.get_weights()
            layer.set_weights([gamma * rng.uniform(0.5, 1.5, gamma.shape),
                               beta + rng.normal(0, 0.5, beta.shape)])  # fmt: skip
    return model


def test_blend_strip_goes_from_one_style_to_the_other(two_styles):
    photo = Image.open(PHOTO)
    tile = 64
    strip = blend_strip(photo, two_styles, "ink", "sun", steps=5, tile=tile)
    assert strip.size == (5 * tile, tile + LABEL_HEIGHT)
    tiles = [np.asarray(strip.crop((i * tile, LABEL_HEIGHT, (i + 1) * tile, LABEL_HEIGHT + tile)),
                        float) for i in range(5)]  # fmt: skip
    base = square(photo, 2 * tile)
    expected = {0: "ink", 2: "ink:0.5,sun:0.5", 4: "sun"}
    for i, style in expected.items():
        want = np.asarray(square(stylize(base, two_styles, style=style), tile), float)
        assert np.abs(tiles[i] - want).mean() < 1.0, (i, style)
    assert np.abs(tiles[0] - tiles[4]).mean() > 5  # the styles really differ
    with pytest.raises(ValueError, match="unknown|valid"):
        blend_strip(photo, two_styles, "ink", "nope", tile=tile)
    with pytest.raises(ValueError, match="multi-style"):
        blend_strip(photo, johnson_generator(width=0.25), "ink", "sun", tile=tile)


def test_style_sheet_has_the_photo_and_every_style(two_styles):
    sheet = style_sheet(Image.open(PHOTO), [("two", two_styles)], tile=64, columns=4)
    assert sheet.size == (3 * 64, 64 + LABEL_HEIGHT)


def test_sheet_never_writes_onto_its_photo_or_model(tmp_path):
    from click.testing import CliRunner

    from keras_stylize.cli import main

    from ..conftest import write_image

    photo = write_image(tmp_path / "photo.jpg", size=(64, 64))
    original = photo.read_bytes()
    model = tmp_path / "g.keras"
    johnson_generator(width=0.25).save(model)
    saved = model.read_bytes()
    for out in (photo, tmp_path / "." / "photo.jpg"):
        result = CliRunner().invoke(main, ["sheet", str(photo), "-o", str(out), "-m", str(model),
                                           "--tile", "64", "--overwrite"])  # fmt: skip
        assert result.exit_code == 1 and "overwrite an input" in result.stderr, result.output
    assert photo.read_bytes() == original
    link = tmp_path / "link.jpg"
    link.symlink_to(photo)
    result = CliRunner().invoke(main, ["sheet", str(photo), "-o", str(link), "-m", str(model),
                                       "--tile", "64", "--overwrite"])  # fmt: skip
    assert result.exit_code == 1 and photo.read_bytes() == original
    assert model.read_bytes() == saved
