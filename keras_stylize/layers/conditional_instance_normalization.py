"""Conditional instance normalization (Dumoulin, Shlens & Kudlur, ICLR 2017)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_stylize.layers.instance_normalization import instance_normalize


@keras.saving.register_keras_serializable(package="keras_stylize")
class ConditionalInstanceNormalization(keras.layers.Layer):
    """Instance normalization with a scale and shift per style, mixed by style weights.

    Called as `layer([x, style_weights])` with features `x` of shape `(batch, height,
    width, channels)` and `style_weights` of shape `(batch, num_styles)`:

        y = IN(x) * (style_weights @ gamma) + (style_weights @ beta)

    where `IN(x)` normalizes each image and channel over height and width (as
    `InstanceNormalization`, statistics in float32) and `gamma`, `beta` have shape
    `(num_styles, channels)`. A one-hot row selects one style; a convex combination
    blends styles by mixing their parameters, as in the paper. All convolutions of a
    generator are shared between styles: a style costs `2 * channels` parameters per
    normalization layer.

    Args:
        num_styles: number of styles (rows of `gamma` and `beta`).
        epsilon: small float added to the variance.
        beta_initializer: initializer for `beta`.
        gamma_initializer: initializer for `gamma`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Reference:
        Dumoulin, Shlens, Kudlur, "A Learned Representation for Artistic Style",
        ICLR 2017, arXiv:1610.07629 (and Magenta's `image_stylization`).
    """

    def __init__(
        self,
        num_styles: int,
        epsilon: float = 1e-5,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_styles, int) or num_styles < 1:
            raise ValueError(f"`num_styles` must be a positive int. Received: {num_styles!r}")
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.num_styles = num_styles
        self.epsilon = float(epsilon)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)

    def build(self, input_shape: list) -> None:
        features_shape, weights_shape = input_shape
        channels = features_shape[-1]
        if channels is None:
            raise ValueError(
                "The channel (last) dimension of the features must be known. "
                f"Received: input_shape={input_shape}"
            )
        if weights_shape[-1] not in (None, self.num_styles):
            raise ValueError(
                f"style_weights must have {self.num_styles} columns. "
                f"Received: input_shape={input_shape}"
            )
        shape = (self.num_styles, channels)
        # float32 in the float32 normalization under any policy (see InstanceNormalization)
        self.gamma = self.add_weight(
            shape=shape, name="gamma", initializer=self.gamma_initializer, autocast=False
        )
        self.beta = self.add_weight(
            shape=shape, name="beta", initializer=self.beta_initializer, autocast=False
        )

    def call(self, inputs):
        x, style_weights = inputs
        w = ops.cast(style_weights, "float32")
        gamma = ops.matmul(w, self.gamma)[:, None, None, :]
        beta = ops.matmul(w, self.beta)[:, None, None, :]
        return ops.cast(instance_normalize(x, self.epsilon, gamma, beta), self.compute_dtype)

    def compute_output_shape(self, input_shape: list) -> tuple:
        return input_shape[0]

    def get_config(self) -> dict:
        config = {
            "num_styles": self.num_styles,
            "epsilon": self.epsilon,
            "beta_initializer": keras.initializers.serialize(self.beta_initializer),
            "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
        }
        return {**super().get_config(), **config}
