"""The `keras_stylize` command line: one module per command, heavy imports inside them.

Importing this module does not import TensorFlow: `keras_stylize --help` is instant and
TensorFlow's C++ start-up logs are silenced before it loads (`--verbose` shows them).
"""

from __future__ import annotations

import os
import sys

import click

from keras_stylize import __version__

# Must be set before TensorFlow is imported (by a command, later).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


NEEDS_TENSORFLOW = ("export", "fit", "sheet", "stylize")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keras_stylize")
@click.option("--verbose", "-v", is_flag=True, help="Show TensorFlow's start-up and info logs.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Fast neural style transfer with Keras 3: train, apply, export, and browse the zoo."""
    from keras_stylize.cli.quiet import configure_logging, import_tensorflow_quietly

    configure_logging(verbose)
    if not verbose and ctx.invoked_subcommand in NEEDS_TENSORFLOW and "--help" not in sys.argv:
        import_tensorflow_quietly()


def _register() -> None:
    from keras_stylize.cli.export import export
    from keras_stylize.cli.fit import fit
    from keras_stylize.cli.sheet import sheet
    from keras_stylize.cli.stylize import stylize
    from keras_stylize.cli.zoo import zoo

    main.add_command(export)
    main.add_command(fit)
    main.add_command(sheet)
    main.add_command(stylize)
    main.add_command(zoo)


_register()
