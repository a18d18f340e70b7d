"""Generator (image transformation) networks: the two families (`johnson`, `texture_net`)
built from the shared `blocks`, their styles (`styles`), new styles and warm starts for
trained ones (`extend`), dtype policies (`policy`) and edits of their layer graph
(`graph`). See `blocks` for the pixel convention; the choice lists (families, norms,
outputs) are in `keras_stylize.options`, importable without TensorFlow."""

from keras_stylize.generators.johnson import johnson_generator
from keras_stylize.generators.texture_net import texture_net_generator
from keras_stylize.options import FAMILIES

BUILDERS = dict(zip(FAMILIES, (johnson_generator, texture_net_generator), strict=True))
MIN_SIZE = 32  # smallest height and width every generator accepts, px

__all__ = ["BUILDERS", "MIN_SIZE", "johnson_generator", "texture_net_generator"]
