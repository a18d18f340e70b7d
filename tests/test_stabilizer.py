import numpy as np
import pytest
from PIL import Image

from keras_stylize import stabilizer as stabilizer_module
from keras_stylize.stabilizer import Stabilizer, restore_detail

from .test_video import PHOTO


def _pan(frames=8, step=2, size=(96, 128)):
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    h, w = size
    return [photo[100 : 100 + h, 150 + step * t : 150 + step * t + w] for t in range(frames)]


def _warping_error(frames, step=2):
    """Mean |frame[t+1] - frame[t] moved by the known pan| (columns shift by `step`)."""
    return float(np.mean([np.abs(b[:, :-step].astype(float) - a[:, step:]).mean()
                          for a, b in zip(frames, frames[1:], strict=False)]))  # fmt: skip


def _detail(image) -> float:
    import cv2

    x = np.asarray(image, np.float32)
    return float((x - cv2.GaussianBlur(x, (0, 0), 2.0)).std())


def _detail_ratio(outputs, stylized) -> float:
    return float(np.mean([_detail(o) / _detail(s) for o, s in zip(outputs, stylized, strict=True)]))


def _stylized_pan(noise=10.0):
    """Pan frames and a 'stylization' of them: a texture that moves with the content (the
    style) plus new noise in every frame (the flicker)."""
    import cv2

    frames = _pan()
    rng = np.random.default_rng(0)
    h, w, _ = frames[0].shape
    texture = cv2.GaussianBlur(rng.normal(0, 50, (h, w + 16, 3)).astype(np.float32), (0, 0), 1.0)
    return frames, [np.clip(f + texture[:, 2 * t : 2 * t + w] + rng.normal(0, noise, f.shape),
                            0, 255) for t, f in enumerate(frames)]  # fmt: skip


def test_stabilizer_removes_flicker_that_does_not_follow_the_motion_and_keeps_the_detail(
    monkeypatch,
):
    """The flow is estimated from the input frames; the error is measured against the true
    motion. The detail (style texture) keeps its contrast; without the detail restoration
    the blend would have lost a fifth or more of it."""
    frames, stylized = _stylized_pan()
    plain = _warping_error(stylized)
    errors, detail = {}, {}
    for strength in (0.0, 0.5, 0.8):
        stabilizer = Stabilizer(strength)
        out = [stabilizer(f, s) for f, s in zip(frames, stylized, strict=True)]
        errors[strength] = _warping_error(out)
        detail[strength] = _detail_ratio(out, stylized)
    assert errors[0.0] == pytest.approx(plain)  # off: unchanged
    assert errors[0.5] < 0.9 * plain and errors[0.8] < 0.75 * plain, (plain, errors)
    assert errors[0.8] < errors[0.5]
    assert 0.95 < detail[0.5] < 1.1 and 0.95 < detail[0.8] < 1.1, detail
    monkeypatch.setattr(stabilizer_module, "DETAIL_SCALES", ())
    stabilizer = Stabilizer(0.8)
    out = [stabilizer(f, s) for f, s in zip(frames, stylized, strict=True)]
    assert _detail_ratio(out, stylized) < 0.85


def test_restore_detail_gives_a_blend_of_two_textures_the_contrast_of_one():
    rng = np.random.default_rng(1)
    a, b = (rng.normal(128, 30, (64, 64, 3)).astype(np.float32) for _ in range(2))
    blend = 0.5 * a + 0.5 * b  # uncorrelated: about 1/sqrt(2) of the contrast
    assert _detail(blend) < 0.8 * _detail(a)
    restored = restore_detail(blend, a, 1.0)
    assert _detail(restored) == pytest.approx(_detail(a), rel=0.1)
    np.testing.assert_allclose(restore_detail(a, a, 1.0), a, atol=1e-3)  # nothing to restore
    assert _detail(restore_detail(a, blend, 1.0)) == pytest.approx(_detail(a), rel=1e-3)


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
