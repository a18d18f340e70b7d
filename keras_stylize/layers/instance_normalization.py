"""Instance normalization (Ulyanov, Vedaldi & Lempitsky 2016, eq. 3)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def instance_normalize(inputs, epsilon: float, gamma=None, beta=None):
    """`gamma * (x - mean) / sqrt(var + epsilon) + beta` per image and channel over the
    spatial axes, in float32 (the input is cast; the result is float32). Every axis
    except the first (batch) and the last (channels) is reduced. `gamma` and `beta`
    (float32, shape `(channels,)` or broadcastable per image, e.g. `(batch, 1, 1,
    channels)`) default to 1 and 0.

    Computed as `x * scale + shift` with per-image, per-channel `scale` and `shift`: two
    full-size temporaries instead of four, which lowers the peak memory of inference on
    large images (docs/benchmarks.md).
    """
    x = ops.cast(inputs, "float32")
    axes = list(range(1, len(x.shape) - 1))
    mean, variance = ops.moments(x, axes=axes, keepdims=True)
    scale = ops.rsqrt(variance + epsilon)
    if gamma is not None:
        scale = scale * gamma
    shift = -mean * scale
    if beta is not None:
        shift = shift + beta
    return x * scale + shift


@keras.saving.register_keras_serializable(package="keras_stylize")
class InstanceNormalization(keras.layers.Layer):
    """Normalizes each image and each channel over its spatial axes.

    For an input `x` of shape `(batch, height, width, channels)` (channels-last),
    the output is

        y[t, i, j, c] = gamma[c] * (x[t, i, j, c] - mu[t, c]) / sqrt(var[t, c] + epsilon)
                        + beta[c]

    where `mu[t, c]` and `var[t, c]` are the mean and (biased) variance of image `t`,
    channel `c` over all `(i, j)`: eq. 3 of *Instance Normalization: The Missing
    Ingredient for Fast Stylization*. The statistics come from the input itself, so
    training and inference behave identically and there are no moving averages. Inputs
    of any rank >= 3 are accepted: every axis except the first (batch) and the last
    (channels) is reduced. Unknown spatial sizes are fine.

    Under a mixed-precision policy the statistics and the normalization are computed in
    float32 (float16 overflows when squaring activations) and the result is cast back to
    the layer's compute dtype.

    With matching affine parameters this equals
    `keras.layers.GroupNormalization(groups=-1)`.

    Args:
        epsilon: small float added to the variance to avoid dividing by zero.
        center: if True, add the learned per-channel offset `beta`.
        scale: if True, multiply by the learned per-channel scale `gamma`.
        beta_initializer: initializer for `beta`.
        gamma_initializer: initializer for `gamma`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:
        >>> layer = InstanceNormalization()
        >>> y = layer(keras.random.normal((2, 17, 23, 8)))

    Reference:
        Ulyanov, Vedaldi, Lempitsky, arXiv:1607.08022.
    """

    def __init__(
        self,
        epsilon: float = 1e-5,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.input_spec = keras.layers.InputSpec(min_ndim=3)
        self.supports_masking = True

    def build(self, input_shape: tuple) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "The channel (last) dimension of the input to InstanceNormalization "
                f"must be known. Received: input_shape={input_shape}"
            )
        self.input_spec = keras.layers.InputSpec(min_ndim=3, axes={-1: channels})
        # Not autocast: under a mixed policy the parameters stay float32 in the float32
        # normalization instead of being rounded to 16 bits.
        self.gamma = (
            self.add_weight(shape=(channels,), name="gamma",
                            initializer=self.gamma_initializer, autocast=False)
            if self.scale
            else None
        )  # fmt: skip
        self.beta = (
            self.add_weight(shape=(channels,), name="beta",
                            initializer=self.beta_initializer, autocast=False)
            if self.center
            else None
        )  # fmt: skip

    def call(self, inputs):
        y = instance_normalize(inputs, self.epsilon, self.gamma, self.beta)
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict:
        config = {
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": keras.initializers.serialize(self.beta_initializer),
            "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
        }
        base_config = super().get_config()
        return {**base_config, **config}
