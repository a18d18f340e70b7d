import pytest

from keras_stylize import StylizationModel, texture_net_generator
from keras_stylize.evaluation import load_photo, mean_losses

from .conftest import write_image

SMALL_LAYERS = {"content_layer": "block2_conv1", "style_layers": ["block1_conv1", "block2_conv1"]}


@pytest.fixture
def setup(tmp_path, rng):
    generator = texture_net_generator()
    style = rng.uniform(0, 255, (1, 40, 40, 3)).astype("float32")
    losses = StylizationModel(generator, style, vgg_weights=None, **SMALL_LAYERS)
    photos = [write_image(tmp_path / f"p{i}.jpg", size=(96, 64), seed=i) for i in range(2)]
    return generator, losses, photos


def test_photos_are_shrunk_never_enlarged(tmp_path):
    path = write_image(tmp_path / "wide.png", size=(96, 64))
    assert load_photo(path, 48).shape == (32, 48, 3)
    assert load_photo(path, 500).shape == (64, 96, 3)


def test_identity_transform_changes_nothing(setup):
    generator, losses, photos = setup
    m = mean_losses(generator, losses, photos, long_side=48, transform=lambda p: p.copy())
    assert m["images"] == 2
    assert m["unstyled_content_loss"] == 0.0
    assert m["output_change_grey_levels"] == 0.0
    assert m["transformed_content_loss"] == m["stylized_content_loss"]
    assert m["transformed_style_loss"] == m["stylized_style_loss"]
    # a random generator's output is not the photo: its content loss is not zero
    assert m["stylized_content_loss"] > 0


def test_inverted_photos_change_the_output(setup):
    generator, losses, photos = setup
    m = mean_losses(generator, losses, photos, long_side=48, transform=lambda p: 255 - p)
    assert m["output_change_grey_levels"] > 1.0
    assert "transformed_style_loss" in m


def test_without_transform_only_the_plain_losses(setup):
    generator, losses, photos = setup
    m = mean_losses(generator, losses, photos[:1], long_side=48)
    assert set(m) == {"stylized_content_loss", "stylized_style_loss", "unstyled_content_loss",
                      "unstyled_style_loss", "images"}  # fmt: skip


def test_bad_input_is_a_clear_error(setup):
    generator, losses, photos = setup
    with pytest.raises(ValueError, match="no photos"):
        mean_losses(generator, losses, [])
    with pytest.raises(ValueError, match="changed the shape"):
        mean_losses(generator, losses, photos, long_side=48, transform=lambda p: p[:16])
