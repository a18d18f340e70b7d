"""`InferenceSession`: one generator prepared for inference in one precision.

A session owns everything inference derives from a generator: the copy that runs
(upsampling fused, dtype policy of the precision: `precision.for_inference`), its compiled
forward pass, the estimate of a pass's memory (`memory`) and the tile model of tiled
inference (`tiling`). `session_for(generator, precision)` keeps one session per generator
and precision; a session gives its copy the generator's current weights at every
`session_for` call, so a generator that is still being trained never runs with stale
weights.

Pixel conventions as in `inference.stylize`: float32 images `(batch, H, W, 3)` in [0, 255].
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import keras
import numpy as np

from keras_stylize.generators.blocks import STYLE_INPUT
from keras_stylize.inference import memory, tiling
from keras_stylize.inference.precision import for_inference
from keras_stylize.options import DEFAULT_PRECISION

_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def input_specs(model: keras.Model, batch: int | None = None, size=None, image_dtype=None):
    """The `tf.TensorSpec`s of a generator's inputs: images `(batch, H, W, 3)` named
    "images" (float32 unless `image_dtype`; `size=(H, W)` fixes the size, else any), and
    for multi-style generators the style weights `(batch, num_styles)` float32."""
    import tensorflow as tf

    height, width = size if size else (None, None)
    specs = [tf.TensorSpec([batch, height, width, 3], image_dtype or tf.float32, name="images")]
    if len(model.inputs) > 1:
        styles = model.inputs[1].shape[-1]
        specs.append(tf.TensorSpec([batch, styles], tf.float32, name=STYLE_INPUT))
    return specs


def forward(model: keras.Model):
    """`model`'s inference call as a function of its inputs in `input_specs` order."""

    def call(*inputs):
        return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    return call


def compiled(model: keras.Model):
    """`model`'s forward pass (`training=False`) as a `tf.function` taking float32
    images `(batch, H, W, 3)` of any size, then the style weights `(batch, S)` if the
    model has a second input. A graph frees each intermediate as soon as its consumers
    ran; Keras' eager call of a functional model keeps them all (docs/benchmarks.md)."""
    import tensorflow as tf

    return tf.function(forward(model), input_signature=input_specs(model))


def call_compiled(function, images: np.ndarray, style_weights: np.ndarray | None = None):
    """The outputs of a `compiled` function (a float32 array, or a list for several
    outputs) for float32 images `(batch, H, W, 3)`; `style_weights` (models with a style
    input only) is one style weights row `(num_styles,)` for every image or one row per image."""
    inputs = [np.asarray(images, np.float32)]
    if style_weights is not None:
        rows = np.asarray(style_weights, np.float32).reshape(-1, np.shape(style_weights)[-1])
        inputs.append(np.broadcast_to(rows, (len(images), rows.shape[1])))
    outputs = function(*inputs)
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o, np.float32) for o in outputs]
    return np.asarray(outputs, np.float32)


class InferenceSession:
    """`generator` prepared for inference in `precision` (one of
    `options.INFERENCE_PRECISIONS`; "auto" resolves as `precision.resolve` says).

    The tile model's statistics are variables: do not run tiled inference on one session
    from several threads at once.
    """

    def __init__(self, generator: keras.Model, precision: str = DEFAULT_PRECISION) -> None:
        prepared = for_inference(generator, precision)
        # The session refers to its generator weakly (sessions are cached per generator).
        self._generator = weakref.ref(generator)
        self._copy = None if prepared is generator else prepared
        self.precision = precision
        self._functions: dict[int, tuple[keras.Model, Callable]] = {}
        self._bytes_per_pixel: float | None = None
        self._tiles: tiling.TileModel | None = None

    @property
    def model(self) -> keras.Model:
        """The model inference runs (the generator itself if nothing had to change)."""
        return self._copy if self._copy is not None else self._generator()

    def refresh(self) -> None:
        """Gives the session's copy the generator's current weights."""
        if self._copy is not None:
            self._copy.set_weights(self._generator().get_weights())
            if self._tiles is not None:
                self._tiles.copy_parameters()

    def run(self, images: np.ndarray, style_weights: np.ndarray | None = None, model=None):
        """The float32 output of `model` (default: the session's model; else one of its
        tile models) for float32 images `(batch, H, W, 3)` in [0, 255];
        `style_weights` (multi-style only) is one style weights row `(num_styles,)` for
        every image or one row per image `(batch, num_styles)`."""
        model = self.model if model is None else model
        if id(model) not in self._functions:
            self._functions[id(model)] = (model, compiled(model))
        return call_compiled(self._functions[id(model)][1], images, style_weights)

    @property
    def bytes_per_pixel(self) -> float:
        """Estimated peak memory of a whole-image pass per input pixel
        (`memory.activation_bytes_per_pixel`)."""
        if self._bytes_per_pixel is None:
            self._bytes_per_pixel = memory.activation_bytes_per_pixel(self.model)
        return self._bytes_per_pixel

    def reserve(self, pixels: int) -> int:
        """Reserves memory for a whole-image pass over `pixels` pixels (`memory.reserve`)."""
        return memory.reserve(int(pixels * self.bytes_per_pixel))

    def plan_tiles(self, height: int, width: int, max_memory_mb: float, overlap: int):
        """None if the whole image fits in `max_memory_mb`, else the tile side that fits
        (`memory.plan_tiles`)."""
        return memory.plan_tiles(self.bytes_per_pixel, height, width, max_memory_mb, overlap)

    @property
    def tiles(self) -> tiling.TileModel:
        """The tile model of tiled inference (`tiling.TileModel`)."""
        if self._tiles is None:
            self._tiles = tiling.TileModel(self.model)
        return self._tiles

    def stylize_tiled(
        self,
        pixels: np.ndarray,
        tile: int,
        overlap: int,
        style_weights: np.ndarray | None = None,
        finish=None,
    ) -> np.ndarray:
        """The output for one `(H, W, 3)` image computed in tiles that share the whole
        image's statistics (`tiling.stylize_tiled`)."""
        return tiling.stylize_tiled(
            self.tiles, self.run, pixels, tile, overlap, style_weights, finish
        )


def session_for(generator: keras.Model, precision: str = DEFAULT_PRECISION) -> InferenceSession:
    """The session of `generator` in `precision`, made on first use and kept as long as
    the generator lives; its copy gets the generator's current weights."""
    sessions = _SESSIONS.setdefault(generator, {})
    if precision in sessions:
        sessions[precision].refresh()
    else:
        sessions[precision] = InferenceSession(generator, precision)
    return sessions[precision]
