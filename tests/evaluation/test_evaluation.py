import numpy as np
import pytest
from PIL import Image

from keras_stylize import PerceptualLoss, texture_net_generator
from keras_stylize.evaluation import (
    blot_fraction,
    blot_mask,
    load_photo,
    mean_losses,
    patch_fraction,
    patch_mask,
    spot_fraction,
    spot_mask,
    unexplained_colour,
)
from keras_stylize.evaluation.measures import (
    box_mean,
    colour_variety,
    palette_distance,
    rgb_to_lab,
)

from ..conftest import recoloured_scene, write_image

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


def test_box_mean_equals_a_direct_window_mean(rng):
    x = rng.uniform(0, 255, (9, 12, 3))
    padded = np.pad(x, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    direct = np.stack([[padded[i : i + 5, j : j + 5].mean(axis=(0, 1)) for j in range(12)]
                       for i in range(9)])  # fmt: skip
    np.testing.assert_allclose(box_mean(x, 2), direct, atol=1e-9)


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_spot_measure_finds_a_painted_star_not_strokes_or_colour_shifts():
    # A flat sky photo; outputs: a yellow star painted on it, fine dark/light strokes
    # (period 4 px, like brush texture), and a uniform recolouring. Only the star counts.
    sky = np.full((128, 160, 3), (90, 130, 200), np.uint8)
    star = sky.copy()
    star[_disc(sky.shape[:2], (64, 80), 10)] = (240, 220, 60)
    mask = spot_mask(sky, star)
    assert mask[64, 80] and not mask[:20].any() and not mask[:, :40].any()
    assert 0.005 < spot_fraction(sky, star) < 0.05
    strokes = sky.astype(int) + np.where((np.arange(160) // 2) % 2, 40, -40)[None, :, None]
    assert spot_fraction(sky, np.clip(strokes, 0, 255).astype(np.uint8)) == 0.0
    assert spot_fraction(sky, np.full_like(sky, (30, 60, 20))) == 0.0
    # The same star where the photo itself has a round object there is content, not a spot.
    moon = sky.copy()
    moon[_disc(sky.shape[:2], (64, 80), 10)] = 250
    assert not spot_mask(moon, star)[64, 80]
    with pytest.raises(ValueError, match="shape"):
        spot_fraction(sky, star[:5])


def _glow(shape, centre, sigma):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma**2))


def test_patch_measure_finds_a_soft_glow_not_a_recolouring_of_the_photo(rng):
    # A photo with a gradient sky, a dark box and a bright round object; its "stylization"
    # inverts and swaps the channels with other gains and adds fine strokes: all of it a
    # local colour mapping of the photo, so no patch. A soft yellow glow (Gaussian, sigma 14
    # px, no edge) painted on the sky is one, though the spot measure misses it.
    h, w = 160, 200
    photo, styled = recoloured_scene(rng, h, w)
    p = photo.astype(float)
    assert patch_fraction(photo, np.clip(styled, 0, 255).astype(np.uint8)) == 0.0
    glow = _glow((h, w), (120, 140), 14)[..., None]
    glowing = np.clip(styled + glow * (60, 54, -36), 0, 255).astype(np.uint8)
    mask = patch_mask(photo, glowing)
    assert mask[120, 140] and not mask[:, :100].any()
    assert 0.005 < patch_fraction(photo, glowing) < 0.05
    assert spot_fraction(photo, glowing) == 0.0
    # A sharp star is a patch too.
    star = np.clip(styled, 0, 255).astype(np.uint8)
    star[_disc((h, w), (120, 140), 10)] = (240, 220, 60)
    assert patch_mask(photo, star)[120, 140]
    # The same glow where the photo has a soft bright spot of its own is content.
    lit = np.clip(p + glow * 90, 0, 255).astype(np.uint8)
    assert not patch_mask(lit, glowing)[120, 140]
    # Per pixel, what is left of the glowing stylization is the strokes (+-30), which the
    # photo does not explain either; the patch measure averages them out.
    assert 20 < np.abs(unexplained_colour(photo, glowing)[60:100, 20:60]).mean() < 40
    with pytest.raises(ValueError, match="shape"):
        patch_fraction(photo, glowing[:5])


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
    assert not any("/" in key for key in m)


def test_per_layer_style_terms_add_up_to_the_style_loss(tmp_path, rng):
    generator = texture_net_generator()
    style = rng.uniform(0, 255, (1, 40, 40, 3)).astype("float32")
    weights = {"block1_conv1": 0.5, "block2_conv1": 2.0}
    loss = PerceptualLoss(style, vgg_weights=None, content_layer="block2_conv1",
                          style_layers=weights)  # fmt: skip
    photos = [write_image(tmp_path / f"p{i}.jpg", size=(96, 64), seed=i) for i in range(2)]
    m = mean_losses(generator, loss, photos, long_side=48, unstyled=False, per_layer=True)
    terms = {layer: m[f"stylized_style_loss/{layer}"] for layer in weights}
    assert min(terms.values()) > 0
    weighted = sum(weights[layer] * terms[layer] for layer in weights)
    assert m["stylized_style_loss"] == pytest.approx(weighted, abs=5e-4)


def test_a_style_of_a_multi_style_model_against_a_one_style_loss(setup):
    """How a style added to a multi-style model is scored against its own single-style
    targets: the style's stylization, the loss of that one style."""
    from keras_stylize.inference.stylize import stylize

    _, loss, photos = setup
    generator = texture_net_generator(num_styles=2, style_names=["a", "b"])
    m = mean_losses(generator, loss, photos, long_side=48, style="b", unstyled=False)
    style = []
    for path in photos:
        x = load_photo(path, 48)
        y = stylize(x, generator, style="b", return_array=True, precision="float32",
                    max_memory=None)  # fmt: skip
        style.append(
            float(loss(x[None].astype("float32"), y[None].astype("float32"))["style_loss"])
        )
    assert m["stylized_style_loss"] == pytest.approx(np.mean(style), abs=1e-4)


def test_inverted_photos_change_the_output(setup):
    generator, loss, photos = setup
    m = mean_losses(generator, loss, photos, long_side=48, transform=lambda p: 255 - p)
    assert m["output_change_grey_levels"] > 1.0


def test_keys_and_a_generator_that_blacks_out_everything(setup, tmp_path):
    generator, loss, photos = setup
    m = mean_losses(generator, loss, photos[:1], long_side=48, unstyled=False)
    assert set(m) == {"stylized_content_loss", "stylized_style_loss", "blot_rate",
                      "blot_rate_max", "photos_over_blot_limit", "spot_rate", "spot_rate_max",
                      "patch_rate", "patch_rate_max", "images"}  # fmt: skip
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


def test_rgb_to_lab_reference_colours():
    lab = rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.1)  # sRGB red, D65


def test_palette_distance_sees_colours_not_places(rng):
    # A painting of four flat colours; the same colours in other places are the same
    # palette; a grade onto one of them is not.
    colours = np.array([[200, 40, 30], [30, 60, 200], [240, 220, 60], [20, 20, 20]], np.uint8)
    painting = colours[rng.integers(0, 4, (64, 64))].repeat(4, 0).repeat(4, 1)
    moved = colours[rng.integers(0, 4, (32, 32))].repeat(8, 0).repeat(8, 1)
    graded = np.broadcast_to(colours[0], (200, 200, 3)) * rng.uniform(0.7, 1.0, (200, 200, 1))
    assert palette_distance(painting, painting) == 0.0
    assert palette_distance(moved, painting) < 5.0
    assert palette_distance(graded.astype(np.uint8), painting) > 20.0


def test_colour_variety_sees_fragments_not_flat_patches_or_gradients(rng):
    colours = np.array([[200, 40, 30], [30, 60, 200], [240, 220, 60], [20, 20, 20]], np.uint8)
    fragments = colours[rng.integers(0, 4, (16, 16))].repeat(4, 0).repeat(4, 1)  # 4 px marks
    patches = colours[rng.integers(0, 4, (2, 2))].repeat(32, 0).repeat(32, 1)  # 32 px patches
    ramp = np.linspace(0, 255, 64)
    gradient = np.stack(np.broadcast_arrays(ramp[None], ramp[:, None], 128), -1).astype(np.uint8)
    assert colour_variety(np.full((64, 64, 3), 77, np.uint8)) < 1e-9
    assert colour_variety(fragments) > 3 * colour_variety(patches)
    assert colour_variety(fragments) > 3 * colour_variety(gradient)
    # a colour-for-colour greying of the fragments lowers it: less contrast, less variety
    faded = (0.5 * fragments + 0.5 * 128).astype(np.uint8)
    assert colour_variety(faded) < 0.7 * colour_variety(fragments)
    with pytest.raises(ValueError, match="wider than 8 px"):
        colour_variety(fragments[:8])


def test_colour_variety_is_the_mean_spread_of_the_squares_around_each_pixel(rng):
    image = rng.integers(0, 256, (20, 28, 3)).astype(np.uint8)
    image[:10] = [90, 140, 30]
    lab = np.pad(rgb_to_lab(image), ((2, 2), (2, 2), (0, 0)), mode="reflect")
    spreads = [np.linalg.norm(lab[r : r + 5, c : c + 5].reshape(-1, 3).std(axis=0))
               for r in range(20) for c in range(28)]  # fmt: skip
    assert colour_variety(image, 2) == pytest.approx(np.mean(spreads), rel=1e-6)
    with pytest.raises(ValueError, match="RGB image"):
        colour_variety(np.zeros((20, 20, 4), np.uint8))
    with pytest.raises(ValueError, match="radius >= 1"):
        colour_variety(image, 0)
