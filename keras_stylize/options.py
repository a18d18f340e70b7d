"""Choices shared by the library and the command line (no heavy imports, so `--help`
stays fast). The library validates against these and the CLI offers exactly these."""

FAMILIES = ("johnson", "texture")  # generator families (keras_stylize.generators.FAMILIES)
NORMS = ("instance", "batch", "none")  # normalization layers of a generator
OUTPUTS = ("linear", "tanh", "scaled_tanh")  # pixel mapping of a generator's last activation
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # training dtype policies
INFERENCE_PRECISIONS = ("auto", "float32", "bfloat16", "float16")  # stylize/video compute dtype
DISTRIBUTE = ("none", "mirrored", "multiworker")  # tf.distribute strategies for training
EXPORT_FORMATS = ("savedmodel", "tflite", "tfjs")  # keras_stylize.export formats
QUANTIZE = ("none", "float16", "dynamic", "int8")  # weight/activation quantization
DARKENING_CELL = 16  # side of the darkening penalty's squares, px (keras_stylize.losses)
DARKENING_RATIO = 0.5  # a square keeping at least this share of the photo's luma costs nothing
PATCH_RADIUS = 10  # patches: the unexplained colour is averaged over 21 px squares
PATCH_FIT_RADIUS = 40  # the local colour fit of the photo spans 81 px squares
PATCH_FIT_EPS = 100.0  # its ridge regularization, grey levels squared
PATCH_MIN_RESIDUAL = 25.0  # evaluation.patch_mask's threshold, grey levels
PATCH_MARGIN = 10.0  # grey levels of mean unexplained colour the patch penalty allows
PATCH_RMS_MARGIN = 40.0  # and of its root mean square
DEFAULT_TILE = 512  # tile side of tiled inference, px
DEFAULT_OVERLAP = 128  # overlap of neighbouring tiles, px
DEFAULT_MAX_MEMORY_MB = 2048  # stylize's memory budget, MB (whole image or shared-stat tiles)
