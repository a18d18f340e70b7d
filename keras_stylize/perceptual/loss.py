"""`PerceptualLoss`: the content, style and total-variation loss of fast style transfer.

Pixel convention: content images and generated images are float `(batch, H, W, 3)` RGB in
[0, 255]. Style images are float `(H, W, 3)` or `(1, H, W, 3)` in [0, 255], already at the
size whose texture scale is wanted (see `data.load_style_image`). Every value returned is
a float32 scalar, whatever the dtype policy (see `keras_stylize.perceptual.losses` for the
definitions and their normalization).

The loss object is independent of any generator and of training: `StylizationModel`
trains a generator with it, `evaluation` scores stylized photos with it, and it can drive
any optimizer, for example optimizing the pixels of one image directly (Gatys et al.).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_stylize.options import STYLE_MEASURES
from keras_stylize.perceptual.layers import (
    DEFAULT_CONTENT_LAYER,
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
    layer_stride,
)
from keras_stylize.perceptual.losses import (
    content_loss,
    gram_matrix,
    sliced_wasserstein_terms,
    split_windows,
    style_loss_terms,
    total_variation_loss,
)
from keras_stylize.perceptual.vgg import vgg19_features

MAX_STYLE_SAMPLES = 16384  # activation vectors kept per style and layer for "sliced"


def style_layer_weights(style_layers: Sequence[str] | Mapping[str, float]) -> dict[str, float]:
    """`{layer: weight}` from a list of layer names (weight 1 each) or a mapping."""
    if isinstance(style_layers, Mapping):
        weights = {str(k): float(v) for k, v in style_layers.items()}
    else:
        weights = {str(name): 1.0 for name in style_layers}
    if not weights:
        raise ValueError("at least one style layer is required")
    return weights


class PerceptualLoss:
    """Content + style + total variation against one or several style images.

    `loss(content_images, generated, style_weights=None)` returns the unweighted parts
    `content_loss`, `style_loss`, `tv_loss` and the weighted total `loss` (means over the
    batch). The content target is the content image's VGG activation, taken through a
    network cut at the content layer and outside the gradient. The style targets (Gram
    matrices of each style image) are computed once, here. With several styles, each
    image of a batch is scored against the Gram matrices mixed by its row of
    `style_weights` `(batch, num_styles)` (one-hot rows: one style per image).

    `style_measure` chooses how the style loss compares activations: "gram" (Gram
    matrices, `losses.style_loss_terms`) or "sliced" (the sliced Wasserstein distance
    between activation distributions, `losses.sliced_wasserstein_terms`; the targets are
    up to `MAX_STYLE_SAMPLES` activation vectors per style and layer, drawn once with a
    fixed seed, and with several styles each image is scored against the style with the
    largest weight in its row).

    `style_window` matches the style statistics window by window instead of over the
    whole image: the generated image's activations are cut into squares of that many
    image pixels per side (`split_windows`, at each layer's stride), and every window is
    scored against the whole painting's statistics. A global statistic lets a network
    paint the texture where the photo is busy and leave skies and walls as smooth
    gradients; windows ask every region for the painting's palette and marks. Images
    must be at least one window wide and high.

    `style_targets(images)` gives the targets of any batch of style images instead, one
    per image, for training where every image has a painting of its own (style
    prediction): pass them as `loss(content, generated, style_targets=...)`.

    Args:
        style_images: one style image or a sequence of them (sizes may differ), or None
            (no stored targets; every call then passes `style_targets`).
        content_layer: VGG19 layer of the content loss.
        style_layers: VGG19 layers of the style loss, or `{layer: weight}`.
        content_weight, style_weight, tv_weight: loss weights.
        vgg_weights: "imagenet" or None (random; tests only).
        vgg_weights_path: explicit VGG19 notop weights file.
        feature_extractor: an existing `vgg19_features` model covering the layers (to
            share one between loss objects); built here when None.
        style_measure: "gram" or "sliced" (see above).
        style_window: window side in image pixels, or None for the whole image (see
            above); a multiple of the deepest style layer's stride.
        seed: seed of the sliced measure's sampling and random directions.

    Attributes:
        num_styles: number of style images.
        style_grams: `{layer: (num_styles, C, C)}` float32 tensors.
        style_samples: `{layer: (num_styles, M, C)}` float32 tensors ("sliced" only).
        vgg_weights_info: the `VGG19Weights` used (None when random or shared).
    """

    def __init__(
        self,
        style_images: Any,
        content_layer: str = DEFAULT_CONTENT_LAYER,
        style_layers: Sequence[str] | Mapping[str, float] = DEFAULT_STYLE_LAYERS,
        content_weight: float = DEFAULT_CONTENT_WEIGHT,
        style_weight: float = DEFAULT_STYLE_WEIGHT,
        tv_weight: float = DEFAULT_TV_WEIGHT,
        vgg_weights: str | None = "imagenet",
        vgg_weights_path: str | None = None,
        feature_extractor: keras.Model | None = None,
        style_measure: str = "gram",
        style_window: int | None = None,
        seed: int = 0,
    ) -> None:
        if style_measure not in STYLE_MEASURES:
            raise ValueError(
                f"style_measure must be one of {STYLE_MEASURES}, not {style_measure!r}"
            )
        self.style_measure = style_measure
        self.style_window = style_window
        self.content_layer = content_layer
        self.style_layer_weights = style_layer_weights(style_layers)
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        self.vgg_weights_info = None
        if feature_extractor is None:
            feature_extractor, self.vgg_weights_info = vgg19_features(
                [content_layer, *self.style_layer_weights], weights=vgg_weights,
                weights_path=vgg_weights_path, return_weights_info=True,
            )  # fmt: skip
        if style_window is not None:
            strides = {name: layer_stride(name) for name in self.style_layer_weights}
            if style_window < 1 or any(style_window % s for s in strides.values()):
                raise ValueError(
                    f"style_window must be a positive multiple of {max(strides.values())} "
                    f"(the deepest style layer's stride), not {style_window}"
                )
        self.feature_extractor = feature_extractor
        self.content_network = keras.Model(
            feature_extractor.input,
            feature_extractor.get_layer(content_layer).output,
            name="vgg19_content",
        )
        self.content_network.trainable = False
        styles = [] if style_images is None else _as_style_list(style_images)
        per_style = [self.feature_extractor(style) for style in styles]
        self.num_styles = len(styles)
        self.style_grams = {
            name: ops.convert_to_tensor(
                ops.concatenate([gram_matrix(f[name]) for f in per_style], axis=0)
            )
            for name in self.style_layer_weights
            if per_style
        }
        self.style_samples = {}
        if style_measure == "sliced":
            self.seed_generator = keras.random.SeedGenerator(seed)
        if style_measure == "sliced" and per_style:
            rng = np.random.default_rng(seed)
            self.style_samples = {
                name: ops.convert_to_tensor(
                    sample_vectors(
                        [np.asarray(f[name]) for f in per_style], MAX_STYLE_SAMPLES, rng
                    )  # fmt: skip
                )
                for name in self.style_layer_weights
            }

    def target_grams(self, style_weights=None) -> dict:
        """`{layer: Gram targets}`: `(1, C, C)` for a single style without weights, else
        `(batch, C, C)` mixed by `style_weights` `(batch, num_styles)`."""
        if style_weights is None:
            if self.num_styles != 1:
                raise ValueError(
                    f"this loss has {self.num_styles} styles: pass style_weights "
                    "(batch, num_styles)"
                )
            return self.style_grams
        w = ops.cast(style_weights, "float32")
        return {
            name: ops.einsum("bs,scd->bcd", w, grams) for name, grams in self.style_grams.items()
        }

    def style_loss_by_layer(self, generated, style_weights=None) -> dict:
        """`{layer: term}`: the unweighted style term of each style layer (see
        `losses.style_loss_terms`); `style_loss` is their sum weighted by
        `style_layer_weights`. Shows which layers a generator pays or gains on."""
        features = self.feature_extractor(generated)
        return self._style_terms(features, style_weights, list(self.style_layer_weights))

    def _style_terms(self, features: dict, style_weights, layers: list[str],
                     style_targets=None) -> dict:  # fmt: skip
        if style_targets is None and not self.num_styles:
            raise ValueError("this loss has no stored styles: pass style_targets")
        per_image = style_targets is not None or style_weights is not None
        if style_targets is not None:
            targets = style_targets
        elif self.style_measure == "gram":
            targets = self.target_grams(style_weights)
        else:
            targets = self.target_samples(style_weights)
        if self.style_window is not None:
            features, targets = dict(features), dict(targets)
            for name in layers:
                features[name], count = split_windows(
                    features[name], self.style_window // layer_stride(name)
                )
                if per_image:  # one target per image: one per window
                    targets[name] = ops.repeat(targets[name], count, axis=0)
        if self.style_measure == "gram":
            return style_loss_terms(features, targets, layers)
        return sliced_wasserstein_terms(features, targets, layers, seed=self.seed_generator)

    def target_samples(self, style_weights=None) -> dict:
        """`{layer: activation samples}` of the "sliced" measure: `(1, M, C)` for a
        single style without weights, else `(batch, M, C)`, each row's style being the
        one with the largest weight."""
        if style_weights is None:
            if self.num_styles != 1:
                raise ValueError(
                    f"this loss has {self.num_styles} styles: pass style_weights "
                    "(batch, num_styles)"
                )
            return self.style_samples
        index = ops.argmax(style_weights, axis=-1)
        return {name: ops.take(s, index, axis=0) for name, s in self.style_samples.items()}

    def style_targets(self, style_images) -> dict:
        """`{layer: (batch, ...)}`: the style targets of each of `style_images` `(batch,
        H, W, 3)` in [0, 255] (Gram matrices, or every activation vector for "sliced"),
        outside the gradient."""
        features = self.feature_extractor(style_images)
        targets = {}
        for name in self.style_layer_weights:
            f = ops.stop_gradient(ops.cast(features[name], "float32"))
            if self.style_measure == "gram":
                targets[name] = gram_matrix(f)
            else:
                targets[name] = ops.reshape(f, (ops.shape(f)[0], -1, f.shape[-1]))
        return targets

    def __call__(self, content_images, generated, style_weights=None, style_targets=None) -> dict:
        """Unweighted parts and the weighted total, float32 scalars (batch means).
        `style_targets` (from `style_targets`, one per image) replace the stored styles'."""
        content_target = ops.stop_gradient(self.content_network(content_images))
        features = self.feature_extractor(generated)
        parts = {
            "content_loss": content_loss(features[self.content_layer], content_target),
            "style_loss": self._weighted_style(features, style_weights, style_targets),
            "tv_loss": total_variation_loss(generated),
        }
        parts["loss"] = (
            self.content_weight * parts["content_loss"]
            + self.style_weight * parts["style_loss"]
            + self.tv_weight * parts["tv_loss"]
        )
        return parts

    def _weighted_style(self, features: dict, style_weights, style_targets=None):
        weights = {name: w for name, w in self.style_layer_weights.items() if w != 0}
        terms = self._style_terms(features, style_weights, list(weights), style_targets)
        total = ops.convert_to_tensor(0.0, dtype="float32")
        for name, weight in weights.items():
            total = total + weight * terms[name]
        return total


def sample_vectors(arrays: list[np.ndarray], limit: int, rng: np.random.Generator) -> np.ndarray:
    """`(len(arrays), M, C)` float32: M vectors of each array's last axis (`(..., C)`, all
    positions flattened), M the fewest any array has, at most `limit`: a random subset,
    without repeats, in their original order, where an array has more. The targets of
    distribution measures (the sliced style measure, the palette term)."""
    flat = [np.asarray(a, np.float32).reshape(-1, a.shape[-1]) for a in arrays]
    count = min(limit, *(len(f) for f in flat))
    return np.stack([f[np.sort(rng.choice(len(f), count, replace=False))] for f in flat])


def _as_style_list(style_images: Any) -> list[np.ndarray]:
    if isinstance(style_images, np.ndarray) or hasattr(style_images, "shape"):
        style_images = [style_images]
    styles = []
    for image in style_images:
        array = np.asarray(image, dtype=np.float32)
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4 or array.shape[0] != 1 or array.shape[-1] != 3:
            raise ValueError(f"a style image must be (H, W, 3) or (1, H, W, 3); got {array.shape}")
        styles.append(array)
    if not styles:
        raise ValueError("at least one style image is required")
    return styles
