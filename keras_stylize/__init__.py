"""keras_stylize: fast neural style transfer for Keras 3 / TensorFlow.

Conventions used throughout the package:

- Images are float32 RGB tensors `(batch, height, width, 3)`, channels-last, pixel
  values in [0, 255], for generator inputs and outputs alike. Decoded files are
  `uint8` `(height, width, 3)` RGB arrays.
- Generators accept any height and width >= 32 (not only multiples of their stride),
  batch size 1 included, and return an image of the same size. They map their input to
  [-1, 1] and their last activation `a` to pixels by `127.5 * (a + 1)`, clipped to
  [0, 255] at inference (`output="tanh"`: `127.5 * (tanh(a) + 1)`).
  Multi-style generators take `[images, style_weights]`, style weights `(batch, styles)`.
- `InstanceNormalization` normalizes each image and channel over height and width
  (paper eq. 3), identically at training and test time.
- The VGG19 loss network takes [0, 255] RGB; its caffe preprocessing happens inside.

Importing `keras_stylize` is cheap (TensorFlow is imported on first use of a name
below, so the command line starts fast). Our layers are registered with Keras when
`keras_stylize.layers` is imported, which any name below does; if Keras was already
imported, `import keras_stylize` registers them at once. After that,
`keras.saving.load_model(path, safe_mode=True)` loads our `.keras` files;
`keras_stylize.load_generator(path)` always works.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "ClipToPixelRange": "keras_stylize.layers",
    "ConditionalInstanceNormalization": "keras_stylize.layers",
    "CropToReference": "keras_stylize.layers",
    "InstanceNormalization": "keras_stylize.layers",
    "NearestUpsampling2D": "keras_stylize.layers",
    "PadToMultiple": "keras_stylize.layers",
    "ReflectionPadding2D": "keras_stylize.layers",
    "SpatialNoise": "keras_stylize.layers",
    "StyleWeights": "keras_stylize.layers",
    "UpsampleConv2D": "keras_stylize.layers",
    "PerceptualLoss": "keras_stylize.perceptual.loss",
    "StylizationModel": "keras_stylize.training.model",
    "johnson_generator": "keras_stylize.generators",
    "texture_net_generator": "keras_stylize.generators",
    "load_generator": "keras_stylize.zoo",
    "stylize": "keras_stylize.inference.stylize",
    "vgg19_features": "keras_stylize.perceptual.vgg",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_stylize' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if "keras" in sys.modules:  # Keras is loaded anyway: register our layers now
    importlib.import_module("keras_stylize.layers")
