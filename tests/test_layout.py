"""The package's layout as docs/architecture.md describes it."""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import keras_stylize


def test_top_level_modules_are_the_zoo_and_small_helpers():
    modules = {m.name for m in pkgutil.iter_modules(keras_stylize.__path__) if not m.ispkg}
    assert modules == {"files", "images", "options", "zoo"}
    packages = {m.name for m in pkgutil.iter_modules(keras_stylize.__path__) if m.ispkg}
    assert packages == {"cli", "evaluation", "export", "generators", "inference", "layers",
                        "perceptual", "training", "video"}  # fmt: skip


@pytest.mark.parametrize(
    "module, name",
    [
        ("keras_stylize.perceptual.losses", "kurtosis_penalty"),
        ("keras_stylize.perceptual.losses", "patch_penalty"),
        ("keras_stylize.images", "read_rgb"),
        ("keras_stylize.inference.stylize", "run_batch"),
    ],
)
def test_removed_experiments_are_gone(module, name):
    assert not hasattr(importlib.import_module(module), name)


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)  # fmt: skip
    return set(result.stdout.split())


def test_training_never_imports_inference_and_the_cli_options_need_no_tensorflow():
    training = _modules_after("import keras_stylize.training.fit")
    assert not {m for m in training if m.startswith("keras_stylize.inference")}
    light = _modules_after("import keras_stylize.cli.fit, keras_stylize.zoo, keras_stylize.options")
    assert "tensorflow" not in light and "keras" not in light


def test_every_fit_option_defaults_to_its_fit_config_field():
    from keras_stylize.cli.fit import fit, parse_style_layers
    from keras_stylize.training.config import FitConfig

    checked = set()
    for param in fit.params:
        if param.name not in FitConfig.__dataclass_fields__ or param.required:
            continue
        default = param.default
        if param.name == "style_layers":
            default = list(parse_style_layers(default))
        elif param.name == "style_shares":
            default = {}
        assert default == FitConfig.default(param.name), param.name
        assert param.opts[0] == FitConfig.flag(param.name), param.name
        checked.add(param.name)
    command_only = {"sample_every"}  # a library setting the command line does not offer
    required = {"content", "out"}
    assert checked | command_only | required == set(FitConfig.__dataclass_fields__) - {"style"}
