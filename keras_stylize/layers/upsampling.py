"""Nearest-neighbour x2 upsampling that exports cleanly to TFLite and TF.js, and the
upsampling + 3x3 convolution block computed at the input's resolution."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from keras_stylize.layers.reflection_padding import mirror_slices


def _doubled(input_shape: tuple, channels: int | None) -> tuple:
    """`(batch, 2 * height, 2 * width, channels)` for a channels-last `input_shape`
    (unknown sizes stay None)."""
    batch, height, width, _ = input_shape
    return (
        batch,
        None if height is None else 2 * height,
        None if width is None else 2 * width,
        channels,
    )


@keras.saving.register_keras_serializable(package="keras_stylize")
class NearestUpsampling2D(keras.layers.Layer):
    """Doubles height and width by repeating each pixel (nearest neighbour).

    Channels-last `(batch, height, width, channels)` in, `(batch, 2 * height, 2 * width,
    channels)` out. Implemented as `tf.image.resize(..., method="nearest")` with a size
    computed from the run-time shape: that lowers to `ResizeNearestNeighbor`, a builtin
    of TFLite and TF.js, whereas `keras.layers.UpSampling2D` lowers to a reshape whose
    shape is only known at run time, after which the TFLite converter leaves the next
    convolution unconverted when height and width are dynamic. With half-pixel centres
    (TF2's default) output pixel `i` reads input pixel `i // 2`: an exact repeat.

    Used with a following convolution it is the "resize-convolution" upsampling block of
    Odena et al., "Deconvolution and Checkerboard Artifacts" (Distill, 2016).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        size = 2 * tf.shape(inputs)[1:3]
        outputs = tf.image.resize(inputs, size, method="nearest")
        return tf.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _doubled(input_shape, input_shape[-1])


# How the rows (or columns) of a 3x3 kernel act on the input once the upsampled image is
# expressed through the input: output row 2i + p of `conv3x3(reflect_pad(upsample(x)))`
# reads upsampled rows 2i + p - 1 .. 2i + p + 1, i.e. input rows (i-1, i, i) for p = 0 and
# (i, i, i+1) for p = 1, counting row -1 as row 0 and row H as row H - 1 (edge repeat).
# Over the rows i-1, i, i+1 of the edge-padded input, phase p's kernel rows are these sums
# of the 3x3 kernel's rows.
_PHASE_TAPS = (((1, 0, 0), (0, 1, 1), (0, 0, 0)), ((0, 0, 0), (1, 1, 0), (0, 0, 1)))
_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))  # (row, column) phase, in depth_to_space order


@keras.saving.register_keras_serializable(package="keras_stylize")
class UpsampleConv2D(keras.layers.Layer):
    """x2 nearest upsampling, 1 px reflection padding and a 3x3 convolution, computed at
    the input's resolution (a sub-pixel convolution).

    Channels-last `(batch, height, width, channels)` in, `(batch, 2 * height, 2 * width,
    filters)` out; the same values as `NearestUpsampling2D`, `ReflectionPadding2D(1)` and
    a "valid" 3x3 `Conv2D` with this layer's `kernel` (and `bias`) in a row. Each of the
    four output phases (even/odd row, even/odd column) is a 3x3 convolution of the input,
    edge-padded by one pixel, with a kernel that sums taps of the 3x3 kernel (see
    `_PHASE_TAPS`; 4 of its 9 taps are non-zero). One convolution computes the four phases
    as `4 * filters` channels and `depth_to_space` interleaves them: no tensor at the output
    resolution with the input's channel count is ever made (the upsampled image and its
    padded copy cost 2 x 4 times the input's memory). Four separate 2x2 convolutions would
    do fewer multiply-adds, but the window slices and the concatenation they need held
    0.85 GB more at 2048 x 2048 (float32) and were not faster. Only 3x3 kernels have this
    form: for larger kernels the reflection of the upsampled image is not an upsampled
    edge padding.

    Inference uses it in place of the three-layer block of the Johnson generators
    (`model_graph.fuse_upsampling`); the gradient is that of the same function, so it
    can also be trained.

    Args:
        filters: output channels.
        use_bias: add a learned per-channel bias.
        kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.
    """

    def __init__(
        self,
        filters: int,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"`filters` must be >= 1. Received: filters={filters}")
        self.filters = int(filters)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape: tuple) -> None:
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("The channel (last) dimension of UpsampleConv2D's input must be known")
        self.kernel = self.add_weight(
            name="kernel", shape=(3, 3, channels, self.filters),
            initializer=self.kernel_initializer,
        )  # fmt: skip
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: channels})

    def phase_kernel(self):
        """The kernel `(3, 3, channels, 4 * filters)` of the four phases, in
        `depth_to_space` order; tap sums in float32, then cast to the compute dtype."""
        kernel = tf.cast(self.kernel, "float32")
        taps = [tf.constant(t, "float32") for t in _PHASE_TAPS]
        phases = [tf.einsum("rk,cl,klio->rcio", taps[p], taps[q], kernel) for p, q in _PHASES]
        return tf.cast(tf.concat(phases, axis=-1), self.compute_dtype)

    def call(self, inputs):
        x = tf.cast(inputs, self.compute_dtype)
        # Edge padding by 1 px as slices: XNNPACK (TFLite) has no MirrorPad.
        x = mirror_slices(mirror_slices(x, 1, 1, symmetric=True), 2, 1, symmetric=True)
        phases = tf.nn.conv2d(x, self.phase_kernel(), strides=1, padding="VALID")
        outputs = tf.nn.depth_to_space(phases, 2)
        if self.bias is not None:
            outputs = outputs + tf.cast(self.bias, self.compute_dtype)
        return outputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _doubled(input_shape, self.filters)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
