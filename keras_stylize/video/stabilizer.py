"""Temporal stabilization of stylized video: keyframe strokes carried along the motion.

A per-frame network repaints its texture in every frame even where the scene did not
change, which shows as flicker. `Stabilizer` keeps the stylization of a *keyframe* and
moves it along the motion of the input frames to each following frame, so the strokes stay
on the content they were painted on; every `interval` frames the newest stylized frame
becomes the next keyframe, and the output crossfades from the old keyframe's strokes to the
new one's over `crossfade` frames:

    out[t] = (1 - c) * stylized[t] + c * carried[t]

where `carried[t]` is the keyframe's (or, during a crossfade, the two keyframes')
stylization moved to frame t (Lanczos interpolation), and `c` in [0, 1] is the confidence
that the motion explains frame t: `exp(-difference / tolerance)` of the colour difference
between frame t and the keyframe's input moved the same way, zero outside the keyframe. So
occluded or newly visible regions, lighting changes and flow errors take the fresh frame.
If the keyframe explains less than half of a frame (a scene cut, fast motion), that frame
becomes the new keyframe at once.

Each output is the keyframe moved *once* (not re-warped frame after frame), so its strokes
keep their sharpness, and averaging two unaligned stroke fields happens only in the
crossfade and in regions of low confidence; the detail the average loses there is restored
scale by scale (`DETAIL_SCALES`, Gaussian sigmas in pixels): at each scale the detail (the
image minus its blur) is amplified so that its local energy matches the fresh stylized
frame's (gain in [1, `MAX_DETAIL_GAIN`]).

The motion is tracked from frame to frame and composed back to the keyframe (one flow per
frame, however many keyframes are live). Between two frames (`motion_to`) it is, per pixel,
the camera's motion (a homography fitted to corners tracked by Lucas-Kanade) or a dense
optical flow (OpenCV's DIS), whichever explains the frame better, the camera's motion
winning ties: in flat regions (skies, walls) the dense flow is unreliable and a wrong flow
drags the strokes, on an object that moves by itself only the dense flow is right.
`benchmarks/flicker.py` measures the flicker and the style loss per frame on clips of
known motion (docs/video.md has the figures and the alternatives measured).

Pixel convention: uint8 or float `(H, W, 3)` RGB in [0, 255]; outputs are float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DEFAULT_INTERVAL = 8
DETAIL_SCALES = (0.5, 1.0, 2.0, 4.0, 8.0)
MAX_DETAIL_GAIN = 2.0
# Grey levels by which the dense flow must explain a region better than the global motion
# to be used there (`motion_to`).
FLOW_MARGIN = 1.0
FLOW_SMOOTHING = 4.0  # Gaussian sigma (px) of the colour errors compared in `motion_to`
MIN_COVERAGE = 0.5
# If most tracked corners moved less than this (px), the camera is taken as still.
STILL_CAMERA = 0.1


def restore_detail(blend: np.ndarray, reference: np.ndarray, sigma: float) -> np.ndarray:
    """`blend` with its detail at scale `sigma` (blend minus its Gaussian blur) amplified
    so that its local energy (mean over channels, smoothed at `2 sigma`) matches that of
    `reference` at the same scale; the gain is clipped to [1, `MAX_DETAIL_GAIN`], so
    detail is never reduced. Both float32 `(H, W, 3)`."""
    import cv2

    def detail_and_energy(image):
        detail = image - cv2.GaussianBlur(image, (0, 0), sigma)
        return detail, cv2.GaussianBlur((detail * detail).mean(axis=2), (0, 0), 2 * sigma)

    detail, energy = detail_and_energy(blend)
    _, reference_energy = detail_and_energy(reference)
    gain = np.clip(np.sqrt((reference_energy + 1.0) / (energy + 1.0)), 1.0, MAX_DETAIL_GAIN)
    return blend - detail + detail * gain[..., None]


@lru_cache(maxsize=4)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only float32 x and y coordinates of every pixel of an `(h, w)` frame."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.setflags(write=False)
    gy.setflags(write=False)
    return gx, gy


def _global_motion(grey: np.ndarray, key_grey: np.ndarray) -> np.ndarray | None:
    """The homography taking pixels of `grey` to where they were in `key_grey` (uint8 grey
    levels, `(H, W)`), fitted with RANSAC to corners tracked by pyramidal Lucas-Kanade
    (the usual estimate of camera motion); the identity if the median corner moved less than
    `STILL_CAMERA` px; None if too few corners can be tracked."""
    import cv2

    corners = cv2.goodFeaturesToTrack(grey, maxCorners=500, qualityLevel=0.01, minDistance=6,
                                      blockSize=7)  # fmt: skip
    if corners is None or len(corners) < 8:
        return None
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(
        grey, key_grey, corners, None,
        winSize=(21, 21), maxLevel=4,
    )  # fmt: skip
    found = status.ravel() == 1
    if found.sum() < 8:
        return None
    if np.median(np.linalg.norm(tracked[found] - corners[found], axis=-1)) < STILL_CAMERA:
        return np.eye(3)  # a still camera: a fitted motion's noise would make strokes jitter
    homography, _ = cv2.findHomography(corners[found], tracked[found], cv2.RANSAC, 1.0)
    return homography


def motion_to(grey: np.ndarray, key_grey: np.ndarray) -> np.ndarray:
    """Where each pixel of `grey` was in `key_grey`: a float32 `(H, W, 2)` field of (x, y)
    offsets in pixels. Per pixel, the dense flow (OpenCV's DIS, medium preset) or the global
    motion (`_global_motion`), whichever explains the frame better: the global motion unless
    the dense flow's colour error, smoothed with a Gaussian of `FLOW_SMOOTHING` px, is lower
    by more than `FLOW_MARGIN` grey levels (a moving object), since in flat regions (skies,
    walls) both explain it and the dense flow is unreliable there. Both inputs float32 grey
    levels in [0, 255], `(H, W)`."""
    import cv2

    grey8, key_grey8 = (np.clip(g, 0, 255).astype(np.uint8) for g in (grey, key_grey))
    dense = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(
        grey8, key_grey8, None
    )
    homography = _global_motion(grey8, key_grey8)
    if homography is None:
        return dense
    gx, gy = _pixel_grid(*grey.shape)
    moved = np.stack([gx, gy, np.ones_like(gx)], axis=-1) @ homography.T.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        glob = np.stack([moved[..., 0] / moved[..., 2] - gx, moved[..., 1] / moved[..., 2] - gy],
                        axis=-1)  # fmt: skip
    if not np.isfinite(glob).all():
        return dense

    def error(flow):
        key_moved = cv2.remap(key_grey, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        return cv2.GaussianBlur(np.abs(grey - key_moved), (0, 0), FLOW_SMOOTHING)

    use_dense = np.clip(error(glob) - error(dense) - FLOW_MARGIN, 0.0, 1.0)[..., None]
    return (use_dense * dense + (1.0 - use_dense) * glob).astype(np.float32)


@dataclass
class _Key:
    """A keyframe: its input and stylization, and where each pixel of the latest frame was
    in it (`map_x`, `map_y`, composed frame by frame; far outside the frame where unknown)."""

    frame: np.ndarray
    stylized: np.ndarray
    map_x: np.ndarray
    map_y: np.ndarray


class Stabilizer:
    """Stateful stabilizer for one clip: call it on each frame in order.

    Args:
        interval: frames between keyframes, >= 2; 0 disables the stabilizer (the
            stylized frame is returned unchanged). Longer intervals refresh the strokes less
            often, but the motion to a distant keyframe is less exact.
        crossfade: frames over which the output passes from one keyframe's strokes to the
            next one's, 1 to `interval` (default: `min(3, interval)`); 1 is a hard switch.
        tolerance: colour difference (grey levels, mean over RGB) between a frame and the
            moved keyframe input at which the keyframe's weight falls to 1/e.
    """

    def __init__(self, interval: int = DEFAULT_INTERVAL, crossfade: int | None = None,
                 tolerance: float = 24.0) -> None:  # fmt: skip
        if isinstance(interval, bool) or int(interval) != interval or interval < 0 or (
                interval == 1):  # fmt: skip
            raise ValueError(f"stabilizer interval must be 0 (off) or a whole number of frames "
                             f">= 2. Received: {interval}")  # fmt: skip
        self.interval = int(interval)
        crossfade = min(3, self.interval) if crossfade is None else crossfade
        if self.interval and not 1 <= crossfade <= self.interval:
            raise ValueError(f"crossfade must be in [1, interval={self.interval}]. "
                             f"Received: {crossfade}")  # fmt: skip
        if not tolerance > 0:
            raise ValueError(f"tolerance must be positive. Received: {tolerance}")
        self.crossfade = int(crossfade)
        self.tolerance = float(tolerance)
        self._keys: list[_Key] = []  # the newest last; two during a crossfade
        self._since = 0  # frames since the newest keyframe
        self._previous_grey: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """The stabilized output for input `frame` and its stylized version."""
        stylized = np.asarray(stylized, np.float32)
        if not self.interval:
            return stylized
        import cv2

        frame = np.asarray(frame, np.float32)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        previous, self._previous_grey = self._previous_grey, grey
        if previous is None or previous.shape != grey.shape:
            return self._cut(frame, stylized)
        # where each pixel of this frame was in the previous one, then in each keyframe
        flow = motion_to(grey, previous)
        h, w = grey.shape
        gx, gy = _pixel_grid(h, w)
        at_x, at_y = gx + flow[..., 0], gy + flow[..., 1]
        for key in self._keys:  # unknown (far outside) where this frame left the previous one
            key.map_x, key.map_y = (cv2.remap(m, at_x, at_y, cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_CONSTANT, borderValue=-1e6)
                                    for m in (key.map_x, key.map_y))  # fmt: skip
        self._since += 1
        if self._since >= self.interval:
            self._keys = [self._keys[-1], _Key(frame, stylized, gx, gy)]
            self._since = 0
        ramp = min(1.0, (self._since + 1) / self.crossfade) if len(self._keys) > 1 else 1.0
        if ramp >= 1.0:
            self._keys = self._keys[-1:]
        total = np.zeros((h, w, 1), np.float32)
        carried = np.zeros_like(stylized)
        parts = [(self._keys[-1], ramp)] + ([(self._keys[0], 1.0 - ramp)] if ramp < 1 else [])
        for key, weight in parts:
            if self._since == 0 and key is self._keys[-1]:  # the keyframe is this frame
                total += weight
                carried += weight * stylized
                continue
            moved, confidence = self._carry(key, frame)
            if key is self._keys[-1] and confidence.mean() < MIN_COVERAGE:
                return self._cut(frame, stylized)
            total += weight * confidence
            carried += weight * confidence * moved
        output = stylized + carried - total * stylized  # (1 - total) stylized + carried
        for sigma in DETAIL_SCALES:
            output = restore_detail(output, stylized, sigma)
        return output

    def _cut(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """Starts again from this frame as the only keyframe; returns its stylization."""
        self._keys, self._since = [_Key(frame, stylized, *_pixel_grid(*frame.shape[:2]))], 0
        return stylized

    def _carry(self, key: _Key, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The key's stylization moved to `frame`, and the per-pixel confidence
        `(H, W, 1)` that the motion explains `frame`."""
        import cv2

        h, w = frame.shape[:2]

        def move(image):
            return cv2.remap(image, key.map_x, key.map_y, cv2.INTER_LANCZOS4,
                             borderMode=cv2.BORDER_REPLICATE)  # fmt: skip

        difference = np.abs(frame - move(key.frame)).mean(axis=2, keepdims=True)
        inside = (key.map_x >= 0) & (key.map_x <= w - 1) & (key.map_y >= 0) & (key.map_y <= h - 1)
        confidence = np.exp(-difference / self.tolerance) * inside[..., None]
        return move(key.stylized), confidence
