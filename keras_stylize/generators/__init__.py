"""Generator (image transformation) networks. See `blocks` for the pixel convention."""

from keras_stylize.generators.blocks import NORMS, OUTPUTS
from keras_stylize.generators.johnson import johnson_generator
from keras_stylize.generators.texture_net import texture_net_generator
from keras_stylize.options import FAMILIES as FAMILY_NAMES  # noqa: E402

FAMILIES = dict(zip(FAMILY_NAMES, (johnson_generator, texture_net_generator), strict=True))
MIN_SIZE = 32  # smallest height and width every generator accepts, px

__all__ = [
    "FAMILIES",
    "MIN_SIZE",
    "NORMS",
    "OUTPUTS",
    "johnson_generator",
    "texture_net_generator",
]
