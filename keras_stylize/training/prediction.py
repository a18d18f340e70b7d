"""`PredictionModel`: trains a style-prediction network (`generators.prediction`) with a
multi-style generator, so that any painting becomes a style in one pass.

Pixel convention: batches are `(photos, paintings)`, float32 `(batch, H, W, 3)` RGB in
[0, 255]; photo `i` is stylized with the style the predictor reads from painting `i`
(each image its own painting: `data.painting_dataset` yields random crops, scales and
flips of the training paintings). The style targets of the loss are each painting's own
(`PerceptualLoss.style_targets`), so the loss needs no stored styles.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_stylize.perceptual.loss import PerceptualLoss
from keras_stylize.training.model import StylizationModel


class PredictionModel(StylizationModel):
    """`generator([photos, predictor(paintings)])` trained to take each painting's style.

    Metrics and mixed precision as `StylizationModel`. `train_generator=False` trains the
    predictor and the rows of the generator's free directions (`StyleWeights`), if it has
    any: its convolutions and named styles stay as they are; True trains everything (the
    generator learns to render the predicted points too).

    Args:
        generator: a multi-style generator (`[images, style_weights]`).
        predictor: a style predictor with as many outputs as the generator has styles.
        perceptual_loss: the loss; its stored styles, if any, are not used.
        train_generator: also train the generator's weights.
        terms: optional loss terms (`training.terms`).
    """

    def __init__(
        self,
        generator: keras.Model,
        predictor: keras.Model,
        perceptual_loss: PerceptualLoss,
        train_generator: bool = True,
        terms=(),
        **kwargs: Any,
    ) -> None:
        from keras_stylize.generators.styles import free_styles

        columns = int(generator.inputs[1].shape[-1]) if len(generator.inputs) == 2 else 0
        free = free_styles(generator)
        rows = list(range(columns - free, columns)) if free and not train_generator else None
        super().__init__(generator, perceptual_loss, train_styles=rows, terms=terms, **kwargs)
        if not self.multi_style:
            raise ValueError("style prediction needs a multi-style generator")
        if int(predictor.output.shape[-1]) != columns:
            raise ValueError(
                f"the predictor gives {predictor.output.shape[-1]} style weights, the "
                f"generator takes {columns}"
            )
        self.predictor = predictor
        self.train_generator = bool(train_generator) or rows is not None

    @property
    def networks(self) -> TrainedNetworks:
        """The weights a checkpoint keeps (`TrainedNetworks`)."""
        return TrainedNetworks(self)

    def trained_variables(self) -> list:
        variables = list(self.predictor.trainable_variables)
        if self.train_generator:
            variables = list(self.generator.trainable_variables) + variables
        return variables

    def losses_of_batch(self, data, training: bool) -> dict:
        while isinstance(data, (tuple, list)) and len(data) == 1:  # Keras' (x,) wrapping
            data = data[0]
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError("style prediction needs batches (photos, paintings)")
        images, paintings = data
        style_weights = self.predictor(paintings, training=training)
        targets = self.perceptual_loss.style_targets(paintings)
        return self._batch_losses(images, style_weights, training, style_targets=targets,
                                  paintings=paintings)  # fmt: skip


class TrainedNetworks:
    """What a style-prediction run checkpoints (`ResumableCheckpoint(generator_attr=
    "networks")`): the generator's weights and the predictor's own (its frozen VGG19
    part is rebuilt from the VGG19 weights, not stored)."""

    def __init__(self, model: PredictionModel) -> None:
        self.model = model

    @property
    def weights(self) -> list:
        vgg = {id(w) for w in vgg_part(self.model.predictor).weights}
        own = [w for w in self.model.predictor.weights if id(w) not in vgg]
        return list(self.model.generator.weights) + own

    @property
    def trainable_variables(self) -> list:
        return self.model.trained_variables()

    def after_restore(self) -> None:
        """Remakes the predictor's standardization constants from its restored mean and
        variance (a Keras `Normalization` reads constants made by `finalize_state`, not
        its variables)."""
        self.model.predictor.get_layer("standardize").finalize_state()


def build_prediction_training(config, strategy, start_step: int = 0):
    """Data, generator, predictor, loss and compiled `PredictionModel` for a
    `--style-prediction` run (`fit.build_training` for the others)."""
    import tensorflow as tf

    from keras_stylize.generators.extend import add_styles, warm_start
    from keras_stylize.generators.prediction import (
        PREDICTOR_SIZE,
        adapt_predictor,
        painting_statistics,
        style_predictor,
    )
    from keras_stylize.generators.styles import free_styles, style_names
    from keras_stylize.training.data import load_style_image, painting_dataset
    from keras_stylize.training.distribute import split_global_batches
    from keras_stylize.training.fit import (
        Training,
        build_generator,
        content_data,
        learning_rate_schedule,
        loss_terms,
    )
    from keras_stylize.zoo import load_generator

    files = config.training_paintings()
    base = load_generator(config.warm_start)
    names = style_names(base)
    if not names:
        raise ValueError(
            f"--style-prediction needs a multi-style --warm-start model; {config.warm_start} "
            "has a single style"
        )
    if config.free_styles and not free_styles(base):  # new directions, their rows at zero
        free = [f"free_{i}" for i in range(config.free_styles)]
        base = add_styles(base, free, free=True)[0]
        names = style_names(base)
    photos, report, samples = content_data(config, start_step)
    held = sorted(f for f in config.style_files() if f.name in config.held_out())
    shown = [load_style_image(f, PREDICTOR_SIZE)[0] for f in (held or files)[:3]]
    paintings = painting_dataset(files, config.image_size, config.batch_size,
                                 seed=config.seed + 1, start_batch=start_step)  # fmt: skip
    vgg = {"vgg_weights": None if config.random_vgg else "imagenet",
           "vgg_weights_path": config.vgg_weights}  # fmt: skip
    with strategy.scope():
        generator = warm_start(build_generator(config, names), base)
        predictor = style_predictor(len(names), free_styles=free_styles(generator), **vgg)
        if start_step == 0:  # a resumed run's checkpoint holds the standardization
            paintings_read = [load_style_image(f, PREDICTOR_SIZE) for f in files]
            adapt_predictor(predictor, painting_statistics(predictor, paintings_read))
        loss = PerceptualLoss(
            None, content_layer=config.content_layer, style_layers=config.style_layers,
            content_weight=config.content_weight, style_weight=config.style_weight,
            tv_weight=config.tv_weight, style_measure=config.style_measure,
            style_window=config.style_window, seed=config.seed, **vgg,
        )  # fmt: skip
        model = PredictionModel(generator, predictor, loss,
                                train_generator=not config.freeze_generator,
                                terms=loss_terms(config))  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(config)))
    dataset = split_global_batches(tf.data.Dataset.zip((photos, paintings)), strategy,
                                   config.batch_size)  # fmt: skip
    return Training(model, generator, names, list(range(len(names))), dataset, report,
                    samples, predictor=predictor, paintings=_same_size(shown))  # fmt: skip


def vgg_part(predictor: keras.Model) -> keras.Model:
    """The frozen VGG19 inside a style predictor."""
    return predictor.get_layer("vgg19_features")


def _same_size(images: list) -> Any:
    """The images center-cropped to their smallest common height and width, stacked."""
    import numpy as np

    h = min(i.shape[0] for i in images)
    w = min(i.shape[1] for i in images)
    crops = [i[(i.shape[0] - h) // 2 :][:h, (i.shape[1] - w) // 2 :][:, :w] for i in images]
    return np.stack(crops).astype(np.float32)
