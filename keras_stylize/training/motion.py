"""Known synthetic camera motion, for the temporal-consistency loss of training.

A still photo seen by a camera that pans and zooms becomes two frames whose relation is
known exactly. Here a motion is a sub-window of the frame, a box in the normalized
coordinates of `tf.image.crop_and_resize` (`[y1, x1, y2, x2]`, 0..1 along each axis,
corners at the centres of the corner pixels); `move` resamples that window bilinearly
to the full frame size, i.e. zooms in by `1 / (y2 - y1)` and shifts. The window always
lies inside the frame, so a moved frame has no undefined border.

A generator that is stable on video commutes with motion: stylizing the moved photo
gives the moved stylization, `G(move(x)) == move(G(x))` (Wang et al., "Consistent Video
Style Transfer via Compound Regularization", AAAI 2020, train on such single-image
motion instead of optical flow between video frames).

Images are float `(batch, H, W, C)`, any range; results are float32.
"""

from __future__ import annotations

import tensorflow as tf

#: Largest zoom of the training motion: the window's side is 96-100 % of the frame's, so
#: at 256 px the two frames differ by up to 4 % magnification and a shift of up to 10 px
#: (a video's frame-to-frame motion: a pan of a few pixels, a zoom of about 1 %).
MAX_ZOOM = 0.04


def random_motion(batch, seed, max_zoom: float = MAX_ZOOM) -> tf.Tensor:
    """`(batch, 4)` float32 boxes: per image, a window of side `1 - max_zoom * u` (u
    uniform in [0, 1)) placed uniformly inside the frame. `seed` is a stateless seed
    (shape `(2,)` integers), so the same seed gives the same motion."""
    u = tf.random.stateless_uniform((batch, 3), seed=seed, dtype=tf.float32)
    side = 1.0 - max_zoom * u[:, 0]
    y1 = (1.0 - side) * u[:, 1]
    x1 = (1.0 - side) * u[:, 2]
    return tf.stack([y1, x1, y1 + side, x1 + side], axis=1)


def move(images, boxes) -> tf.Tensor:
    """Each image's box resampled bilinearly to the image's own size (float32)."""
    x = tf.cast(images, tf.float32)
    shape = tf.shape(x)
    return tf.image.crop_and_resize(x, boxes, tf.range(shape[0]), shape[1:3], method="bilinear")
