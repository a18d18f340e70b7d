"""Names of the Keras VGG19 layers, and the default loss: its layers and weights (no heavy
imports, so the command line can offer them without loading TensorFlow)."""

VGG19_CONV_LAYERS = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4",
)  # fmt: skip
VGG19_LAYERS = tuple(
    name
    for block in range(1, 6)
    for name in [n for n in VGG19_CONV_LAYERS if n.startswith(f"block{block}_")]
    + [f"block{block}_pool"]
)


def layer_stride(name: str) -> int:
    """How many image pixels one position of VGG19 layer `name` steps over (1 in block 1,
    doubling with each pooling: `block3_conv1` 4, `block3_pool` 8)."""
    block = int(name.split("_")[0].removeprefix("block"))
    return 2 ** (block - 1 + name.endswith("_pool"))


# relu4_2 as in Gatys et al. and the texture networks; relu1_1 ... relu5_1 for style.
DEFAULT_CONTENT_LAYER = "block4_conv2"
DEFAULT_STYLE_LAYERS = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
DEFAULT_CONTENT_WEIGHT = 1.0
DEFAULT_STYLE_WEIGHT = 0.5
DEFAULT_TV_WEIGHT = 1e-4
