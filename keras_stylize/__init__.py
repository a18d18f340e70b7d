"""keras_stylize: fast neural style transfer for Keras 3 / TensorFlow.

Conventions used throughout the package:

- Images are float32 RGB tensors `(batch, height, width, 3)`, channels-last, pixel
  values in [0, 255], for generator inputs and outputs alike. Decoded files are
  `uint8` `(height, width, 3)` RGB arrays.
- Generators accept any height and width >= 32 (not only multiples of their stride),
  batch size 1 included, and return an image of the same size. They map their input to
  [-1, 1] and their output to [0, 255] with `127.5 * (tanh(a) + 1)`.
- `InstanceNormalization` normalizes each image and channel over height and width
  (paper eq. 3), identically at training and test time.
- The VGG19 loss network takes [0, 255] RGB; its caffe preprocessing happens inside.

Importing the package registers its layers with Keras, so
`keras.saving.load_model(path, safe_mode=True)` can load our `.keras` files.
"""

__version__ = "0.1.0"

from keras_stylize.generators import johnson_generator, texture_net_generator  # noqa: E402
from keras_stylize.inference import load_generator, stylize  # noqa: E402
from keras_stylize.layers import (  # noqa: E402
    CropToReference,
    InstanceNormalization,
    NearestUpsampling2D,
    PadToMultiple,
    ReflectionPadding2D,
    SpatialNoise,
)
from keras_stylize.perceptual import vgg19_features  # noqa: E402
from keras_stylize.training import StylizationModel  # noqa: E402

__all__ = [
    "CropToReference",
    "InstanceNormalization",
    "NearestUpsampling2D",
    "PadToMultiple",
    "ReflectionPadding2D",
    "SpatialNoise",
    "StylizationModel",
    "johnson_generator",
    "load_generator",
    "stylize",
    "texture_net_generator",
    "vgg19_features",
]
