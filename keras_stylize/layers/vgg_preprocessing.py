"""The caffe-style input preprocessing of VGG19 as a layer (of the loss network and of the
style predictor, which holds a frozen VGG19)."""

from __future__ import annotations

import keras
from keras import ops

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="keras_stylize")
class VGGPreprocessing(keras.layers.Layer):
    """[0, 255] RGB -> caffe-style BGR minus the ImageNet mean (as `vgg19.preprocess_input`)."""

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        bgr = ops.flip(x, axis=-1)
        return bgr - ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=self.compute_dtype)
