import numpy as np
import pytest
from PIL import Image

from keras_stylize.video import stabilizer as stabilizer_module
from keras_stylize.video.stabilizer import Stabilizer, restore_detail

from ..conftest import PHOTO


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


def _run(stabilizer, frames, stylized):
    return [stabilizer(f, s) for f, s in zip(frames, stylized, strict=True)]


def test_stabilizer_removes_flicker_that_does_not_follow_the_motion_and_keeps_the_detail():
    """The motion is estimated from the input frames; the error is measured against the true
    motion. The carried keyframe keeps the texture that moves with the content and drops the
    per-frame noise, so the detail keeps its contrast."""
    frames, stylized = _stylized_pan()
    plain = _warping_error(stylized)
    errors, detail = {}, {}
    for interval in (0, 2, 4, 8):
        out = _run(Stabilizer(interval), frames, stylized)
        errors[interval] = _warping_error(out)
        detail[interval] = _detail_ratio(out, stylized)
    assert errors[0] == pytest.approx(plain)  # off: unchanged
    assert errors[4] < 0.5 * plain, (plain, errors)
    assert errors[8] < errors[2] < 0.6 * plain, (plain, errors)  # fewer keys, less flicker
    assert all(0.9 < detail[i] < 1.1 for i in (2, 4, 8)), detail


def test_stabilizer_follows_an_object_that_moves_over_a_still_background():
    """A textured square slides 3 px per frame over a still photo: one camera motion cannot
    explain it, so the dense flow must be used on the square; its carried texture follows it."""
    import cv2

    photo = np.asarray(Image.open(PHOTO).convert("RGB")).astype(np.float32)
    background = photo[:96, :160]
    square = photo[200:240, 300:340]
    rng = np.random.default_rng(0)
    frames, stylized = [], []
    for t in range(8):
        frame = background.copy()
        frame[28:68, 20 + 3 * t : 60 + 3 * t] = square
        frames.append(frame)  # new strokes in every frame: the flicker
        strokes = cv2.GaussianBlur(rng.normal(0, 40, frame.shape).astype(np.float32), (0, 0), 1.5)
        stylized.append(frame + strokes)
    out = _run(Stabilizer(8), frames, stylized)

    def square_error(images):  # on the square: frame t+1 at x shows frame t at x - 3
        pairs = enumerate(zip(images, images[1:], strict=False))
        return np.mean([np.abs(b[30:66, 25 + 3 * t : 55 + 3 * t]
                               - a[30:66, 22 + 3 * t : 52 + 3 * t]).mean()
                        for t, (a, b) in pairs])  # fmt: skip

    assert square_error(out) < 0.5 * square_error(stylized)
    # what is carried is the keyframe's texture of the square, moved 21 px with it
    carried = np.abs(out[-1][30:66, 45:75] - stylized[0][30:66, 24:54]).mean()
    unrelated = np.abs(stylized[-1][30:66, 45:75] - stylized[0][30:66, 24:54]).mean()
    assert carried < 0.5 * unrelated, (carried, unrelated)


def test_stabilizer_refreshes_the_strokes_every_interval():
    """On a still scene whose stylization changes (the strokes a network paints anew), the
    output holds the keyframe's stylization and passes to the next keyframe's over the
    crossfade."""
    frame = np.asarray(Image.open(PHOTO).convert("RGB"))[:96, :128].astype(np.float32)
    stabilizer = Stabilizer(4, crossfade=2)
    outputs = [stabilizer(frame, np.clip(frame + 10.0 * t, 0, 255)) for t in range(9)]
    levels = [float((o - frame).mean()) for o in outputs]
    expected = [0, 0, 0, 0, 20, 40, 40, 40, 60]  # frame 4: halfway from key 0 to key 4
    np.testing.assert_allclose(levels, expected, atol=1.5)


def test_detail_restoration_brings_back_what_the_crossfade_averages_away(monkeypatch):
    frames, _ = _stylized_pan()
    rng = np.random.default_rng(2)
    stylized = [f + rng.normal(0, 30, f.shape) for f in frames]  # unrelated texture per frame
    out = _run(Stabilizer(4, crossfade=4), frames, stylized)
    assert 0.9 < _detail_ratio(out[5:7], stylized[5:7]) < 1.1
    monkeypatch.setattr(stabilizer_module, "DETAIL_SCALES", ())
    out = _run(Stabilizer(4, crossfade=4), frames, stylized)
    assert _detail_ratio(out[5:7], stylized[5:7]) < 0.85


def test_restore_detail_gives_a_blend_of_two_textures_the_contrast_of_one():
    rng = np.random.default_rng(1)
    a, b = (rng.normal(128, 30, (64, 64, 3)).astype(np.float32) for _ in range(2))
    blend = 0.5 * a + 0.5 * b  # uncorrelated: about 1/sqrt(2) of the contrast
    assert _detail(blend) < 0.8 * _detail(a)
    restored = restore_detail(blend, a, 1.0)
    assert _detail(restored) == pytest.approx(_detail(a), rel=0.1)
    np.testing.assert_allclose(restore_detail(a, a, 1.0), a, atol=1e-3)  # nothing to restore
    assert _detail(restore_detail(a, blend, 1.0)) == pytest.approx(_detail(a), rel=1e-3)


def test_stabilizer_takes_the_fresh_frame_after_a_cut_and_keys_on_it():
    frames = _pan(frames=3)
    other = np.asarray(Image.open(PHOTO).convert("RGB"))[:96, :128][:, ::-1]  # a new scene
    stabilizer = Stabilizer(8)
    for f in frames:
        stabilizer(f, f)
    stylized = np.full(other.shape, 77.0, np.float32)
    out = stabilizer(other, stylized)
    np.testing.assert_allclose(out, stylized)
    # the new scene is the keyframe now: its stylization is carried, not the old scene's
    held = stabilizer(other, np.full(other.shape, 99.0, np.float32))
    assert abs(float(held.mean()) - 77.0) < 3.0


def test_stabilizer_rejects_bad_settings():
    for bad in (-1, 1, 0.5, 2.5, True):
        with pytest.raises(ValueError, match="interval"):
            Stabilizer(bad)
    with pytest.raises(ValueError, match="crossfade"):
        Stabilizer(4, crossfade=5)
    with pytest.raises(ValueError, match="tolerance"):
        Stabilizer(4, tolerance=0)
