import keras
import numpy as np
import pytest

from keras_stylize import vgg19_features
from keras_stylize.perceptual.losses import (
    content_loss,
    gram_matrix,
    sliced_wasserstein_terms,
    split_windows,
    srgb_to_lab,
    style_loss,
    total_variation_loss,
)
from keras_stylize.training.terms import darkening_penalty


def test_gram_matrix_matches_numpy(rng):
    f = rng.normal(size=(2, 5, 7, 4)).astype("float32")
    flat = f.reshape(2, 35, 4)
    expected = np.einsum("bnc,bnd->bcd", flat, flat) / (5 * 7 * 4)
    np.testing.assert_allclose(np.asarray(gram_matrix(f)), expected, rtol=1e-5, atol=1e-6)


def test_losses_zero_at_target_and_positive_elsewhere(rng):
    f = rng.normal(size=(1, 6, 6, 3)).astype("float32")
    assert float(content_loss(f, f)) == 0.0
    assert float(content_loss(np.zeros_like(f), f)) == pytest.approx(1.0, rel=1e-5)
    grams = {"a": gram_matrix(f)}
    assert float(style_loss({"a": f}, grams, {"a": 1.0})) == pytest.approx(0.0, abs=1e-7)
    assert float(style_loss({"a": 2 * f}, grams, {"a": 1.0})) == pytest.approx(9.0, rel=1e-4)
    assert float(style_loss({"a": 2 * f}, grams, {"a": 0.0})) == 0.0


def test_total_variation():
    flat = np.full((1, 8, 8, 3), 100.0, "float32")
    assert float(total_variation_loss(flat)) == 0.0
    stripes = flat.copy()
    stripes[:, :, ::2] = 0.0  # vertical stripes: every horizontal neighbour differs by 100
    assert float(total_variation_loss(stripes)) == pytest.approx(100.0**2)


def test_vgg19_features_names_outputs_and_preprocessing(rng):
    model = vgg19_features(["block1_conv1", "block2_conv1"], weights=None)
    conv = model.get_layer("block1_conv1")
    assert not model.trainable and not model.trainable_weights
    assert "block3_conv1" not in [layer.name for layer in model.layers]
    images = rng.uniform(0, 255, (1, 20, 24, 3)).astype("float32")
    out = model(images)
    assert set(out) == {"block1_conv1", "block2_conv1"}
    assert out["block2_conv1"].shape == (1, 10, 12, 128)
    # Caffe preprocessing inside equals keras.applications.vgg19.preprocess_input.
    plain = keras.Sequential([keras.Input((None, None, 3)), conv])
    expected = plain(keras.applications.vgg19.preprocess_input(images.copy()))
    np.testing.assert_allclose(np.asarray(out["block1_conv1"]), np.asarray(expected), atol=1e-3)


def test_vgg19_features_rejects_unknown_layers():
    with pytest.raises(ValueError, match="block9"):
        vgg19_features(["block9_conv1"], weights=None)


def test_content_loss_is_normalized_per_image(rng):
    # Each image counts alike whatever its activation scale, so a batch split across
    # replicas averages to the same value.
    a = rng.normal(size=(1, 4, 4, 3)).astype("float32")
    b = 50 * rng.normal(size=(1, 4, 4, 3)).astype("float32")
    targets = np.concatenate([a, b])
    outputs = np.zeros_like(targets)
    outputs[1] = b  # image 2 matches, image 1 is all zeros (loss 1)
    assert float(content_loss(outputs, targets)) == pytest.approx(0.5, rel=1e-5)


def test_style_loss_takes_one_target_per_image(rng):
    f = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    per_image = {"a": gram_matrix(f)}  # (2, C, C): each image is its own target
    assert float(style_loss({"a": f}, per_image, {"a": 1.0})) == pytest.approx(0.0, abs=1e-7)
    swapped = {"a": gram_matrix(f[::-1])}
    assert float(style_loss({"a": f}, swapped, {"a": 1.0})) > 0.01


def test_darkening_penalty_against_numpy_and_what_it_spares(rng):
    photos = rng.uniform(0, 255, (2, 48, 40, 3)).astype("float32")
    # from black on the left to bright on the right: some squares cost, others do not
    outputs = rng.uniform(0, 255, (2, 48, 40, 3)) * np.linspace(0, 1.2, 40)[:, None]
    outputs = outputs.astype("float32")

    def reference(photo, output, ratio, cell):
        weights = np.array([0.299, 0.587, 0.114])
        lp, lo = photo @ weights, output @ weights
        # "same" pooling: the squares overhang both edges equally, averaging what they hold
        pads = [(-(-n // cell) * cell - n) // 2 for n in lp.shape[1:]]
        starts = [range(-pad, n, cell) for pad, n in zip(pads, lp.shape[1:], strict=True)]
        out = []
        for i in range(lp.shape[0]):
            for y in starts[0]:
                for x in starts[1]:
                    square = np.s_[i, max(y, 0) : y + cell, max(x, 0) : x + cell]
                    out.append(max(ratio * lp[square].mean() - lo[square].mean(), 0.0))
        return np.mean(out) / 25.5

    for ratio, cell in ((0.5, 16), (0.9, 7)):
        expected = reference(photos.astype("float64"), outputs.astype("float64"), ratio, cell)
        assert 0 < expected < reference(photos, np.zeros_like(outputs), ratio, cell)
        np.testing.assert_allclose(
            float(darkening_penalty(photos, outputs, ratio, cell)), expected, rtol=1e-4
        )
    grey = np.full((1, 64, 64, 3), 160.0, np.float32)
    assert float(darkening_penalty(grey, grey)) == 0.0  # the photo itself
    assert float(darkening_penalty(grey, grey * 0.55)) == 0.0  # more than half as bright
    # A mid-grey square painted black costs; the same amount of black as thin strokes
    # (one line in four) costs nothing, since each square keeps 3/4 of its brightness.
    blot, strokes = grey.copy(), grey.copy()
    blot[:, :32, :32] = 0.0
    strokes[:, ::4] = 0.0
    assert float(darkening_penalty(grey, strokes)) == 0.0
    np.testing.assert_allclose(float(darkening_penalty(grey, blot)), 80 / 25.5 / 4, rtol=1e-5)
    # Dark content has a low floor: a black output on a dark photo costs little.
    dark = np.full((1, 64, 64, 3), 20.0, np.float32)
    np.testing.assert_allclose(float(darkening_penalty(dark, dark * 0)), 10 / 25.5, rtol=1e-5)


def test_sliced_wasserstein_sees_distributions_a_gram_matrix_cannot(rng):
    # x and -x have the same Gram matrix, but skewed (ReLU-like) activations and their
    # negatives are different distributions: the palette, not the correlations.
    f = rng.exponential(size=(1, 8, 8, 4)).astype("float32")
    target = {"a": f.reshape(1, -1, 4)}
    seed = keras.random.SeedGenerator(3)
    assert float(style_loss({"a": -f}, {"a": gram_matrix(f)}, {"a": 1.0})) < 1e-6
    assert float(sliced_wasserstein_terms({"a": -f}, target, ["a"], seed)["a"]) > 0.5
    # Positions do not matter; a positive scale by 2 moves every quantile by itself.
    shuffled = f.reshape(64, 4)[rng.permutation(64)].reshape(1, 8, 8, 4)
    assert float(sliced_wasserstein_terms({"a": shuffled}, target, ["a"], seed)["a"]) < 1e-10
    doubled = sliced_wasserstein_terms({"a": 2 * f}, target, ["a"], seed)["a"]
    assert float(doubled) == pytest.approx(1.0, rel=1e-5)


def test_sliced_wasserstein_compares_different_sample_counts_at_quantiles(rng):
    # 4 copies of each of the target's 16 vectors is the same distribution.
    base = rng.normal(size=(16, 3)).astype("float32")
    generated = np.repeat(base, 4, axis=0).reshape(1, 8, 8, 3)
    target = {"a": base[None]}
    terms = sliced_wasserstein_terms({"a": generated}, target, ["a"], keras.random.SeedGenerator(1))
    assert float(terms["a"]) < 1e-10
    shifted = sliced_wasserstein_terms({"a": generated + 1.0}, target, ["a"], None)
    assert float(shifted["a"]) > 0.1


def test_split_windows_matches_numpy(rng):
    f = rng.normal(size=(2, 9, 13, 3)).astype("float32")  # 2 x 3 windows of 4, edges cut
    windows, count = split_windows(f, 4)
    expected = [f[b, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4] for b in range(2)
                for i in range(2) for j in range(3)]  # fmt: skip
    assert int(count) == 6
    np.testing.assert_array_equal(np.asarray(windows), np.stack(expected))


def test_srgb_to_lab_matches_the_numpy_measure(rng):
    from keras_stylize.evaluation.measures import rgb_to_lab

    rgb = rng.integers(0, 256, (5, 7, 3)).astype("float32")
    rgb[0, :3] = [[0, 0, 0], [255, 255, 255], [3, 5, 8]]  # black, white, the linear segment
    np.testing.assert_allclose(np.asarray(srgb_to_lab(rgb)), rgb_to_lab(rgb), atol=2e-3)
