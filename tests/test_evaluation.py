import numpy as np
import pytest
from PIL import Image

from keras_stylize import PerceptualLoss, texture_net_generator
from keras_stylize.evaluation import blot_fraction, blot_mask, load_photo, mean_losses

from .conftest import write_image

SMALL_LAYERS = {"content_layer": "block2_conv1", "style_layers": ["block1_conv1", "block2_conv1"]}


@pytest.fixture
def setup(tmp_path, rng):
    generator = texture_net_generator()
    style = rng.uniform(0, 255, (1, 40, 40, 3)).astype("float32")
    loss = PerceptualLoss(style, vgg_weights=None, **SMALL_LAYERS)
    photos = [write_image(tmp_path / f"p{i}.jpg", size=(96, 64), seed=i) for i in range(2)]
    return generator, loss, photos


def test_photos_are_shrunk_never_enlarged(tmp_path):
    path = write_image(tmp_path / "wide.png", size=(96, 64))
    assert load_photo(path, 48).shape == (32, 48, 3)
    assert load_photo(path, 500).shape == (64, 96, 3)


def test_photos_are_decoded_as_users_see_them(tmp_path):
    # EXIF rotation applied, transparency composited on white (as `stylize` does).
    photo = Image.new("RGB", (60, 40), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(tmp_path / "r.jpg", exif=exif)
    assert load_photo(tmp_path / "r.jpg", 100).shape == (60, 40, 3)
    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    clear.save(tmp_path / "a.png")
    assert load_photo(tmp_path / "a.png", 100).min() == 255


def test_blot_measure():
    photo = np.full((10, 10, 3), 200, np.uint8)
    photo[:, :5] = 30  # left half dark: black output there is no blot
    output = np.full((10, 10, 3), 128, np.uint8)
    output[:, 3:7] = (20, 24, 10)  # near-black band across both halves
    output[0, 9] = (25, 0, 0)  # max channel 25: not near-black
    mask = blot_mask(photo, output)
    assert mask.sum() == 20 and mask[:, 5:7].all() and not mask[:, 3:5].any()
    assert blot_fraction(photo, output) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="shape"):
        blot_fraction(photo, output[:5])


def test_mean_losses_equal_a_direct_computation(setup):
    # The pipeline (decode, shrink, stylize, round to uint8, score, average) computed by
    # hand with Pillow, the generator and the loss.
    generator, loss, photos = setup
    m = mean_losses(generator, loss, photos, long_side=48)
    content, style = [], []
    for path in photos:
        image = Image.open(path).convert("RGB")
        image.thumbnail((48, 48), Image.Resampling.LANCZOS)
        x = np.asarray(image, np.float32)[None]
        y = np.clip(np.asarray(generator(x)) + 0.5, 0, 255).astype(np.uint8).astype(np.float32)
        parts = loss(x, y)
        content.append(float(parts["content_loss"]))
        style.append(float(parts["style_loss"]))
    assert m["stylized_content_loss"] == pytest.approx(np.mean(content), abs=1e-4)
    assert m["stylized_style_loss"] == pytest.approx(np.mean(style), abs=1e-4)
    assert m["unstyled_content_loss"] == 0.0 and m["stylized_content_loss"] > 0.05


def test_inverted_photos_change_the_output(setup):
    generator, loss, photos = setup
    m = mean_losses(generator, loss, photos, long_side=48, transform=lambda p: 255 - p)
    assert m["output_change_grey_levels"] > 1.0


def test_keys_and_a_generator_that_blacks_out_everything(setup, tmp_path):
    generator, loss, photos = setup
    m = mean_losses(generator, loss, photos[:1], long_side=48, unstyled=False)
    assert set(m) == {"stylized_content_loss", "stylized_style_loss", "blot_rate",
                      "blot_rate_max", "photos_over_blot_limit", "images"}  # fmt: skip
    import keras

    black = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Rescaling(0.0)])
    bright = write_image(tmp_path / "bright.png", size=(48, 48), seed=3)
    Image.new("RGB", (48, 48), (200, 200, 200)).save(bright)
    m = mean_losses(black, loss, [bright], long_side=48)
    assert m["blot_rate"] == 100.0 and m["photos_over_blot_limit"] == 1


def test_bad_input_is_a_clear_error(setup):
    generator, loss, photos = setup
    with pytest.raises(ValueError, match="no photos"):
        mean_losses(generator, loss, [])
    with pytest.raises(ValueError, match="changed the shape"):
        mean_losses(generator, loss, photos, long_side=48, transform=lambda p: p[:16])
