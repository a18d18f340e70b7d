"""Perceptual losses of fast style transfer, computed in float32.

Conventions: VGG activations are `(batch, height, width, channels)`; images are
`(batch, height, width, 3)` in [0, 255]. Every loss is a mean, so values do not depend
on image or batch size (Johnson et al.'s normalization):

- `gram_matrix(F) = F^T F / (H * W * C)` per image, shape `(batch, C, C)`;
- content loss: per image, mean squared difference of the content-layer activations,
  divided by the mean square of the target activations, averaged over the batch (so 1.0
  is the loss of an output whose activations are all zero; a flat grey image scores
  about 0.94);
- style loss: for each style layer and image, mean squared difference between the Gram
  matrices of the output and of its style target, divided by the mean square of the
  target Gram matrix, averaged over the batch, times the layer's weight, summed over
  layers. Targets may differ per image (multi-style training). The division makes every
  layer count alike: raw Gram differences of caffe-VGG activations span four orders of
  magnitude across relu1_1 ... relu5_1, so equal raw weights would mean "relu4_1 only".
- total variation: mean squared difference of vertically and horizontally adjacent
  pixels (in [0, 255] units), summed over both directions;
- temporal: mean squared difference (in [0, 255] units) between a moved output and the
  output of the moved input (training for video, see `keras_stylize.motion`);
- kurtosis: how far the activations entering the generator's normalization layers are
  from being dominated by a few extreme spots (see `kurtosis_penalty`);
- darkening: how far the output paints regions darker than a fraction of the photo's
  brightness (see `darkening_penalty`);
- patches: how far the output, at the scale of blobs, departs from a local colour
  mapping of the photo (see `patch_penalty`).
"""

from __future__ import annotations

from keras import ops

from keras_stylize.options import (
    DARKENING_CELL,  # squares compared by darkening_penalty
    DARKENING_RATIO,  # the share of the photo's brightness a square must keep
    PATCH_FIT_EPS,
    PATCH_FIT_RADIUS,
    PATCH_MARGIN,
    PATCH_MIN_RESIDUAL,
    PATCH_RADIUS,
    PATCH_RMS_MARGIN,
)

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma of RGB (also `evaluation.luma`)


def gram_matrix(features):
    """Gram matrices `(batch, C, C)` of activations `(batch, H, W, C)`, divided by H*W*C."""
    x = ops.cast(features, "float32")
    shape = ops.shape(x)
    flat = ops.reshape(x, (shape[0], -1, shape[3]))
    size = ops.cast(shape[1] * shape[2] * shape[3], "float32")
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / size


def content_loss(features, target_features):
    """Per image, the mean squared difference of two activation tensors over the mean
    square of the target; averaged over the batch (float32 scalar). Per-image
    normalization makes the loss independent of how a batch is split across replicas."""
    target = ops.cast(target_features, "float32")
    diff = ops.cast(features, "float32") - target
    axes = tuple(range(1, len(target.shape)))
    per_image = ops.mean(ops.square(diff), axis=axes) / (
        ops.mean(ops.square(target), axis=axes) + 1e-8
    )
    return ops.mean(per_image)


def style_loss_terms(features: dict, target_grams: dict, layers) -> dict:
    """`{layer: term}`: for each of `layers`, the mean squared Gram-matrix difference over
    the mean square of the target Gram matrix, averaged over the batch (unweighted float32
    scalars; `style_loss` is their weighted sum). Arguments as in `style_loss`."""
    terms = {}
    for name in layers:
        gram = gram_matrix(features[name])
        target = ops.cast(target_grams[name], "float32")
        if len(target.shape) == 2:
            target = target[None]
        scale = ops.mean(ops.square(target), axis=(1, 2)) + 1e-8
        terms[name] = ops.mean(ops.mean(ops.square(gram - target), axis=(1, 2)) / scale)
    return terms


def style_loss(features: dict, target_grams: dict, layer_weights: dict):
    """Weighted sum over layers of the normalized mean squared Gram-matrix difference.

    Args:
        features: `{layer: activations (batch, H, W, C)}` of the generated images.
        target_grams: `{layer: Gram matrices}` of the style targets, `(batch, C, C)` (one
            target per image) or `(1, C, C)` / `(C, C)` (one target for the batch).
        layer_weights: `{layer: weight}`; layers with weight 0 are skipped.
    """
    weighted = [name for name, weight in layer_weights.items() if weight != 0]
    terms = style_loss_terms(features, target_grams, weighted)
    total = ops.convert_to_tensor(0.0, dtype="float32")
    for name in weighted:
        total = total + layer_weights[name] * terms[name]
    return total


def total_variation_loss(images):
    """Mean squared difference of adjacent pixels, vertical plus horizontal (float32)."""
    x = ops.cast(images, "float32")
    dy = x[:, 1:, :, :] - x[:, :-1, :, :]
    dx = x[:, :, 1:, :] - x[:, :, :-1, :]
    return ops.mean(ops.square(dy)) + ops.mean(ops.square(dx))


def temporal_loss(moved_outputs, outputs_of_moved):
    """Mean squared difference (in [0, 255] units, float32) between the moved outputs
    `move(G(x))` and the outputs of the moved inputs `G(move(x))` (see
    `keras_stylize.motion`); 0 for a generator that commutes with camera motion."""
    diff = ops.cast(moved_outputs, "float32") - ops.cast(outputs_of_moved, "float32")
    return ops.mean(ops.square(diff))


def kurtosis_penalty(features: list, limit: float):
    """Penalty on activations whose statistics a few pixels dominate (float32 scalar).

    For each tensor `(batch, H, W, C)` of `features` (the inputs of a generator's
    normalization layers), the kurtosis `k = E[(x - mu)^4] / E[(x - mu)^2]^2` is taken
    per image and channel over H and W (3 for a Gaussian; about `1 / p` for a channel
    that is flat except on a spot covering a fraction `p` of the image). The penalty is
    the mean over tensors, images and channels of `max(0, k - limit) / limit`: zero for
    channels with ordinary texture statistics, growing with the share of a channel's
    variance a spot holds. A spot holding a share `s` of the variance over an area `p`
    has kurtosis about `s^2 / p`, so a generator can also meet the limit by spreading
    the spot out: against the texture network's stray stars it did just that
    (docs/zoo.md).
    """
    total = ops.convert_to_tensor(0.0, dtype="float32")
    for tensor in features:
        x = ops.cast(tensor, "float32")
        axes = tuple(range(1, len(x.shape) - 1))
        centred = x - ops.mean(x, axis=axes, keepdims=True)
        second = ops.mean(ops.square(centred), axis=axes)
        fourth = ops.mean(ops.square(ops.square(centred)), axis=axes)
        kurtosis = fourth / (ops.square(second) + 1e-12)
        total = total + ops.mean(ops.relu(kurtosis - limit)) / limit
    return total / max(len(features), 1)


def darkening_penalty(images, outputs, ratio: float = DARKENING_RATIO,
                      cell: int = DARKENING_CELL):  # fmt: skip
    """Penalty on regions the output paints much darker than the photo (float32 scalar).

    The luma (BT.601) of the photos `images` and of the `outputs` (both `(batch, H, W,
    3)` RGB in [0, 255]) is averaged over `cell` x `cell` squares (partial squares at
    the edges average what they hold); per square the penalty is how far the output's
    mean falls below `ratio` times the photo's, in units of 25.5 grey levels (a tenth of
    the range), averaged over squares and images. It is zero while every square keeps at
    least `ratio` of the photo's brightness, so dark strokes narrower than a square and
    dark content (whose floor is low) cost little; a mid-grey wall painted black costs.
    Instance normalization discards an image's absolute brightness (that is its point),
    so nothing else in the perceptual loss stops a generator from rendering a region
    that is only darker than its surroundings as black (the near-black blots of
    `evaluation.blot_mask`, docs/zoo.md).
    """
    weights = ops.convert_to_tensor(LUMA_WEIGHTS, dtype="float32")
    photo = ops.sum(ops.cast(images, "float32") * weights, axis=-1, keepdims=True)
    output = ops.sum(ops.cast(outputs, "float32") * weights, axis=-1, keepdims=True)
    photo = ops.average_pool(photo, cell, strides=cell, padding="same")
    output = ops.average_pool(output, cell, strides=cell, padding="same")
    return ops.mean(ops.relu(ratio * photo - output)) / 25.5


def box_average(x, radius: int):
    """Mean over the `(2 radius + 1)`-pixel square around each pixel of `(batch, H, W, C)`
    (squares cut off at the edges average what they hold), float32, same shape."""
    k = 2 * radius + 1
    x = ops.average_pool(ops.cast(x, "float32"), (k, 1), strides=1, padding="same")
    return ops.average_pool(x, (1, k), strides=1, padding="same")


def unexplained_colour(images, outputs, radius: int = PATCH_FIT_RADIUS,
                       eps: float = PATCH_FIT_EPS):  # fmt: skip
    """What of `outputs` no local colour mapping of `images` explains, `(batch, H, W, 3)`
    float32 (both `(batch, H, W, 3)` RGB in [0, 255]). Around each pixel the output's RGB
    is fitted as an affine function of the photo's RGB over a `(2 radius + 1)` square (a
    ridge fit, regularization `eps` in grey levels squared: the guided filter of He et al.
    2013 with a colour guide); the fits of the squares covering a pixel are averaged and
    subtracted from the output. The same quantity as `evaluation.unexplained_colour`,
    which mirrors the edges instead of cutting the squares off there."""
    guide, target = ops.cast(images, "float32"), ops.cast(outputs, "float32")
    shape = ops.shape(guide)
    mean_g, mean_t = box_average(guide, radius), box_average(target, radius)

    def outer(a, b):  # (batch, H, W, 3, 3) products of every pair of channels
        return a[..., :, None] * b[..., None, :]

    def box_pairs(a, b):
        flat = ops.reshape(outer(a, b), (shape[0], shape[1], shape[2], 9))
        return ops.reshape(box_average(flat, radius), (shape[0], shape[1], shape[2], 3, 3))

    cov_gg = box_pairs(guide, guide) - outer(mean_g, mean_g)
    cov_gt = box_pairs(guide, target) - outer(mean_g, mean_t)
    gain = ops.solve(cov_gg + eps * ops.eye(3), cov_gt)  # (batch, H, W, 3 in, 3 out)
    offset = mean_t - ops.einsum("bhwi,bhwio->bhwo", mean_g, gain)
    mean_gain = ops.reshape(
        box_average(ops.reshape(gain, (shape[0], shape[1], shape[2], 9)), radius),
        (shape[0], shape[1], shape[2], 3, 3),
    )
    fit = ops.einsum("bhwi,bhwio->bhwo", guide, mean_gain) + box_average(offset, radius)
    return target - fit


def patch_penalty(images, outputs, margin: float = PATCH_MARGIN,
                  rms_margin: float = PATCH_RMS_MARGIN):  # fmt: skip
    """Penalty on blob-sized marks the photo does not explain (float32 scalar).

    Two terms on `unexplained_colour`, per pixel and channel, over the `(2 PATCH_RADIUS + 1)`
    pixel squares, each in units of `PATCH_MIN_RESIDUAL` grey levels (the threshold of
    `evaluation.patch_mask`), squared and averaged over pixels, channels and images:
    its mean beyond `margin` grey levels (a soft glow, a patch of another colour; brush
    strokes cancel out) and its root mean square beyond `rms_margin` (the rings of a star,
    which cancel out in the mean; strokes leave a root mean square of 15-45 grey levels in
    the zoo's Starry Night models, a star 60-75). Both arguments `(batch, H, W, 3)` RGB in
    [0, 255].
    """
    residual = unexplained_colour(images, outputs)
    mean = box_average(residual, PATCH_RADIUS)
    rms = ops.sqrt(box_average(ops.square(residual), PATCH_RADIUS) + 1e-6)
    return ops.mean(
        ops.square(ops.relu(ops.abs(mean) - margin) / PATCH_MIN_RESIDUAL)
        + ops.square(ops.relu(rms - rms_margin) / PATCH_MIN_RESIDUAL)
    )
