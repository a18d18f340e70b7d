import io
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from keras_stylize import johnson_generator, texture_net_generator
from keras_stylize.images import ImageReadError
from keras_stylize.inference.memory import activation_bytes_per_pixel, reserve, rss_mb
from keras_stylize.inference.session import InferenceSession, session_for
from keras_stylize.inference.stylize import stylize, transfer_luminance
from keras_stylize.inference.tiling import _spans

from .conftest import read_rgb, write_image
from .conftest import run_model as run_batch


def stylize_tiled(generator, photo, **kwargs):
    return InferenceSession(generator, "float32").stylize_tiled(photo, **kwargs)


def reserve_for(generator, pixels):
    return reserve(int(pixels * activation_bytes_per_pixel(generator)))


@pytest.fixture(scope="module")
def generator():
    # tanh keeps a random network's colours inside the pixel range (a random linear output
    # is mostly clipped), so colour tests measure the code, not clipping.
    keras.utils.set_random_seed(3)
    return johnson_generator(width=0.25, output="tanh")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, generator):
    path = tmp_path_factory.mktemp("model") / "g.keras"
    generator.save(path)
    return path


def _photo(h=64, w=80):
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    planes = [
        128 + 100 * np.sin(i / 6.0),
        128 + 100 * np.cos(j / 7.0),
        128 + 60 * np.sin((i + j) / 9),
    ]
    return np.stack(planes, -1).astype(np.uint8)


def test_accepts_path_pil_array_and_model_path(tmp_path, generator, model_path):
    photo = _photo()
    Image.fromarray(photo).save(tmp_path / "p.png")
    a = stylize(tmp_path / "p.png", generator, return_array=True)
    b = stylize(Image.fromarray(photo), str(model_path), return_array=True)
    c = stylize(photo.astype(np.float32), generator)
    assert a.shape == photo.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert isinstance(c, Image.Image) and c.size == (80, 64)


def test_strength_zero_returns_input_and_one_the_stylized(generator):
    photo = _photo()
    np.testing.assert_array_equal(stylize(photo, generator, strength=0.0, return_array=True), photo)
    full = stylize(photo, generator, return_array=True).astype(float)
    half = stylize(photo, generator, strength=0.5, return_array=True).astype(float)
    np.testing.assert_allclose(half, 0.5 * full + 0.5 * photo, atol=1.0)
    assert np.abs(full - photo).mean() > 5


def test_preserve_color_keeps_input_chroma(generator):
    photo = _photo()
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


def test_tiling_is_exact_for_a_pointwise_model(rng):
    # A per-pixel model has no statistics and no context: any difference would come from
    # cutting and reassembling the tiles.
    inputs = keras.Input((None, None, 3))
    pointwise = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="sigmoid")(inputs) * 255)
    photo = rng.uniform(0, 255, (150, 170, 3)).astype(np.float32)
    whole = np.asarray(pointwise(photo[None]))[0]
    for tile, overlap in [(96, 32), (64, 0), (50, 25)]:
        tiled = stylize_tiled(pointwise, photo, tile=tile, overlap=overlap)
        np.testing.assert_allclose(tiled, whole, atol=1e-3)


@pytest.mark.parametrize(
    "size, tile, overlap", [(2000, 800, 96), (3000, 896, 128), (500, 800, 96), (1024, 256, 0)]
)
def test_tiles_have_one_shape_and_own_regions_partition_the_axis(size, tile, overlap):
    """One tile shape (the memory pool reuses its blocks); own regions partition the axis;
    each own region has `overlap` px of context on both sides wherever the image has it."""
    spans = _spans(size, tile, overlap, multiple=4)
    assert len({end - start for start, end, _, _ in spans}) == 1
    assert spans[0][2] == 0 and spans[-1][3] == size
    assert all(a[3] == b[2] for a, b in zip(spans, spans[1:], strict=False))
    for start, end, own_start, own_end in spans:
        assert start % 4 == 0 and 0 <= start and end <= size
        assert start <= max(0, own_start - overlap) and end >= min(size, own_end + overlap)
        assert own_end - own_start <= tile


def test_centred_sums_in_row_blocks_equal_the_whole_sums(rng):
    from keras_stylize.inference.tiling import _centred_sums

    features = rng.normal(3.0, 2.0, (77, 41, 5)).astype(np.float32)  # 77 rows: 2 blocks + 13
    shift = features.mean(axis=(0, 1), dtype=np.float64) + 0.25
    centred = features.astype(np.float64) - shift
    expected = [centred.sum(axis=(0, 1)), np.square(centred).sum(axis=(0, 1))]
    np.testing.assert_allclose(_centred_sums(features, shift), expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("kind", ["johnson", "texture", "multi_style"])
def test_tiles_share_the_whole_image_statistics(kind):
    """Tiles normalized with the whole image's statistics (gathered tile by tile) equal
    the whole-image result; tiles normalized by their own statistics do not."""
    keras.utils.set_random_seed(5)
    weights = None
    if kind == "johnson":
        generator = johnson_generator(width=0.25, output="tanh")
    elif kind == "texture":
        generator = texture_net_generator(output="tanh")
    else:
        generator = johnson_generator(width=0.25, output="tanh", num_styles=3)
        weights = np.array([0.2, 0.0, 0.8], np.float32)
    photo = _photo(200, 230).astype(np.float32)
    whole = run_batch(generator, photo[None], weights)[0]
    tiled = stylize_tiled(generator, photo, tile=96, overlap=128, style_weights=weights)
    np.testing.assert_allclose(tiled, whole, atol=0.02)
    own = run_batch(generator, photo[None, :96, :96], weights)[0]  # a tile's own statistics
    assert np.abs(own[:64, :64] - whole[:64, :64]).mean() > 1.0


def test_stylize_tiles_what_does_not_fit_the_memory_budget(generator):
    photo = _photo(300, 260)
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


def test_reserving_the_pool_makes_no_memory_resident(generator, monkeypatch):
    from keras_stylize.inference import memory

    monkeypatch.setattr(memory, "_reserved", 0)
    assert reserve_for(generator, 64 * 64) == 0  # small passes fit in the pool as it is
    pixels = int(2**30 / activation_bytes_per_pixel(generator))  # a 1 GB pass
    before = rss_mb()
    reserved = reserve_for(generator, pixels)
    assert reserved >= 2**30 - 2**20
    assert rss_mb() - before < 0.1 * reserved / 2**20  # uninitialised: pages never touched
    assert reserve_for(generator, pixels) == 0  # the pool already has a region that large


def test_reduced_precision_stays_close_to_float32():
    from keras_stylize import zoo
    from keras_stylize.inference.precision import for_inference, resolve

    assert resolve("auto") in ("float32", "bfloat16", "float16")
    generator = zoo.load("starry_night_johnson")
    photo = _photo(128, 160).astype(np.float32)
    reference = np.clip(run_batch(generator, photo[None])[0], 0, 255)
    fast = for_inference(generator, "bfloat16")
    assert fast.get_layer("encoder1_conv").compute_dtype == "bfloat16"
    assert fast.output.dtype == "float32"
    out = np.clip(run_batch(fast, photo[None])[0], 0, 255)
    psnr = 10 * np.log10(255**2 / np.mean((out - reference) ** 2))
    assert 40 <= psnr < 100  # close, and really computed in another precision


def test_inference_fuses_upsampling_blocks_without_changing_the_result(tmp_path):
    from keras_stylize import zoo
    from keras_stylize.generators.graph import fuse_upsampling
    from keras_stylize.layers import NearestUpsampling2D, UpsampleConv2D

    generator = zoo.load("ten_styles_johnson")  # trained weights, two inputs
    fused = session_for(generator, "float32").model
    kinds = {type(layer) for layer in fused.layers}
    assert UpsampleConv2D in kinds and NearestUpsampling2D not in kinds
    assert fused.count_params() == generator.count_params()
    photo = _photo(96, 132).astype(np.float32)[None]
    weights = np.eye(10, dtype=np.float32)[3]
    reference = run_batch(generator, photo, weights)
    np.testing.assert_allclose(run_batch(fused, photo, weights), reference, atol=0.02)
    texture = texture_net_generator()  # its upsampling feeds a concatenation: kept
    assert fuse_upsampling(texture) is texture
    path = tmp_path / "fused.keras"  # the fused graph is a model like any other
    fused.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(run_batch(loaded, photo, weights), reference, atol=0.02)
    generator.get_layer("decoder2_conv").kernel.assign(
        np.zeros_like(generator.get_layer("decoder2_conv").kernel)
    )  # a later weight change reaches the cached copy
    changed = run_batch(session_for(generator, "float32").model, photo, weights)
    np.testing.assert_allclose(changed, run_batch(generator, photo, weights), atol=0.02)
    assert np.abs(changed - reference).max() > 1


def test_auto_precision_keeps_the_texture_network_in_float32(monkeypatch):
    import keras_stylize.inference.precision as precision

    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    johnson, texture = johnson_generator(width=0.25), texture_net_generator()
    if precision.resolve("auto") == "float16":
        pytest.skip("a GPU: auto is float16 for every generator")
    assert precision.resolve("auto", johnson) == "bfloat16"
    assert precision.resolve("auto", texture) == "float32"  # 32 dB worst photo in bf16
    assert precision.for_inference(texture, "auto") is texture
    assert precision.resolve("bfloat16", texture) == "bfloat16"  # asked for explicitly
    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    assert precision.resolve("auto", johnson) == "float32"


def test_max_size_and_too_small(generator):
    out = stylize(_photo(64, 128), generator, max_size=64)
    assert out.size == (64, 32)
    with pytest.raises(ImageReadError, match="too small"):
        stylize(_photo(20, 100), generator)
    with pytest.raises(ValueError, match="strength"):
        stylize(_photo(), generator, strength=1.5)


def test_keep_alpha(generator, tmp_path):
    path = write_image(tmp_path / "a.png", size=(40, 40), mode="RGBA")
    out = stylize(path, generator, keep_alpha=True)
    assert out.mode == "RGBA"
    alpha = np.asarray(Image.open(path))[..., 3]
    np.testing.assert_array_equal(np.asarray(out)[..., 3], alpha)
    assert stylize(path, generator).mode == "RGB"


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16", "LA"])
def test_read_rgb_converts_modes(tmp_path, mode):
    base = Image.fromarray(_photo())
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
    photo = Image.fromarray(_photo(40, 60))
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


def _cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "keras_stylize.cli", "stylize", *map(str, args)],
        capture_output=True, input=stdin, timeout=300,
    )  # fmt: skip


def _errors(result):
    return [ln for ln in result.stderr.decode().splitlines() if ln.startswith("error:")]


def test_cli_batch_with_bad_inputs(tmp_path, model_path):
    src = tmp_path / "in"
    write_image(src / "good1.jpg", size=(64, 48))
    write_image(src / "nested" / "good2.png", size=(50, 70), mode="RGBA")
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    (src / "empty.png").write_bytes(b"")
    good = (src / "good1.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(good[: len(good) // 4])
    (src / "text.png").write_text("hello")
    write_image(src / "tiny.png", size=(20, 20))
    write_image(src / "huge.png", size=(300, 300))
    out = tmp_path / "out"
    result = _cli(src, tmp_path / "missing.jpg", "-m", model_path, "-o", out, "-r",
                  "--format", "png", "--json", "--max-pixels", "50000")  # fmt: skip
    assert result.returncode == 1
    errors = _errors(result)
    for name in ["corrupt.jpg", "empty.png", "truncated.jpg", "text.png", "tiny.png",
                 "huge.png", "missing.jpg"]:  # fmt: skip
        assert sum(name in e for e in errors) == 1, (name, errors)
    assert len(errors) == 7
    summary = json.loads(result.stdout)
    assert summary["ok"] == 2 and summary["failed"] == 7
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["good1_stylized.png", "nested/good2_stylized.png"]
    assert Image.open(out / "good1_stylized.png").size == (64, 48)

    # Existing outputs are kept unless --overwrite.
    before = (out / "good1_stylized.png").read_bytes()
    again = _cli(src / "good1.jpg", "-m", model_path, "-o", out / "good1_stylized.png",
                 "--strength", "0")  # fmt: skip
    assert again.returncode == 1 and "exists" in _errors(again)[0]
    assert (out / "good1_stylized.png").read_bytes() == before
    forced = _cli(src / "good1.jpg", "-m", model_path, "-o", out / "good1_stylized.png",
                  "--strength", "0", "--overwrite")  # fmt: skip
    assert forced.returncode == 0
    assert (out / "good1_stylized.png").read_bytes() != before
    assert not [p for p in out.rglob("*.tmp")]


def test_cli_never_overwrites_input(tmp_path, model_path):
    path = write_image(tmp_path / "p.png", size=(48, 48))
    original = path.read_bytes()
    result = _cli(path, "-m", model_path, "-o", path, "--overwrite")
    assert result.returncode == 1 and "overwrite an input" in _errors(result)[0]
    assert path.read_bytes() == original


def test_cli_stdin_to_stdout(tmp_path, model_path, generator):
    buffer = io.BytesIO()
    Image.fromarray(_photo()).save(buffer, format="PNG")
    result = _cli("-", "-m", model_path, "-o", "-", stdin=buffer.getvalue())
    assert result.returncode == 0, result.stderr.decode()[-500:]
    out = np.asarray(Image.open(io.BytesIO(result.stdout)))
    np.testing.assert_array_equal(out, stylize(_photo(), generator, return_array=True))


def test_cli_bad_model_is_one_line(tmp_path):
    path = write_image(tmp_path / "p.png", size=(48, 48))
    result = _cli(path, "-m", tmp_path / "nope.keras")
    assert result.returncode == 2 and "cannot load model" in _errors(result)[0]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels but carries no image data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_header_is_refused_by_default(tmp_path, model_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(ImageReadError, match="too large"):
        read_rgb(bomb)
    result = _cli(bomb, "-m", model_path, "-o", tmp_path / "out")
    assert result.returncode == 1
    (line,) = _errors(result)
    assert "bomb.png" in line and "too large" in line and "--max-pixels" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_usage_errors(tmp_path, model_path):
    (tmp_path / "empty").mkdir()
    a = write_image(tmp_path / "a.png", size=(40, 40))
    b = write_image(tmp_path / "b.png", size=(40, 40), seed=2)
    empty = _cli(tmp_path / "empty", "-m", model_path, "-o", tmp_path / "out")
    assert empty.returncode == 1 and len(_errors(empty)) == 1
    assert "no image files" in _errors(empty)[0]
    two_to_file = _cli(a, b, "-m", model_path, "-o", tmp_path / "one.jpg")
    assert two_to_file.returncode == 2 and "names one file" in _errors(two_to_file)[0]
    bad_ext = _cli(a, "-m", model_path, "-o", tmp_path / "x.gif")
    assert bad_ext.returncode == 1 and "unsupported output extension" in _errors(bad_ext)[0]
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "one.jpg").exists()


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


@pytest.fixture(scope="module")
def multi_style_path(tmp_path_factory):
    keras.utils.set_random_seed(5)
    model = johnson_generator(width=0.25, num_styles=3, style_names=["wave", "scream", "stars"])
    path = tmp_path_factory.mktemp("multi") / "multi.keras"
    model.save(path)
    return path


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
    photo = _photo()
    a = stylize(photo, model, style="wave", return_array=True).astype(float)
    b = stylize(photo, model, style="stars", return_array=True).astype(float)
    mixed = stylize(photo, model, style="wave:0.5,stars:0.5", return_array=True).astype(float)
    assert np.abs(a - b).mean() > 5
    assert np.abs(mixed - a).mean() > 1 and np.abs(mixed - b).mean() > 1
    tiled = stylize(photo, model, style="stars", tile=48, overlap=16, return_array=True)
    assert tiled.shape == photo.shape


def test_cli_style_option(tmp_path, multi_style_path):
    photo = tmp_path / "p.png"
    Image.fromarray(_photo()).save(photo)
    ok = _cli(photo, "-m", multi_style_path, "--style", "scream:0.5,stars:0.5",
              "-o", tmp_path / "o.png", "--preserve-color", "--strength", "0.8")  # fmt: skip
    assert ok.returncode == 0, ok.stderr.decode()[-2000:]
    assert (tmp_path / "o.png").is_file()
    bad = _cli(photo, "-m", multi_style_path, "--style", "nope", "-o", tmp_path / "b.png")
    assert bad.returncode == 2
    assert _errors(bad) == ["error: --style: unknown style 'nope'; valid styles: wave, "
                            "scream, stars (or indices 0-2)"]  # fmt: skip
    assert not (tmp_path / "b.png").exists()


def _run(*args):
    from click.testing import CliRunner

    from keras_stylize.cli import main

    return CliRunner().invoke(main, ["stylize", *map(str, args)])


def test_cli_inputs_writing_one_output_are_refused_before_any_work(tmp_path, model_path):
    folder = tmp_path / "in"
    write_image(folder / "a.bmp", size=(40, 40))
    write_image(folder / "a.tif", size=(40, 40), seed=1)
    write_image(folder / "b.png", size=(40, 40), seed=2)
    for extra in ([], ["--overwrite"]):
        result = _run(folder, "-m", model_path, "-o", tmp_path / "out", *extra)
        assert result.exit_code == 2, result.output
        assert "a.bmp and" in result.stderr and "a.tif" in result.stderr
        assert not (tmp_path / "out").exists()
    x_upper = write_image(tmp_path / "x.JPG", size=(40, 40), fmt="JPEG")
    x_lower = write_image(tmp_path / "x.jpg", size=(40, 40), seed=3)
    result = _run(x_upper, x_lower, "-m", model_path, "-o", tmp_path / "out2")
    assert result.exit_code == 2 and "x_stylized.jpg" in result.stderr
    assert not (tmp_path / "out2").exists()


def test_cli_an_output_created_meanwhile_is_not_replaced(tmp_path, model_path, monkeypatch):
    import keras_stylize.inference.stylize as inference

    photo = write_image(tmp_path / "p.png", size=(40, 40))
    target = tmp_path / "o.png"
    real = inference.stylize

    def racing(*args, **kwargs):  # a second process finishes first
        target.write_bytes(b"first result")
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "stylize", racing)
    result = _run(photo, "-m", model_path, "-o", target)
    assert result.exit_code == 1 and "exists (use --overwrite)" in result.stderr
    assert target.read_bytes() == b"first result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "p.png"]


def test_cli_non_finite_numbers_and_overflowing_blends_are_usage_errors(
    tmp_path, model_path, multi_style_path
):
    photo = write_image(tmp_path / "p.png", size=(40, 40))
    cases = [(model_path, ["--max-memory", "nan"]), (model_path, ["--strength", "nan"]),
             (model_path, ["--max-memory", "inf"]),
             (multi_style_path, ["--style", "scream:1e308,stars:1e308"])]  # fmt: skip
    for model, extra in cases:
        result = _run(photo, "-m", model, "-o", tmp_path / "o.png", *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert not (tmp_path / "o.png").exists()
    result = _run(photo, "-m", multi_style_path, "-o", tmp_path / "o.png", "--style",
                  "scream:1e308,stars:1e308")  # fmt: skip
    assert result.stderr.startswith("error: --style: style weights are too large")


def test_folder_scans_skip_hidden_leftovers(tmp_path, model_path):
    folder = tmp_path / "in"
    write_image(folder / "p.png", size=(40, 40))
    (folder / ".p_stylized.jpg.x1y2.tmp.jpg").write_bytes(b"half a file")
    write_image(folder / ".hidden" / "q.png", size=(40, 40))
    result = _run(folder, "-r", "-m", model_path, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["p_stylized.png"]


def test_pixel_limit_message_quotes_the_limit_given(tmp_path):
    photo = write_image(tmp_path / "p.png", size=(48, 40))
    with pytest.raises(ImageReadError, match=r"1,920 pixels exceeds the limit of 100\)"):
        read_rgb(photo, max_pixels=100)
    with pytest.raises(ImageReadError, match=r"exceeds the limit of 1,000\)"):
        read_rgb(photo, max_pixels=1000)


def test_a_keras_file_that_is_not_a_generator_is_one_line(tmp_path):
    photo = write_image(tmp_path / "p.png", size=(40, 40))
    images = keras.Input((None, None, 3))
    grey = tmp_path / "grey.keras"
    keras.Model(images, keras.layers.Conv2D(1, 3, padding="same")(images)).save(grey)
    two = tmp_path / "two.keras"
    weights = keras.Input((2,))
    keras.Model([images, weights], keras.layers.Conv2D(3, 1)(images)).save(two)
    for model, reason in ((grey, "output shape"), (two, "no style_mix layer")):
        result = _run(photo, "-m", model, "-o", tmp_path / "o.png")
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.splitlines()
        assert "is not a keras_stylize generator" in line and reason in line
    assert not (tmp_path / "o.png").exists()
