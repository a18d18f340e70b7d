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

from keras_stylize.perceptual.layers import (
    DEFAULT_CONTENT_LAYER,
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_LAYERS,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
)
from keras_stylize.perceptual.losses import (
    content_loss,
    gram_matrix,
    style_loss,
    style_loss_terms,
    total_variation_loss,
)
from keras_stylize.perceptual.vgg import vgg19_features


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

    Args:
        style_images: one style image or a sequence of them (sizes may differ).
        content_layer: VGG19 layer of the content loss.
        style_layers: VGG19 layers of the style loss, or `{layer: weight}`.
        content_weight, style_weight, tv_weight: loss weights.
        vgg_weights: "imagenet" or None (random; tests only).
        vgg_weights_path: explicit VGG19 notop weights file.
        feature_extractor: an existing `vgg19_features` model covering the layers (to
            share one between loss objects); built here when None.

    Attributes:
        num_styles: number of style images.
        style_grams: `{layer: (num_styles, C, C)}` float32 tensors.
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
    ) -> None:
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
        self.feature_extractor = feature_extractor
        self.content_network = keras.Model(
            feature_extractor.input,
            feature_extractor.get_layer(content_layer).output,
            name="vgg19_content",
        )
        self.content_network.trainable = False
        styles = _as_style_list(style_images)
        per_style = [self.feature_extractor(style) for style in styles]
        self.num_styles = len(styles)
        self.style_grams = {
            name: ops.convert_to_tensor(
                ops.concatenate([gram_matrix(f[name]) for f in per_style], axis=0)
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
        return style_loss_terms(
            features, self.target_grams(style_weights), list(self.style_layer_weights)
        )

    def __call__(self, content_images, generated, style_weights=None) -> dict:
        """Unweighted parts and the weighted total, float32 scalars (batch means)."""
        content_target = ops.stop_gradient(self.content_network(content_images))
        features = self.feature_extractor(generated)
        parts = {
            "content_loss": content_loss(features[self.content_layer], content_target),
            "style_loss": style_loss(
                features, self.target_grams(style_weights), self.style_layer_weights
            ),
            "tv_loss": total_variation_loss(generated),
        }
        parts["loss"] = (
            self.content_weight * parts["content_loss"]
            + self.style_weight * parts["style_loss"]
            + self.tv_weight * parts["tv_loss"]
        )
        return parts


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
