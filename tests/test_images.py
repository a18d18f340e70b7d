import numpy as np
import pytest
from PIL import Image

from keras_stylize.images import ImageReadError

from .conftest import pattern_photo, read_rgb, write_image


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16", "LA"])
def test_read_rgb_converts_modes(tmp_path, mode):
    base = Image.fromarray(pattern_photo())
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257)
    else:
        image = base.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    image.save(path)
    rgb = read_rgb(path)
    assert rgb.shape == (64, 80, 3) and rgb.dtype == np.uint8
    if mode == "I;16":
        np.testing.assert_allclose(rgb[..., 0], np.asarray(base.convert("L")), atol=1)


def test_exif_orientation_and_gif_first_frame(tmp_path):
    photo = Image.fromarray(pattern_photo(40, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    photo.save(tmp_path / "r.jpg", exif=exif)
    assert read_rgb(tmp_path / "r.jpg").shape == (60, 40, 3)
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert tuple(read_rgb(tmp_path / "a.gif")[0, 0]) == (255, 0, 0)


def test_decompression_bomb_limit(tmp_path):
    write_image(tmp_path / "big.png", size=(200, 200))
    default = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageReadError, match="too large"):
        read_rgb(tmp_path / "big.png", max_pixels=1000)
    assert read_rgb(tmp_path / "big.png", max_pixels=10**6).shape == (200, 200, 3)
    assert Image.MAX_IMAGE_PIXELS == default  # the global limit is left as it was


def test_pixel_limit_of_one_call_does_not_leak_into_other_threads(tmp_path, monkeypatch):
    # Default calls (as tf.data's threads make) never touch Pillow's global limit, and a
    # call with its own limit restores it: watch every assignment while threads decode.
    from concurrent.futures import ThreadPoolExecutor

    write_image(tmp_path / "p.png", size=(64, 64))
    import PIL.Image as pil

    seen = []

    class Recorder(type(pil)):
        def __setattr__(self, name, value):
            if name == "MAX_IMAGE_PIXELS":
                seen.append(value)
            super().__setattr__(name, value)

    monkeypatch.setattr(pil, "__class__", Recorder)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: read_rgb(tmp_path / "p.png"), range(32)))
    assert seen == []
    read_rgb(tmp_path / "p.png", max_pixels=10**7)
    assert seen == [10**7, pil.MAX_IMAGE_PIXELS]


def test_pixel_limit_message_quotes_the_limit_given(tmp_path):
    photo = write_image(tmp_path / "p.png", size=(48, 40))
    with pytest.raises(ImageReadError, match=r"1,920 pixels exceeds the limit of 100\)"):
        read_rgb(photo, max_pixels=100)
    with pytest.raises(ImageReadError, match=r"exceeds the limit of 1,000\)"):
        read_rgb(photo, max_pixels=1000)
