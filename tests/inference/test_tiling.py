import keras
import numpy as np
import pytest

from keras_stylize import johnson_generator, texture_net_generator
from keras_stylize.inference.session import InferenceSession
from keras_stylize.inference.tiling import _spans

from ..conftest import pattern_photo
from ..conftest import run_model as run_batch


def stylize_tiled(generator, photo, **kwargs):
    return InferenceSession(generator, "float32").stylize_tiled(photo, **kwargs)


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
    photo = pattern_photo(200, 230).astype(np.float32)
    whole = run_batch(generator, photo[None], weights)[0]
    tiled = stylize_tiled(generator, photo, tile=96, overlap=128, style_weights=weights)
    np.testing.assert_allclose(tiled, whole, atol=0.02)
    own = run_batch(generator, photo[None, :96, :96], weights)[0]  # a tile's own statistics
    assert np.abs(own[:64, :64] - whole[:64, :64]).mean() > 1.0
