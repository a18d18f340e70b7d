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
  pixels (in [0, 255] units), summed over both directions.

The optional terms of training (temporal consistency, darkening) are in
`training.terms`.
"""

from __future__ import annotations

from keras import ops


def gram_matrix(features):
    """Gram matrices `(batch, C, C)` of activations `(batch, H, W, C)`, divided by H*W*C."""
    x = ops.cast(features, "float32")
    shape = ops.shape(x)
    flat = ops.reshape(x, (shape[0], -1, shape[3]))
    size = ops.cast(shape[1] * shape[2] * shape[3], "float32")
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / size


def split_windows(features, size: int):
    """`(batch * n, size, size, C)`: activations `(batch, H, W, C)` cut into the `n`
    non-overlapping `size` x `size` windows that fit (a remainder at the bottom and right
    edges is left out), image by image; and `n`. Needs H and W >= `size`."""
    shape = ops.shape(features)
    rows, cols = shape[1] // size, shape[2] // size
    x = features[:, : rows * size, : cols * size, :]
    x = ops.reshape(x, (shape[0], rows, size, cols, size, features.shape[-1]))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, size, size, features.shape[-1])), rows * cols


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


def sliced_wasserstein_terms(
    features: dict, target_samples: dict, layers, seed=None, directions: int | None = None
) -> dict:
    """`{layer: term}`: for each of `layers`, the sliced Wasserstein distance between the
    distribution of the generated activations and that of the style's (Heitz et al.,
    "A sliced Wasserstein loss for neural texture synthesis", CVPR 2021), as unweighted
    float32 scalars averaged over the batch.

    Every spatial position's activation vector is a sample. Both sample sets are projected
    on `directions` (default C) random unit directions (drawn anew at each call from `seed`, a
    `keras.random.SeedGenerator` or None); each projection is sorted, and the sorted
    values are compared at the same quantiles (`min(N, M)` evenly spaced ones), so the
    term matches the whole distribution of every projection: the painting's palette and
    its mix of marks, not only their second moments as a Gram matrix does. The mean
    squared difference is divided by the mean square of the style's projections, so every
    layer counts alike (as in `style_loss_terms`) and activations scaled by s > 0 score
    (s - 1)^2.

    Args:
        features: `{layer: activations (batch, H, W, C)}` of the generated images.
        target_samples: `{layer: (batch or 1, M, C)}` activation vectors of the style
            targets (all positions of the style image or a random subset of them).
        layers: the layers to score.
        seed: the random directions' seed generator.
        directions: how many directions (default: the number of channels).
    """
    from keras import random

    terms = {}
    for name in layers:
        x = ops.cast(features[name], "float32")
        shape = ops.shape(x)
        channels = x.shape[-1]
        samples = ops.reshape(x, (shape[0], -1, channels))
        target = ops.cast(target_samples[name], "float32")
        axes = random.normal((channels, directions or channels), seed=seed)
        axes = axes / ops.sqrt(ops.sum(ops.square(axes), axis=0, keepdims=True))
        projected = ops.sort(ops.transpose(ops.matmul(samples, axes), (0, 2, 1)), axis=-1)
        wanted = ops.sort(ops.transpose(ops.matmul(target, axes), (0, 2, 1)), axis=-1)
        scale = ops.mean(ops.square(wanted), axis=(1, 2)) + 1e-8
        projected, wanted = _at_common_quantiles(projected, wanted)
        per_image = ops.mean(ops.square(projected - wanted), axis=(1, 2)) / scale
        terms[name] = ops.mean(per_image)
    return terms


def _at_common_quantiles(a, b):
    """Two sorted sample sets `(batch, K, N)` and `(batch', K, M)` at the same
    `min(N, M)` quantiles (the centres of equal-mass bins), by index gathering."""
    n, m = ops.shape(a)[-1], ops.shape(b)[-1]
    q = ops.minimum(n, m)
    centres = (ops.cast(ops.arange(q), "float32") + 0.5) / ops.cast(q, "float32")

    def take(values, count):
        index = ops.cast(ops.floor(centres * ops.cast(count, "float32")), "int32")
        return ops.take(values, ops.minimum(index, count - 1), axis=-1)

    return take(a, n), take(b, m)


def srgb_to_lab(images):
    """CIELAB (D65) of sRGB images in [0, 255], `(..., 3)` -> `(..., 3)` float32 (L in
    [0, 100]); differentiable (the numpy twin is `evaluation.measures.rgb_to_lab`)."""
    a = ops.cast(images, "float32") / 255.0
    linear = ops.where(a > 0.04045, ops.power((ops.maximum(a, 0.04045) + 0.055) / 1.055, 2.4),
                       a / 12.92)  # fmt: skip
    to_xyz = ops.convert_to_tensor(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]], "float32"
    )
    white = ops.convert_to_tensor([0.95047, 1.0, 1.08883], "float32")
    xyz = ops.matmul(linear, to_xyz) / white
    cube = ops.power(ops.maximum(xyz, 0.008856), 1.0 / 3.0)
    f = ops.where(xyz > 0.008856, cube, 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return ops.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)
