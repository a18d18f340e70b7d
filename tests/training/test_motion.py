import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stylize import PerceptualLoss, StylizationModel, johnson_generator
from keras_stylize.training.motion import MAX_ZOOM, move, random_motion
from keras_stylize.training.terms import Temporal, temporal_loss


def _bilinear_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Reference: the box (normalized corner-pixel-centre coordinates) sampled on the
    image's own grid with bilinear interpolation."""
    h, w, _ = image.shape
    y1, x1, y2, x2 = box
    ys = y1 * (h - 1) + np.arange(h) * (y2 - y1) * (h - 1) / (h - 1)
    xs = x1 * (w - 1) + np.arange(w) * (x2 - x1) * (w - 1) / (w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y0c, x0c = np.clip(y0, 0, h - 1), np.clip(x0, 0, w - 1)
    y1c, x1c = np.clip(y0 + 1, 0, h - 1), np.clip(x0 + 1, 0, w - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = image[y0c][:, x0c] * (1 - fx) + image[y0c][:, x1c] * fx
    bottom = image[y1c][:, x0c] * (1 - fx) + image[y1c][:, x1c] * fx
    return top * (1 - fy) + bottom * fy


def test_random_motion_stays_inside_the_frame_and_is_reproducible():
    boxes = random_motion(256, tf.constant([3, 7], tf.int64)).numpy()
    sides = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_allclose(sides, boxes[:, 3] - boxes[:, 1], atol=1e-6)  # no stretch
    assert sides.min() >= 1 - MAX_ZOOM - 1e-6 and sides.max() <= 1.0
    assert boxes[:, :2].min() >= 0 and boxes[:, 2:].max() <= 1 + 1e-6
    assert sides.std() > 0.005  # zooms and shifts vary
    again = random_motion(256, tf.constant([3, 7], tf.int64)).numpy()
    np.testing.assert_array_equal(boxes, again)
    other = random_motion(256, tf.constant([3, 8], tf.int64)).numpy()
    assert np.abs(other - boxes).max() > 0.01


def test_move_resamples_the_box_bilinearly(rng):
    images = rng.uniform(0, 255, (3, 20, 28, 3)).astype("float32")
    boxes = np.array([[0, 0, 1, 1], [0.1, 0.05, 0.97, 0.92], [0.02, 0.03, 0.98, 0.99]],
                     np.float32)  # fmt: skip
    moved = move(images, boxes).numpy()
    np.testing.assert_allclose(moved[0], images[0], atol=1e-3)  # the whole frame: unmoved
    for image, box, result in zip(images, boxes, moved, strict=True):
        np.testing.assert_allclose(result, _bilinear_crop(image, box), atol=1e-2)


def test_temporal_loss_is_zero_for_a_generator_that_commutes_with_motion(rng):
    inputs = keras.Input((None, None, 3))
    per_pixel = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))  # affine colour map
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    boxes = random_motion(4, tf.constant([0, 1], tf.int64))
    error = temporal_loss(move(per_pixel(images), boxes), per_pixel(move(images, boxes)))
    assert float(error) < 1e-6
    # A generator that paints a fixed pattern onto the frame does not move with it.
    pattern = rng.uniform(-20, 20, (1, 32, 32, 3)).astype("float32")
    expected = np.mean((move(images + pattern, boxes) - (move(images, boxes) + pattern)) ** 2)
    got = temporal_loss(move(images + pattern, boxes), move(images, boxes) + pattern)
    assert float(got) == pytest.approx(float(expected), rel=1e-5) and float(got) > 10


def _train(temporal_weight: float, images: np.ndarray, style: np.ndarray) -> StylizationModel:
    keras.utils.set_random_seed(0)
    loss = PerceptualLoss(style, vgg_weights=None, content_layer="block2_conv1",
                          style_layers=["block1_conv1", "block2_conv1"])  # fmt: skip
    terms = [Temporal(temporal_weight)] if temporal_weight else []
    model = StylizationModel(johnson_generator(width=0.25), loss, terms=terms)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(images, batch_size=4, epochs=12, verbose=0, shuffle=False)
    return model


def test_training_with_the_temporal_loss_makes_the_generator_steadier(rng):
    images = rng.uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    style = rng.uniform(0, 255, (1, 40, 40, 3)).astype("float32")
    steady = _train(0.05, images, style)
    plain = _train(0.0, images, style)
    assert "temporal_loss" not in plain.evaluate(images, verbose=0, return_dict=True)
    # Score both with the same fixed motion (the evaluation's).
    scorer = StylizationModel(plain.generator, plain.perceptual_loss, terms=[Temporal(1.0)])
    scorer.compile()
    plain_error = scorer.evaluate(images, verbose=0, return_dict=True)["temporal_loss"]
    result = steady.evaluate(images, verbose=0, return_dict=True)
    assert result["temporal_loss"] < 0.5 * plain_error
    assert result["loss"] == pytest.approx(
        result["content_loss"] + 0.5 * result["style_loss"] + 1e-4 * result["tv_loss"]
        + 0.05 * result["temporal_loss"], rel=1e-4,
    )  # fmt: skip
