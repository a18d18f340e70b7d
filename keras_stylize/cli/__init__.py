"""The `keras_stylize` command line: one module per command, heavy imports inside them."""

from __future__ import annotations

import os

import click

from keras_stylize import __version__

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keras_stylize")
def main() -> None:
    """Fast neural style transfer with Keras 3: train, apply, export, and browse the zoo."""


def _register() -> None:
    from keras_stylize.cli.export import export
    from keras_stylize.cli.fit import fit
    from keras_stylize.cli.stylize import stylize
    from keras_stylize.cli.zoo import zoo

    main.add_command(export)
    main.add_command(fit)
    main.add_command(stylize)
    main.add_command(zoo)


_register()
