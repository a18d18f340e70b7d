"""Measures of what a generator did to a photo, in numpy: each compares a uint8 photo
`(H, W, 3)` RGB with its stylization of the same shape.

- the blot rate (`blot_fraction`): the share of pixels that the generator turned
  near-black although the photo is not dark there;
- the spot rate (`spot_fraction`): the share of pixels inside blob-sized marks (about
  10-40 px across at 512 px) of strong contrast that the generator painted where the photo
  is flat there, such as the stray star swirls of a texture network. Fine strokes and
  colour shifts do not count. Some styles paint such marks on purpose (Kandinsky's black
  shapes): compare spot rates between models of the same style only.
- the patch rate (`patch_fraction`): the share of pixels inside blob-sized patches (about
  20-80 px across at 512 px), soft or sharp, whose colour no local colour mapping of the
  photo explains (`unexplained_colour`): the stars again, and also the soft glows and
  colour patches that `spot_fraction` misses for want of a sharp edge. Halos a style
  paints around objects count too; the same caveat applies.

One compares a stylization with the painting instead: the palette distance
(`palette_distance`), how far the output's colours are from the painting's as
distributions in CIELAB (the sliced Wasserstein distance of the two pixel clouds, in Lab
units). A colour grade of the photo onto the painting's dominant hue keeps it large; an
output that uses the painting's whole palette, in its proportions, brings it down.
The colour variety (`colour_variety`) is the other half of what the eye sees: how much
colour varies within the 17 px square around each pixel, high where a surface breaks into
marks and fragments of several colours, low for flat patches, smooth gradients and a
one-hue grade. Compare it with the painting's own at the same size in pixels.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from keras_stylize.images import LUMA_WEIGHTS, open_image

BLOT_MAX_CHANNEL = 25
BLOT_MIN_PHOTO_LUMA = 60
BLOT_PHOTO_LIMIT = 0.002
SPOT_INNER_RADIUS = 4
SPOT_OUTER_RADIUS = 20
SPOT_MIN_OUTPUT_CONTRAST = 30.0
SPOT_MAX_PHOTO_CONTRAST = 8.0


PATCH_RADIUS = 10  # patches: the unexplained colour is averaged over 21 px squares
PATCH_FIT_RADIUS = 40  # the local colour fit of the photo spans 81 px squares
PATCH_FIT_EPS = 100.0  # its ridge regularization, grey levels squared
PATCH_MIN_RESIDUAL = 25.0  # evaluation.patch_mask's threshold, grey levels


def load_photo(path: str | os.PathLike, long_side: int) -> np.ndarray:
    """uint8 `(H, W, 3)` RGB as `images.open_image` decodes it, shrunk with Lanczos so that
    its long side is <= `long_side` (never enlarged)."""
    rgb, _ = open_image(path)
    rgb.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def luma(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of `(..., 3)` RGB in [0, 255], float32."""
    return np.asarray(image, np.float32) @ np.asarray(LUMA_WEIGHTS, np.float32)


def blot_mask(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Boolean `(H, W)`: the output is near-black (every channel < `BLOT_MAX_CHANNEL`)
    where the photo is not dark (luma > `BLOT_MIN_PHOTO_LUMA`). Both uint8 `(H, W, 3)`."""
    if photo.shape != output.shape:
        raise ValueError(f"photo {photo.shape} and output {output.shape} differ in shape")
    return (np.asarray(output).max(axis=-1) < BLOT_MAX_CHANNEL) & (
        luma(photo) > BLOT_MIN_PHOTO_LUMA
    )


def blot_fraction(photo: np.ndarray, output: np.ndarray) -> float:
    """Share of all pixels in `blot_mask` (0.0 to 1.0)."""
    return float(blot_mask(photo, output).mean())


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the `(2 radius + 1)`-pixel square around each pixel of an `(H, W, ...)`
    array (edges mirrored), float64, same shape."""
    x = np.asarray(image, np.float64)
    k = 2 * radius + 1
    extra = ((0, 0),) * (x.ndim - 2)
    x = np.pad(x, ((radius, radius), (radius, radius), *extra), mode="reflect")
    c = np.pad(x, ((1, 0), (1, 0), *extra)).cumsum(0).cumsum(1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def blob_contrast(image: np.ndarray) -> np.ndarray:
    """`(H, W)` float64: per pixel, the largest over the RGB channels of |mean over a
    `SPOT_INNER_RADIUS` square - mean over a `SPOT_OUTER_RADIUS` square| (a box
    difference-of-means band-pass): high inside marks about 10-40 px across that differ
    from their surroundings; low for flat areas, slow gradients and fine strokes."""
    x = np.asarray(image, np.float64)
    band = box_mean(x, SPOT_INNER_RADIUS) - box_mean(x, SPOT_OUTER_RADIUS)
    return np.abs(band).max(axis=-1)


def spot_mask(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Boolean `(H, W)`: the output has a blob-sized mark (`blob_contrast` above
    `SPOT_MIN_OUTPUT_CONTRAST` grey levels) where the photo has none (below
    `SPOT_MAX_PHOTO_CONTRAST`). Both uint8 `(H, W, 3)` RGB, photos about 512 px long
    (the radii are in pixels)."""
    if photo.shape != output.shape:
        raise ValueError(f"photo {photo.shape} and output {output.shape} differ in shape")
    return (blob_contrast(output) > SPOT_MIN_OUTPUT_CONTRAST) & (
        blob_contrast(photo) < SPOT_MAX_PHOTO_CONTRAST
    )


def spot_fraction(photo: np.ndarray, output: np.ndarray) -> float:
    """Share of all pixels in `spot_mask` (0.0 to 1.0)."""
    return float(spot_mask(photo, output).mean())


def unexplained_colour(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """`(H, W, 3)` float64: what of the output no local colour mapping of the photo explains.

    Around each pixel, the output's RGB is fitted as an affine function of the photo's RGB
    over the `(2 PATCH_FIT_RADIUS + 1)`-pixel square (a ridge fit: the guided filter of He et
    al. 2013 with a colour guide and regularization `PATCH_FIT_EPS`, in grey levels squared),
    and the fits of all squares covering a pixel are averaged; the result is the output minus
    that fit. A stylization that recolours the photo's regions and edges, however strongly,
    is explained; what it paints where the photo has nothing to map (a star on a flat sky, a
    glow on a cheek) or what breaks the mapping (a patch of another colour) is left.
    Both arguments uint8 `(H, W, 3)` RGB of the same shape. `losses.unexplained_colour` is
    its training counterpart (Keras ops, squares cut off at the edges instead of mirrored)."""
    if photo.shape != output.shape:
        raise ValueError(f"photo {photo.shape} and output {output.shape} differ in shape")
    r = PATCH_FIT_RADIUS
    guide, target = np.asarray(photo, np.float64), np.asarray(output, np.float64)
    mean_g, mean_t = box_mean(guide, r), box_mean(target, r)
    cov_gg = box_mean(guide[..., :, None] * guide[..., None, :], r) - (
        mean_g[..., :, None] * mean_g[..., None, :]
    )
    cov_gt = box_mean(guide[..., :, None] * target[..., None, :], r) - (
        mean_g[..., :, None] * mean_t[..., None, :]
    )
    gain = np.linalg.solve(cov_gg + PATCH_FIT_EPS * np.eye(3), cov_gt)  # (H, W, 3 in, 3 out)
    offset = mean_t - np.einsum("hwi,hwio->hwo", mean_g, gain)
    fit = np.einsum("hwi,hwio->hwo", guide, box_mean(gain, r)) + box_mean(offset, r)
    return target - fit


def patch_mask(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Boolean `(H, W)`: the `unexplained_colour`, averaged over the `PATCH_RADIUS` square
    (so fine strokes cancel out), exceeds `PATCH_MIN_RESIDUAL` grey levels in some RGB
    channel. Both uint8 `(H, W, 3)` RGB, photos about 512 px long (the radii are in pixels)."""
    residual = box_mean(unexplained_colour(photo, output), PATCH_RADIUS)
    return np.abs(residual).max(axis=-1) > PATCH_MIN_RESIDUAL


def patch_fraction(photo: np.ndarray, output: np.ndarray) -> float:
    """Share of all pixels in `patch_mask` (0.0 to 1.0)."""
    return float(patch_mask(photo, output).mean())


PALETTE_SIZE = 256  # images are compared at this size, px (the distance is of colours)
PALETTE_DIRECTIONS = 64  # random directions of the sliced distance
VARIETY_RADIUS = 8  # colour_variety's squares are 2 * 8 + 1 = 17 px


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB values in [0, 255], shape `(..., 3)` -> `(..., 3)` float64."""
    a = np.asarray(rgb, np.float64) / 255.0
    a = np.where(a > 0.04045, ((a + 0.055) / 1.055) ** 2.4, a / 12.92)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                       [0.0193, 0.1192, 0.9505]])  # fmt: skip
    xyz = a @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def palette_distance(output: np.ndarray, painting: np.ndarray, seed: int = 0) -> float:
    """How far the colours of `output` are from those of `painting` (uint8 `(H, W, 3)` RGB
    of any sizes): both resized to `PALETTE_SIZE` squares, every pixel converted to
    CIELAB, and the root mean squared difference of their sorted
    projections on `PALETTE_DIRECTIONS` random unit directions (a sliced Wasserstein-2
    distance, in Lab units; 0 for the same colours in the same proportions, whatever
    their places). Deterministic for a given `seed` (of the directions)."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(3, PALETTE_DIRECTIONS))
    directions /= np.linalg.norm(directions, axis=0)

    def colours(image: np.ndarray) -> np.ndarray:
        small = Image.fromarray(np.asarray(image, np.uint8)).resize(
            (PALETTE_SIZE, PALETTE_SIZE), Image.Resampling.BILINEAR
        )
        return np.sort(rgb_to_lab(np.asarray(small)).reshape(-1, 3) @ directions, axis=0)

    return float(np.sqrt(np.mean((colours(output) - colours(painting)) ** 2)))


def colour_variety(image: np.ndarray, radius: int = VARIETY_RADIUS) -> float:
    """The mean colour spread of uint8 `image` `(H, W, 3)` RGB: around each pixel, in the
    `(2 radius + 1)`-pixel square (`box_mean`, edges mirrored), the standard deviations
    of L, a and b in CIELAB, combined as the length of that vector; averaged over the
    pixels (Lab units). Depends on the image's size: compare at equal sizes."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"colour_variety needs an (H, W, 3) RGB image, not {image.shape}")
    if radius < 1 or min(image.shape[:2]) <= radius:
        raise ValueError(f"colour_variety needs radius >= 1 and an image wider than {radius} px")
    lab = rgb_to_lab(image)
    lab -= lab.mean(axis=(0, 1))  # keeps the summed squares small against round-off
    variance = np.maximum(box_mean(lab**2, radius) - box_mean(lab, radius) ** 2, 0.0)
    return float(np.mean(np.sqrt(variance.sum(axis=-1))))
