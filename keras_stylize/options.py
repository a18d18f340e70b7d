"""Choices shared by the library and the command line (no heavy imports, so `--help`
stays fast). The library validates against these and the CLI offers exactly these."""

FAMILIES = ("johnson", "texture")  # generator families (keras_stylize.generators.FAMILIES)
NORMS = ("instance", "batch", "none")  # normalization layers of a generator
OUTPUTS = ("linear", "tanh")  # pixel mapping of a generator's last activation
STYLE_MEASURES = ("gram", "sliced")  # how a style loss compares activations
TEXTURE_SCALES = 6  # scales of the texture network (pooling ratios 32, 16, ..., 1, as in the paper)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # training dtype policies
INFERENCE_PRECISIONS = ("auto", "float32", "bfloat16", "float16")  # stylize/video compute dtype
DISTRIBUTE = ("none", "mirrored", "multiworker")  # tf.distribute strategies for training
QUANTIZATIONS = {  # keras_stylize.export formats and the quantizations each takes
    "savedmodel": ("none",),
    "tflite": ("none", "float16", "dynamic", "int8"),
    "tfjs": ("none", "float16"),
}
EXPORT_FORMATS = tuple(QUANTIZATIONS)
PREDICTOR_QUANTIZATIONS = {"tflite": ("none", "float16"), "tfjs": ("none", "float16")}
DARKENING_CELL = 16  # side of the darkening penalty's squares, px (keras_stylize.perceptual.losses)
DARKENING_RATIO = 0.5  # a square keeping at least this share of the photo's luma costs nothing
DEFAULT_TILE = 512  # tile side of tiled inference, px
DEFAULT_OVERLAP = 128  # overlap of neighbouring tiles, px
DEFAULT_MAX_MEMORY_MB = 2048  # stylize's memory budget, MB (whole image or shared-stat tiles)
DEFAULT_PRECISION = "auto"  # compute precision of stylize and video (one of INFERENCE_PRECISIONS)
DEFAULT_QUALITY = 95  # JPEG and WebP quality of written images
DEFAULT_VIDEO_BATCH = 4  # video frames per generator call
DEFAULT_SHEET_TILE = 256  # side of a contact sheet's tiles, px
DEFAULT_SHEET_COLUMNS = 4  # tiles per row of a style sheet
DEFAULT_BLEND_STEPS = 5  # tiles of a blend strip
STROKE_SCALES = (0.5, 8.0)  # range of stylize's stroke_scale (stroke size / the generator's own)
