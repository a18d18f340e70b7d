"""Generator (image transformation) networks. See `blocks` for the pixel convention."""

from keras_stylize.generators.blocks import NORMS
from keras_stylize.generators.johnson import johnson_generator
from keras_stylize.generators.texture_net import texture_net_generator

FAMILIES = {"johnson": johnson_generator, "texture": texture_net_generator}
MIN_SIZE = 32

__all__ = ["FAMILIES", "MIN_SIZE", "NORMS", "johnson_generator", "texture_net_generator"]
