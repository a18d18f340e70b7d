"""Custom Keras layers of keras_stylize; all are registered for `.keras` serialization."""

from keras_stylize.layers.channel_statistics import ChannelStatistics
from keras_stylize.layers.conditional_instance_normalization import (
    ConditionalInstanceNormalization,
)
from keras_stylize.layers.instance_normalization import InstanceNormalization
from keras_stylize.layers.pixel_clip import ClipToPixelRange
from keras_stylize.layers.reflection_padding import ReflectionPadding2D
from keras_stylize.layers.shared_statistics import SharedStatisticsNormalization
from keras_stylize.layers.size_alignment import CropToReference, PadToMultiple
from keras_stylize.layers.spatial_noise import SpatialNoise
from keras_stylize.layers.style_weights import StyleWeights
from keras_stylize.layers.upsampling import NearestUpsampling2D, UpsampleConv2D
from keras_stylize.layers.vgg_preprocessing import VGGPreprocessing

__all__ = [
    "ChannelStatistics",
    "ClipToPixelRange",
    "ConditionalInstanceNormalization",
    "CropToReference",
    "InstanceNormalization",
    "NearestUpsampling2D",
    "PadToMultiple",
    "ReflectionPadding2D",
    "SharedStatisticsNormalization",
    "SpatialNoise",
    "StyleWeights",
    "UpsampleConv2D",
    "VGGPreprocessing",
]
