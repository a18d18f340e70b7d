"""`python -m keras_stylize.cli` runs the command line."""

from keras_stylize.cli import main

main()
