import keras
import numpy as np
import pytest

from keras_stylize import johnson_generator, texture_net_generator
from keras_stylize.inference.memory import activation_bytes_per_pixel, reserve, rss_mb
from keras_stylize.inference.session import session_for

from ..conftest import pattern_photo
from ..conftest import run_model as run_batch


def reserve_for(generator, pixels):
    return reserve(int(pixels * activation_bytes_per_pixel(generator)))


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
    photo = pattern_photo(128, 160).astype(np.float32)
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
    photo = pattern_photo(96, 132).astype(np.float32)[None]
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
