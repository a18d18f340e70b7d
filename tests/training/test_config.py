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
    with pytest.raises(ValueError, match="style_measure"):
        FitConfig(style="s", content="c", out="g.keras", style_measure="moments")
    with pytest.raises(ValueError, match="style_window must be between 32 and image_size"):
        FitConfig(style="s", content="c", out="g.keras", style_window=512)
    with pytest.raises(ValueError, match="--palette-window needs --palette-weight"):
        FitConfig(style="s", content="c", out="g.keras", palette_window=32)
    with pytest.raises(ValueError, match="palette_window must be between 2 and image_size"):
        FitConfig(style="s", content="c", out="g.keras", palette_weight=1, palette_window=1)
    with pytest.raises(ValueError, match="loss weights must be >= 0"):
        FitConfig(style="s", content="c", out="g.keras", dead_unit_weight=-1)


def test_held_out_paintings_are_left_out_of_training(tmp_path):
    from ..conftest import write_image

    for name in ("a.png", "b.png", "c.png"):
        write_image(tmp_path / "paintings" / name)
    (tmp_path / "held.txt").write_text("# validation\n\nb.png\n")
    config = FitConfig(style=str(tmp_path / "paintings"), content="c", out="g.keras",
                       style_prediction=True, warm_start="m.keras",
                       hold_out=str(tmp_path / "held.txt"))  # fmt: skip
    assert config.held_out() == {"b.png"}
    assert [f.name for f in config.training_paintings()] == ["a.png", "c.png"]
    (tmp_path / "held.txt").write_text("a.png\nb.png\nc.png\n")
    with pytest.raises(ValueError, match="every style image is held out"):
        config.training_paintings()


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
                   "block1_conv1:0.3,block2_conv1", "--lr", "0.002", "--seed", "7",
                   "--style-measure", "sliced", "--style-window", "64",
                   "--dead-unit-weight", "20"])  # fmt: skip
    stored = json.loads(json.dumps(dataclasses.asdict(given)))  # as in checkpoint.npz
    again = parse(shlex.split(FitConfig(**stored).command())[2:] + ["--steps", "5000"])
    assert config_differences(stored, again) == [] and again.dead_unit_weight == 20
    assert config_differences(stored, dataclasses.replace(again, seed=8)) == ["--seed 7 -> 8"]


def test_loss_terms_follow_their_weights():
    from keras_stylize.training.fit import loss_terms
    from keras_stylize.training.terms import Darkening, DeadUnits

    config = FitConfig(style="s", content="c", out="g.keras", darkening_weight=6,
                       dead_unit_weight=20)  # fmt: skip
    terms = loss_terms(config)
    assert [type(t) for t in terms] == [Darkening, DeadUnits]
    assert [t.weight for t in terms] == [6.0, 20.0]
    assert loss_terms(FitConfig(style="s", content="c", out="g.keras")) == []
