from keras_stylize.training.config import FitConfig


def _config(tmp_path, content_dir, style_path, **kwargs):
    options = dict(
        style=str(style_path), content=str(content_dir), out=str(tmp_path / "out" / "g.keras"),
        family="texture", image_size=32, batch_size=2, steps=4, steps_per_epoch=2,
        random_vgg=True, content_layer="block2_conv1",
        style_layers=["block1_conv1", "block2_conv1"], style_size=32,
    )  # fmt: skip
    options.update(kwargs)
    return FitConfig(**options)
