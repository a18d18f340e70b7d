import json
import shlex

import pytest

from keras_stylize.training.config import FitConfig


def test_fit_config_validation(tmp_path):
    with pytest.raises(ValueError, match=".keras"):
        FitConfig(style="s", content="c", out=str(tmp_path / "g.h5"))
    with pytest.raises(ValueError, match="family"):
        FitConfig(style="s", content="c", out="g.keras", family="unet")
    with pytest.raises(ValueError, match="not found"):
        FitConfig(style="missing.jpg", content="c", out="g.keras").style_files()


def test_a_stored_config_matches_its_own_command_with_other_steps(tmp_path, style_path):
    import dataclasses

    from keras_stylize.cli.fit import fit
    from keras_stylize.training.config import config_differences

    (tmp_path / "c").mkdir()

    def parse(args):
        options = dict(fit.make_context("fit", args).params)
        options.pop("quiet"), options.pop("overwrite")
        return FitConfig(**{**options, "style": list(options["style"])})

    given = parse(["--style", str(style_path), "--content", str(tmp_path / "c"), "--out",
                   "o.keras", "--family", "texture", "--scales", "4", "--style-layers",
                   "block1_conv1:0.3,block2_conv1", "--lr", "0.002", "--seed", "7"])  # fmt: skip
    stored = json.loads(json.dumps(dataclasses.asdict(given)))  # as in checkpoint.npz
    again = parse(shlex.split(FitConfig(**stored).command())[2:] + ["--steps", "5000"])
    assert config_differences(stored, again) == []
    assert config_differences(stored, dataclasses.replace(again, seed=8)) == ["--seed 7 -> 8"]
