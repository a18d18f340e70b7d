"""Log levels of the command line: quiet by default, everything with `--verbose`."""

from __future__ import annotations

import contextlib
import logging
import os
import sys


def configure_logging(verbose: bool) -> None:
    """Sets TensorFlow's C++ and Python log levels before TensorFlow is imported, and
    sends keras_stylize's own `logging` messages (INFO and up) to stderr as plain lines."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
    if not verbose:
        # absl (TensorFlow's Python logging) would otherwise print warnings at import.
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("keras_stylize")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with file descriptor 2 (stderr) pointed at /dev/null.

    TensorFlow's shared libraries print registration warnings from C++ static
    initializers ("Unable to register cuDNN factory", "computation placer already
    registered", "failed call to cuInit" on machines without a GPU) straight to fd 2,
    before any log level applies. Users read them as failures. An exception raised by
    the import itself still reaches the caller (stderr is restored first).
    """
    if "tensorflow" in sys.modules:
        return
    with quiet_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # where cuInit runs and complains


@contextlib.contextmanager
def quiet_stderr(enabled: bool = True):
    """Points file descriptor 2 at /dev/null inside the block (TensorFlow's converters log
    from C++ straight to it, whatever the log level); a no-op unless `enabled`. Python
    exceptions still reach the caller, after stderr is restored."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
