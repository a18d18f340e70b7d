import keras
import numpy as np
import pytest

from keras_stylize import InstanceNormalization


def numpy_instance_norm(x, gamma, beta, eps=1e-5):
    """Paper eq. 3: statistics per image t and channel i over H and W."""
    mu = x.mean(axis=(1, 2), keepdims=True)
    var = ((x - mu) ** 2).mean(axis=(1, 2), keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def _layer_with_random_affine(channels, rng):
    layer = InstanceNormalization()
    layer.build((None, None, None, channels))
    gamma = rng.normal(1.0, 0.3, channels).astype("float32")
    beta = rng.normal(0.0, 0.5, channels).astype("float32")
    layer.set_weights([gamma, beta])
    return layer, gamma, beta


@pytest.mark.parametrize("shape", [(2, 7, 5, 3), (1, 13, 9, 4), (3, 1, 11, 2)])
def test_matches_numpy_eq3(shape, rng):
    x = rng.normal(3.0, 2.0, shape).astype("float32")
    layer, gamma, beta = _layer_with_random_affine(shape[-1], rng)
    expected = numpy_instance_norm(x.astype("float64"), gamma, beta)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-4, rtol=1e-4)


def test_matches_group_normalization_minus_one(rng):
    x = rng.normal(0.0, 5.0, (2, 9, 11, 6)).astype("float32")
    layer, gamma, beta = _layer_with_random_affine(6, rng)
    group = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    group.build(x.shape)
    group.set_weights([gamma, beta])
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(group(x)), atol=1e-4)


@pytest.mark.parametrize("a,b", [(0.5, 10.0), (3.0, -40.0), (20.0, 100.0)])
def test_contrast_and_brightness_invariance(a, b, rng):
    x = rng.normal(0.0, 1.0, (2, 16, 12, 3)).astype("float32")
    layer = InstanceNormalization(epsilon=1e-7)
    np.testing.assert_allclose(np.asarray(layer(a * x + b)), np.asarray(layer(x)), atol=2e-3)


def test_same_in_training_and_inference(rng):
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    layer = InstanceNormalization()
    np.testing.assert_array_equal(
        np.asarray(layer(x, training=True)), np.asarray(layer(x, training=False))
    )
    assert not layer.non_trainable_weights  # no moving statistics


def test_unknown_spatial_size_and_counts():
    inputs = keras.Input((None, None, 5))
    model = keras.Model(inputs, InstanceNormalization()(inputs))
    assert model.count_params() == 10
    assert model(np.ones((1, 3, 4, 5), "float32")).shape == (1, 3, 4, 5)
    assert InstanceNormalization(center=False, scale=False)(np.ones((1, 2, 2, 5))).shape[-1] == 5


def test_mixed_float16_is_finite_and_close(rng):
    # Activations of this size overflow float16 when squared: statistics must be float32.
    x = rng.normal(0.0, 300.0, (2, 10, 10, 4)).astype("float32")
    reference = np.asarray(InstanceNormalization()(x))
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = InstanceNormalization()
    y = layer(x)
    assert layer.compute_dtype == "float16" and y.dtype == "float16"
    assert layer.gamma.dtype == "float32"
    y = np.asarray(y, dtype="float32")
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, reference, atol=1e-2)


def test_config_round_trip():
    layer = InstanceNormalization(epsilon=1e-3, center=False, gamma_initializer="zeros", name="n")
    clone = InstanceNormalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.epsilon == 1e-3 and clone.center is False


def test_saved_model_round_trip_safe_mode(tmp_path, rng):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, InstanceNormalization()(inputs))
    model.layers[-1].set_weights([rng.normal(size=3).astype("float32")] * 2)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = rng.normal(size=(1, 5, 7, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="epsilon"):
        InstanceNormalization(epsilon=0)
    with pytest.raises(ValueError):
        InstanceNormalization()(np.ones((2, 3), "float32"))


# --- ConditionalInstanceNormalization -------------------------------------------------

from keras_stylize import ConditionalInstanceNormalization  # noqa: E402


def _cin(num_styles, channels, rng):
    layer = ConditionalInstanceNormalization(num_styles)
    layer.build([(None, None, None, channels), (None, num_styles)])
    gamma = rng.normal(1.0, 0.3, (num_styles, channels)).astype("float32")
    beta = rng.normal(0.0, 0.5, (num_styles, channels)).astype("float32")
    layer.set_weights([gamma, beta])
    return layer, gamma, beta


def test_conditional_one_hot_equals_plain_instance_norm(rng):
    x = rng.normal(3.0, 2.0, (3, 9, 7, 5)).astype("float32")
    layer, gamma, beta = _cin(4, 5, rng)
    styles = np.array([2, 0, 3])
    w = np.eye(4, dtype="float32")[styles]
    expected = np.stack([
        numpy_instance_norm(x[i : i + 1].astype("float64"), gamma[s], beta[s])[0]
        for i, s in enumerate(styles)
    ])  # fmt: skip
    np.testing.assert_allclose(np.asarray(layer([x, w])), expected, atol=1e-4, rtol=1e-4)


def test_conditional_blend_equals_instance_norm_with_mixed_parameters(rng):
    x = rng.normal(0.0, 4.0, (1, 6, 8, 3)).astype("float32")
    layer, gamma, beta = _cin(3, 3, rng)
    w = np.array([[0.2, 0.0, 0.8]], "float32")
    plain = InstanceNormalization()
    plain.build(x.shape)
    plain.set_weights([w[0] @ gamma, w[0] @ beta])
    np.testing.assert_allclose(np.asarray(layer([x, w])), np.asarray(plain(x)), atol=1e-4)


@pytest.mark.parametrize("a,b", [(0.5, 10.0), (20.0, -100.0)])
def test_conditional_contrast_invariance(a, b, rng):
    x = rng.normal(0.0, 1.0, (2, 10, 10, 4)).astype("float32")
    layer = ConditionalInstanceNormalization(2, epsilon=1e-7)
    w = np.array([[1, 0], [0.5, 0.5]], "float32")
    np.testing.assert_allclose(
        np.asarray(layer([a * x + b, w])), np.asarray(layer([x, w])), atol=2e-3
    )


def test_conditional_config_round_trip_safe_mode_and_counts(tmp_path, rng):
    features = keras.Input((None, None, 6))
    weights = keras.Input((3,))
    layer = ConditionalInstanceNormalization(3, epsilon=1e-3, name="cin")
    model = keras.Model([features, weights], layer([features, weights]))
    assert model.count_params() == 2 * 3 * 6
    config = layer.get_config()
    assert config["num_styles"] == 3 and config["epsilon"] == 1e-3
    clone = ConditionalInstanceNormalization.from_config(config)
    assert clone.num_styles == 3 and clone.epsilon == 1e-3
    model.get_layer("cin").set_weights([rng.normal(size=(3, 6)), rng.normal(size=(3, 6))])
    model.save(tmp_path / "cin.keras")
    loaded = keras.saving.load_model(tmp_path / "cin.keras", safe_mode=True)
    x = rng.normal(size=(2, 5, 5, 6)).astype("float32")
    w = np.array([[1, 0, 0], [0, 0.5, 0.5]], "float32")
    np.testing.assert_array_equal(np.asarray(model([x, w])), np.asarray(loaded([x, w])))


def test_conditional_mixed_precision_statistics_in_float32(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = ConditionalInstanceNormalization(2)
    x = (rng.normal(0.0, 300.0, (1, 16, 16, 3))).astype("float16")  # squares overflow fp16
    y = np.asarray(layer([x, np.array([[0, 1]], "float32")]))
    assert y.dtype == np.float16 and np.all(np.isfinite(y))
    assert abs(float(y.astype("float32").std()) - 1.0) < 0.01


def test_conditional_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_styles"):
        ConditionalInstanceNormalization(0)
    layer = ConditionalInstanceNormalization(2)
    with pytest.raises(ValueError, match="2 columns"):
        layer.build([(None, 4, 4, 3), (None, 3)])


from keras_stylize.layers import SharedStatisticsNormalization  # noqa: E402


@pytest.mark.parametrize("num_styles", [None, 3])
def test_shared_statistics_with_the_input_statistics_equal_instance_norm(num_styles, rng):
    x = rng.normal(2.0, 3.0, (1, 9, 11, 4)).astype("float32")
    gamma = rng.normal(1.0, 0.2, (4,) if num_styles is None else (3, 4)).astype("float32")
    beta = rng.normal(0.0, 0.5, gamma.shape).astype("float32")
    shared = SharedStatisticsNormalization(num_styles, name="n")
    if num_styles is None:
        reference = InstanceNormalization()
        args, shared_args = x, x
    else:
        reference = ConditionalInstanceNormalization(num_styles)
        style = np.array([[0.3, 0.0, 0.7]], "float32")
        args = shared_args = [x, style]
    reference(args)
    reference.gamma.assign(gamma)
    reference.beta.assign(beta)
    shared(shared_args)
    shared.gamma.assign(gamma)
    shared.beta.assign(beta)
    shared.mean.assign(x.mean(axis=(0, 1, 2)))
    shared.variance.assign(x.var(axis=(0, 1, 2)))
    np.testing.assert_allclose(shared(shared_args), reference(args), atol=1e-4)
    # other statistics give another result: they are really used
    shared.mean.assign(x.mean(axis=(0, 1, 2)) + 1.0)
    assert np.abs(np.asarray(shared(shared_args)) - np.asarray(reference(args))).mean() > 0.1
    config = shared.get_config()
    assert SharedStatisticsNormalization.from_config(config).get_config() == config
