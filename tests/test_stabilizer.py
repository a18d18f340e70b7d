import numpy as np
import pytest
from PIL import Image

from keras_stylize.stabilizer import Stabilizer

from .test_video import PHOTO


def _pan(frames=8, step=2, size=(96, 128)):
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    h, w = size
    return [photo[100 : 100 + h, 150 + step * t : 150 + step * t + w] for t in range(frames)]


def _warping_error(frames, step=2):
    """Mean |frame[t+1] - frame[t] moved by the known pan| (columns shift by `step`)."""
    return float(np.mean([np.abs(b[:, :-step].astype(float) - a[:, step:]).mean()
                          for a, b in zip(frames, frames[1:], strict=False)]))  # fmt: skip


def test_stabilizer_removes_flicker_that_does_not_follow_the_motion():
    """A 'stylization' that paints new noise on every frame flickers; the stabilizer,
    with flow estimated from the input frames, cuts the error against the true motion."""
    frames = _pan()
    rng = np.random.default_rng(0)
    flicker = [np.clip(f + rng.normal(0, 20, f.shape), 0, 255) for f in frames]
    plain = _warping_error(flicker)
    errors = {}
    for strength in (0.0, 0.5, 0.8):
        stabilizer = Stabilizer(strength)
        out = [stabilizer(f, s) for f, s in zip(frames, flicker, strict=True)]
        errors[strength] = _warping_error(out)
    assert errors[0.0] == pytest.approx(plain)  # off: unchanged
    assert errors[0.5] < 0.7 * plain and errors[0.8] < 0.5 * plain, (plain, errors)
    assert errors[0.8] < errors[0.5]


def test_stabilizer_takes_the_fresh_frame_after_a_cut():
    frames = _pan(frames=3)
    other = np.asarray(Image.open(PHOTO).convert("RGB"))[:96, :128][:, ::-1]  # a new scene
    stabilizer = Stabilizer(0.8)
    for f in frames:
        stabilizer(f, f)
    stylized = np.full(other.shape, 77.0, np.float32)
    out = stabilizer(other, stylized)
    assert np.abs(out - stylized).mean() < 0.1 * np.abs(frames[-1] - stylized).mean()


def test_stabilizer_rejects_bad_strengths():
    for bad in (-0.1, 1.0, 2.0):
        with pytest.raises(ValueError, match="strength"):
            Stabilizer(bad)
