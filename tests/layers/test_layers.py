import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stylize.layers import (
    CropToReference,
    NearestUpsampling2D,
    PadToMultiple,
    ReflectionPadding2D,
    SpatialNoise,
    UpsampleConv2D,
)
from keras_stylize.layers.reflection_padding import sliced_padding


@pytest.mark.parametrize(
    "mode, padding, size",
    [("reflect", (2, 3), (5, 6)), ("reflect", (4, 4), (9, 11)), ("reflect", (1, 0), (2, 3)),
     ("symmetric", (1, 1), (1, 1)), ("symmetric", (3, 2), (4, 2))],
)  # fmt: skip
def test_reflection_padding_matches_numpy(mode, padding, size, rng):
    x = rng.normal(size=(2, *size, 3)).astype("float32")
    y = ReflectionPadding2D(padding, mode=mode)(x)
    (ph, pw) = padding
    expected = np.pad(x, [(0, 0), (ph, ph), (pw, pw), (0, 0)], mode=mode)
    np.testing.assert_array_equal(np.asarray(y), expected)
    layer = ReflectionPadding2D(padding, mode=mode)
    model = keras.Sequential([keras.Input((None, None, 3)), layer])
    with sliced_padding(model):  # the TFLite lowering gives the same values
        np.testing.assert_array_equal(np.asarray(model(x)), expected)
    assert model.layers[0].lowering == "mirror_pad"


def test_nearest_upsampling_repeats_pixels(rng):
    x = rng.normal(size=(1, 3, 5, 2)).astype("float32")
    expected = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(np.asarray(NearestUpsampling2D()(x)), expected)


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (67, 91)])
def test_pad_to_multiple_and_crop_back(size, rng):
    x = rng.normal(size=(1, *size, 2)).astype("float32")
    padded = np.asarray(PadToMultiple(32)(x))
    h, w = size
    expected = np.pad(x, [(0, 0), (0, -h % 32), (0, -w % 32), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(padded, expected)
    cropped = np.asarray(CropToReference()([padded, x]))
    np.testing.assert_array_equal(cropped, x)


def test_symbolic_shapes():
    inputs = keras.Input((None, None, 4))
    assert PadToMultiple(4)(inputs).shape == (None, None, None, 4)
    fixed = keras.Input((30, 33, 4))
    assert PadToMultiple(4)(fixed).shape == (None, 32, 36, 4)
    assert NearestUpsampling2D()(fixed).shape == (None, 60, 66, 4)
    assert ReflectionPadding2D(1)(fixed).shape == (None, 32, 35, 4)


def test_spatial_noise_is_deterministic(rng):
    x = rng.normal(size=(2, 9, 10, 3)).astype("float32")
    a = np.asarray(SpatialNoise(2, seed=5)(x))
    b = np.asarray(SpatialNoise(2, seed=5)(x))
    c = np.asarray(SpatialNoise(2, seed=6)(x))
    assert a.shape == (2, 9, 10, 5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0, ..., 3:], a[1, ..., 3:])
    assert not np.array_equal(a[..., 3:], c[..., 3:])
    assert 0.0 <= a[..., 3:].min() and a[..., 3:].max() < 1.0


@pytest.mark.parametrize(
    "layer",
    [
        ReflectionPadding2D((1, 2), mode="symmetric"),
        PadToMultiple(8),
        NearestUpsampling2D(),
        SpatialNoise(3, seed=2),
    ],
)
def test_config_round_trip(layer):
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_argument_errors():
    with pytest.raises(ValueError, match="multiple"):
        PadToMultiple(0)
    with pytest.raises(ValueError, match="padding"):
        ReflectionPadding2D(-1)
    with pytest.raises(ValueError, match="channels"):
        SpatialNoise(0)


def test_symmetric_padding_repeats_the_edge(rng):
    x = rng.normal(size=(1, 1, 3, 2)).astype("float32")
    y = ReflectionPadding2D(1, mode="symmetric")(x)
    expected = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="symmetric")
    np.testing.assert_array_equal(np.asarray(y), expected)


def _three_layer_block(x, kernel, bias):
    """NearestUpsampling2D -> ReflectionPadding2D(1) -> 3x3 'valid' convolution, in numpy
    (the block UpsampleConv2D replaces)."""
    up = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    padded = np.pad(up, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    h, w = up.shape[1:3]
    out = np.zeros((x.shape[0], h, w, kernel.shape[-1]), np.float64)
    for i in range(3):
        for j in range(3):
            out += np.einsum("bhwc,co->bhwo", padded[:, i : i + h, j : j + w], kernel[i, j])
    return out + bias


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (5, 4)])
def test_upsample_conv_equals_upsampling_padding_and_convolution(size, rng):
    x = rng.normal(size=(2, *size, 3)).astype("float32")
    layer = UpsampleConv2D(4, bias_initializer="random_normal")
    y = np.asarray(layer(x))
    kernel, bias = (np.asarray(w, np.float64) for w in layer.get_weights())
    np.testing.assert_allclose(y, _three_layer_block(x, kernel, bias), atol=1e-5)
    assert layer.compute_output_shape((None, *size, 3)) == (None, 2 * size[0], 2 * size[1], 4)


def test_upsample_conv_gradients_equal_the_three_layer_block(rng):
    x = tf.constant(rng.normal(size=(1, 4, 5, 3)).astype("float32"))
    fused = UpsampleConv2D(2, use_bias=False)
    fused.build(x.shape)
    plain = keras.Sequential([NearestUpsampling2D(), ReflectionPadding2D(1),
                              keras.layers.Conv2D(2, 3, use_bias=False)])  # fmt: skip
    plain.build(x.shape)
    plain.set_weights(fused.get_weights())
    target = tf.constant(rng.normal(size=(1, 8, 10, 2)).astype("float32"))
    grads = []
    for model, weights in ((fused, fused.trainable_weights), (plain, plain.trainable_weights)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum((model(x) - target) ** 2)
        grads.append([np.asarray(g) for g in tape.gradient(loss, [x, *weights])])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_upsample_conv_config_round_trip_and_errors():
    layer = UpsampleConv2D(5, use_bias=False, name="up")
    clone = UpsampleConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="filters"):
        UpsampleConv2D(0)
