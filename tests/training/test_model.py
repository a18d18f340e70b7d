import keras
import numpy as np
import pytest

from keras_stylize import (
    PerceptualLoss,
    StylizationModel,
    johnson_generator,
    texture_net_generator,
    vgg19_features,
)
from keras_stylize.generators.extend import add_styles
from keras_stylize.layers import ConditionalInstanceNormalization

SMALL_LAYERS = {"content_layer": "block2_conv1", "style_layers": ["block1_conv1", "block2_conv1"]}


def _loss(rng, styles=1, **kwargs):
    images = [rng.uniform(0, 255, (1, 40, 40, 3)).astype("float32") for _ in range(styles)]
    return PerceptualLoss(images, vgg_weights=None, **SMALL_LAYERS, **kwargs)


def test_loss_decreases_over_a_few_steps(rng):
    keras.utils.set_random_seed(0)
    model = StylizationModel(johnson_generator(width=0.25), _loss(rng))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    history = model.fit(images, batch_size=2, epochs=8, verbose=0).history
    assert set(history) == {"loss", "content_loss", "style_loss", "tv_loss"}
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert history["style_loss"][-1] < history["style_loss"][0]
    evaluated = model.evaluate(images, batch_size=2, verbose=0, return_dict=True)
    assert np.isfinite(evaluated["loss"])


def test_sliced_style_measure_scores_each_image_against_its_style(rng):
    styles = [rng.uniform(0, 255, (1, 24, 24, 3)).astype("float32") for _ in range(2)]
    loss = PerceptualLoss(styles, vgg_weights=None, style_measure="sliced", **SMALL_LAYERS)
    assert loss.style_samples["block1_conv1"].shape == (2, 24 * 24, 64)
    batch = np.concatenate(styles)  # each style image, scored against itself and the other
    own = loss.style_loss_by_layer(batch, np.eye(2, dtype="float32"))
    other = loss.style_loss_by_layer(batch, np.eye(2, dtype="float32")[::-1])
    for layer in SMALL_LAYERS["style_layers"]:
        assert float(own[layer]) < 1e-9 < 1e-3 < float(other[layer])
    with pytest.raises(ValueError, match="style_measure"):
        PerceptualLoss(styles, vgg_weights=None, style_measure="moments", **SMALL_LAYERS)


@pytest.mark.parametrize("measure", ["gram", "sliced"])
def test_style_window_asks_every_region_for_the_style(measure, rng):
    # Half texture, half flat grey: as a whole the image has the painting's statistics
    # exactly; window by window, no region does.
    painting = np.full((1, 32, 64, 3), 128.0, "float32")
    painting[:, :, :32] = rng.uniform(0, 255, (1, 32, 32, 3))
    args = {"vgg_weights": None, "style_measure": measure, **SMALL_LAYERS}
    whole = PerceptualLoss(painting, **args)
    windowed = PerceptualLoss(painting, style_window=16, **args)
    assert float(whole(painting, painting)["style_loss"]) < 1e-6
    assert float(windowed(painting, painting)["style_loss"]) > 0.1
    with pytest.raises(ValueError, match="multiple of 2"):
        PerceptualLoss(painting, style_window=15, **args)


def test_palette_term_scores_colours_against_each_images_painting(rng):
    from keras_stylize.training.terms import Palette

    warm = np.zeros((1, 32, 32, 3), "float32") + [220, 120, 40]
    warm[:, :16] = [250, 200, 60]
    cold = np.zeros((1, 32, 32, 3), "float32") + [30, 60, 200]
    term = Palette(1.0, [warm, cold], directions=16)
    shuffled = warm[0].reshape(-1, 3)[rng.permutation(32 * 32)].reshape(1, 32, 32, 3)
    one_hot = np.eye(2, dtype="float32")
    assert float(term(None, None, shuffled, one_hot[:1], True)) < 1e-6  # same palette
    assert float(term(None, None, shuffled, one_hot[1:], True)) > 0.1  # the other one
    grey = np.full((1, 32, 32, 3), 128.0, "float32")
    assert float(term(None, None, grey, one_hot[:1], True)) > 0.01


def test_palette_window_tells_mixed_marks_from_patches(rng):
    from keras_stylize.training.terms import Palette

    red, blue = [200.0, 40.0, 30.0], [30.0, 60.0, 200.0]
    painting = np.zeros((1, 32, 32, 3), "float32") + red
    painting[:, :, 16:] = blue
    patches = painting[:, rng.permutation(32)].copy()  # two large halves, rows shuffled
    marks = np.zeros((1, 32, 32, 3), "float32") + red
    marks[:, (np.add.outer(np.arange(32), np.arange(32)) % 2) == 1] = blue  # fine checks
    one_hot = np.eye(1, dtype="float32")
    whole = Palette(1.0, [painting], directions=16)
    windowed = Palette(1.0, [painting], directions=16, window=8)
    for picture in (patches, marks):  # both hold the painting's colours in its proportions
        assert float(whole(None, None, picture, one_hot, True)) < 1e-6
    assert float(windowed(None, None, marks, one_hot, True)) < 1e-6
    assert float(windowed(None, None, patches, one_hot, True)) > 0.1
    assert float(windowed(None, None, patches, None, True)) > 0.1  # single-style model
    other = 255.0 - painting  # each image of a batch against its own painting's palette
    two = Palette(1.0, [painting, other], directions=16, window=8)
    batch = np.concatenate([marks, 255.0 - marks])
    assert float(two(None, None, batch, np.eye(2, dtype="float32"), True)) < 1e-6
    assert float(two(None, None, batch, np.eye(2, dtype="float32")[::-1], True)) > 0.1
    with pytest.raises(ValueError, match="at least 2 px"):
        Palette(1.0, [painting], window=1)


def test_palette_term_of_style_prediction_scores_each_image_against_its_own_painting(rng):
    from keras_stylize.training.terms import Palette

    warm = np.zeros((1, 32, 32, 3), "float32") + [220, 120, 40]
    warm[:, :16] = [250, 200, 60]
    paintings = np.concatenate([warm, 255.0 - warm])
    shuffled = np.stack([p.reshape(-1, 3)[rng.permutation(32 * 32)].reshape(32, 32, 3)
                         for p in paintings])  # fmt: skip
    term = Palette(1.0, None, directions=16)
    assert float(term(None, None, shuffled, None, True, paintings=paintings)) < 1e-6
    crops = paintings[:, 8:24]  # smaller crops holding the same colours in the same shares
    assert float(term(None, None, shuffled, None, True, paintings=crops)) < 0.01
    assert float(term(None, None, shuffled, None, True, paintings=paintings[::-1])) > 0.1
    windowed = Palette(1.0, None, directions=16, window=8)
    assert float(windowed(None, None, paintings, None, True, paintings=paintings)) > 0.1
    with pytest.raises(ValueError, match="style-prediction batches only"):
        term(None, None, shuffled, None, True)


def test_dead_unit_penalty_counts_pixels_with_too_few_units_on():
    from keras_stylize.training.terms import dead_unit_penalty

    values = np.full((1, 1, 2, 8), -3.0, "float32")
    values[0, 0, 0, :2] = [1.0, 0.5]  # a quarter of the units on: no penalty
    # The other pixel has every unit off by 3: its 2nd largest value lies 3 below zero.
    assert float(dead_unit_penalty(values, share=0.25, margin=0.0)) == pytest.approx(1.5)
    assert float(dead_unit_penalty(values, share=0.5, margin=0.0)) == pytest.approx(3.0)
    assert float(dead_unit_penalty(values, share=0.25, margin=1.0)) == pytest.approx(2.25)
    assert float(dead_unit_penalty(np.abs(values), share=1.0, margin=0.5)) == 0.0


@pytest.mark.parametrize("family", ["johnson", "texture"])
def test_dead_unit_term_revives_the_last_relu_layer(family, rng):
    from keras_stylize.training.terms import DeadUnits, last_relu_input

    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    styles = np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    units_on = {}
    for weight in (0.0, 10.0):  # without the term the units stay off: no gradient
        keras.utils.set_random_seed(0)
        if family == "johnson":
            generator = johnson_generator(width=0.25, num_styles=2)
        else:
            generator = texture_net_generator(ratios=(2, 1), num_styles=2)
        probe = keras.Model(generator.inputs, last_relu_input(generator))
        # Turn the last ReLU layer off everywhere: the normalization before it.
        norm = probe.layers[-1]
        gamma, beta = norm.get_weights()
        norm.set_weights([0.1 * gamma, beta - 1.0])
        assert not np.any(np.asarray(probe([images, styles])) > 0)
        # The term alone: no other loss pulls the units either way.
        loss = _loss(rng, styles=2, content_weight=0.0, style_weight=0.0, tv_weight=0.0)
        model = StylizationModel(generator, loss, terms=[DeadUnits(weight)])
        model.compile(optimizer=keras.optimizers.Adam(0.05))
        before = float(model.losses_of_batch((images, styles), training=False)["dead_unit_loss"])
        history = model.fit((images, styles), batch_size=2, epochs=20, verbose=0).history
        assert "dead_unit_loss" in history
        after = float(model.losses_of_batch((images, styles), training=False)["dead_unit_loss"])
        units_on[weight] = float(np.mean(np.asarray(probe([images, styles])) > 0))
    assert units_on[0.0] == 0.0 and before > 0.5  # the penalty as it stood at the start
    assert after < 0.1 * before and units_on[10.0] > 0.2
    with pytest.raises(ValueError, match="share"):
        DeadUnits(1.0, share=0.0)


def test_training_with_the_sliced_measure_lowers_it(rng):
    keras.utils.set_random_seed(0)
    model = StylizationModel(johnson_generator(width=0.25), _loss(rng, style_measure="sliced"))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    history = model.fit(images, batch_size=2, epochs=8, verbose=0).history
    assert history["style_loss"][-1] < 0.7 * history["style_loss"][0]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_losses_float32(policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    model = StylizationModel(texture_net_generator(), _loss(rng))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    parts = model.perceptual_loss(images, model.generator(images))
    assert all(v.dtype == "float32" for v in parts.values())
    history = model.fit(images, batch_size=2, epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert model.generator.output.dtype == "float32"


def test_shared_feature_extractor_and_generator_is_the_artifact(rng, tmp_path):
    features = vgg19_features(["block1_conv1", "block2_conv1"], weights=None)
    style = rng.uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    loss = PerceptualLoss(style, feature_extractor=features, **SMALL_LAYERS)
    assert loss.feature_extractor is features
    model = StylizationModel(texture_net_generator(), loss)
    model.generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras", safe_mode=True)
    assert not any("vgg" in layer.name or "block1" in layer.name for layer in loaded.layers)


def test_loss_optimizes_pixels_without_a_generator(rng):
    # The loss is independent of training: Gatys-style optimization of an image.
    loss = _loss(rng)
    photo = rng.uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    pixels = keras.Variable(photo)
    optimizer = keras.optimizers.Adam(5.0)
    import tensorflow as tf

    first = None
    for _ in range(15):
        with tf.GradientTape() as tape:
            value = loss(photo, pixels)["loss"]
        optimizer.apply([tape.gradient(value, pixels)], [pixels])
        first = float(value) if first is None else first
    assert float(loss(photo, pixels)["loss"]) < 0.8 * first


def test_multi_style_loss_scores_each_image_against_its_style(rng):
    loss = _loss(rng, styles=2)
    assert loss.num_styles == 2
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    generated = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    one_hot = np.eye(2, dtype="float32")
    both = float(loss(images, generated, one_hot)["style_loss"])
    single = [
        float(loss(images[i : i + 1], generated[i : i + 1], one_hot[i : i + 1])["style_loss"])
        for i in range(2)
    ]
    np.testing.assert_allclose(both, np.mean(single), rtol=1e-5)
    swapped = float(loss(images, generated, one_hot[::-1])["style_loss"])
    assert abs(swapped - both) > 1e-3 * both
    with pytest.raises(ValueError, match="style_weights"):
        loss(images, generated)


def test_multi_style_training_and_adding_a_style(rng):
    keras.utils.set_random_seed(0)
    generator = johnson_generator(width=0.25, num_styles=2, style_names=["a", "b"])
    model = StylizationModel(generator, _loss(rng, styles=2))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    weights = np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    history = model.fit((images, weights), batch_size=2, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]

    grown, new = add_styles(generator, ["c"])
    assert new == [2] and grown.get_layer("style_mix").style_names == ["a", "b", "c"]
    x = images[:1]
    for i in range(2):  # the old styles are unchanged
        w = np.eye(3, dtype="float32")[i : i + 1]
        np.testing.assert_allclose(
            np.asarray(grown([x, w])), np.asarray(generator([x, w[:, :2]])), atol=1e-4
        )
    before = [v.numpy().copy() for v in grown.weights]
    adapt = StylizationModel(grown, _loss(rng, styles=3), train_styles=new)
    adapt.compile(optimizer=keras.optimizers.Adam(1e-2))
    adapt.fit((images, np.eye(3, dtype="float32")[[2] * 4]), batch_size=2, epochs=2, verbose=0)
    changed_rows = set()
    for old, variable in zip(before, grown.weights, strict=True):
        diff = np.abs(variable.numpy() - old)
        if isinstance(variable.path, str) and ("gamma" in variable.path or "beta" in variable.path):
            changed_rows |= {int(r) for r in np.nonzero(diff.max(axis=-1) > 0)[0]}
        else:
            assert diff.max() == 0, variable.path  # frozen
    assert changed_rows == {2}
    cin = [layer for layer in grown.layers if isinstance(layer, ConditionalInstanceNormalization)]
    assert cin and all(layer.num_styles == 3 for layer in cin)


def test_darkening_penalty_in_training(rng):
    from keras_stylize.training.terms import Darkening, darkening_penalty

    keras.utils.set_random_seed(0)
    generator = johnson_generator(width=0.25)
    model = StylizationModel(generator, _loss(rng), terms=[Darkening(3.0)])
    images = rng.uniform(100, 255, (2, 32, 32, 3)).astype("float32")
    parts = model._batch_losses(images, None, training=True)
    generated = generator(images, training=True)
    penalty = float(darkening_penalty(images, generated))
    np.testing.assert_allclose(parts["darkening_loss"], penalty, rtol=1e-4)
    plain = model.perceptual_loss(images, generated)
    np.testing.assert_allclose(parts["loss"], plain["loss"] + 3.0 * penalty, rtol=1e-4)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(images, batch_size=2, epochs=1, verbose=0).history
    assert "darkening_loss" in history and np.isfinite(history["darkening_loss"][0])
    # Smaller squares (fit --darkening-cell) give another penalty, used as such.
    small = StylizationModel(generator, _loss(rng), terms=[Darkening(3.0, cell=4)])
    generated = generator(images, training=True)
    fine, coarse = (float(darkening_penalty(images, generated, cell=c)) for c in (4, 16))
    assert fine != pytest.approx(coarse, rel=1e-3)
    parts = small._batch_losses(images, None, training=True)
    np.testing.assert_allclose(parts["darkening_loss"], fine, rtol=1e-4)
    # A lower ratio (fit --darkening-ratio) lets squares lose more brightness for free.
    lenient = StylizationModel(generator, _loss(rng), terms=[Darkening(3.0, ratio=0.2)])
    strict, low = (float(darkening_penalty(images, generated, ratio=r)) for r in (0.5, 0.2))
    assert low < strict
    parts = lenient._batch_losses(images, None, training=True)
    np.testing.assert_allclose(parts["darkening_loss"], low, rtol=1e-4)
