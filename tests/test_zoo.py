import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_stylize import texture_net_generator, zoo
from keras_stylize.files import sha256_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    folder = tmp_path / "zoo" / "tiny_texture"
    folder.mkdir(parents=True)
    texture_net_generator().save(folder / "model.keras")
    card = {
        "name": "tiny_texture", "family": "texture", "norm": "instance", "parameters": 1,
        "style": {"title": "Test", "artist": "Nobody"},
        "weights": {"file": "model.keras", "sha256": sha256_of(folder / "model.keras")},
    }  # fmt: skip
    (folder / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("KERAS_STYLIZE_ZOO", str(tmp_path / "zoo"))
    return folder


def test_list_info_load(tiny_zoo):
    assert zoo.list() == ["tiny_texture"]
    assert zoo.info("tiny_texture")["family"] == "texture"
    model = zoo.load("tiny_texture")
    assert model(np.zeros((1, 40, 40, 3), "float32")).shape == (1, 40, 40, 3)


def test_unknown_name_lists_available(tiny_zoo):
    with pytest.raises(zoo.ZooError, match="available: tiny_texture"):
        zoo.load("nope")


def test_checksum_mismatch_refuses_to_load(tiny_zoo):
    with open(tiny_zoo / "model.keras", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(zoo.ZooError, match="sha256"):
        zoo.load("tiny_texture")


def test_cli_zoo_list_and_info(tiny_zoo):
    run = [sys.executable, "-m", "keras_stylize.cli", "zoo"]
    table = subprocess.run([*run, "list"], capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "tiny_texture" in table.stdout and "family" in table.stdout
    info = subprocess.run([*run, "info", "tiny_texture", "--json"], capture_output=True, text=True)
    assert json.loads(info.stdout)["name"] == "tiny_texture"
    missing = subprocess.run([*run, "info", "nope"], capture_output=True, text=True)
    assert missing.returncode == 1 and "unknown zoo model" in missing.stderr


REQUIRED_CARD_KEYS = {"name", "family", "norm", "parameters", "weights", "recipe",
                      "metrics", "preview"}  # fmt: skip

# A few output pixels of one zoo model per family on the fixed export test image (64x96
# centre crop of the bundled photo), pinned with the weights they come from. Retraining a
# model changes its sha256 and this table must be updated with it (values printed below).
GOLDEN = {
    "starry_night_johnson": (
        "fe6998ed7b809c13e54c712f690871d608aa125c7fa858992800e664a5241150",
        [[59.93, 64.57, 102.13], [57.47, 77.89, 127.99], [7.73, 27.91, 77.02],
         [47.24, 53.26, 71.43]],
    ),
    "starry_night_texture": (
        "79da3216eb75a7f0f0eba7059cdb119dd6a00cd84aa4c7e464fbb8ea3edb138f",
        [[50.43, 68.61, 116.69], [60.94, 78.14, 106.66], [4.94, 27.07, 52.36],
         [41.18, 48.09, 46.72]],
    ),
}  # fmt: skip
GOLDEN_POINTS = [(0, 0), (10, 50), (33, 17), (63, 95)]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_pixels_of_zoo_models(name, monkeypatch):
    from keras_stylize.export.verify import test_image

    monkeypatch.delenv("KERAS_STYLIZE_ZOO", raising=False)
    sha256, expected = GOLDEN[name]
    out = np.asarray(zoo.load(name)(test_image(64, 96)))[0]
    values = [out[y, x].round(2).tolist() for y, x in GOLDEN_POINTS]
    assert zoo.info(name)["weights"]["sha256"] == sha256, f"retrained: update GOLDEN to {values}"
    np.testing.assert_allclose(values, expected, atol=0.05)


def test_bundled_zoo_models_verify_and_have_cards(monkeypatch):
    monkeypatch.delenv("KERAS_STYLIZE_ZOO", raising=False)
    names = zoo.list()
    assert names, "the package ships at least one zoo model"
    for name in names:
        card = zoo.info(name)
        assert REQUIRED_CARD_KEYS <= set(card)
        styles = card["styles"] if "styles" in card else [card["style"]]
        for style in styles:
            assert {"title", "artist", "year", "license", "source"} <= set(style)
            assert style["license"].lower().startswith("public domain"), style
            image = style.get("image", "style.jpg")
            assert (Path(card["path"]) / image).is_file()
        assert {"blot_rate", "spot_rate", "patch_rate", "stylized_style_loss", "images"} <= set(
            card["metrics"]
        ), name
        assert "command" in card["recipe"] and "vgg19_weights" in card["recipe"]
        model = zoo.load(name)
        assert model.count_params() == card["parameters"]
        assert (Path(card["path"]) / "preview.jpg").is_file()


def test_card_commands_rebuild_the_zoo_architectures(monkeypatch):
    """Running a card's command today must build the model the card describes: the
    command spells out every option that shapes the network (family, norm, output
    mapping, width, styles), so changing a default never silently changes a recipe."""
    import shlex

    from keras_stylize.training.config import FitConfig
    from keras_stylize.training.fit import build_generator

    monkeypatch.delenv("KERAS_STYLIZE_ZOO", raising=False)
    stages = [(name, stage) for name in zoo.list() for stage in zoo.stages(zoo.info(name))]
    assert len(stages) > len(zoo.list())  # ten_styles_johnson has a second stage
    for name, stage in stages:
        card = zoo.info(name)
        words = shlex.split(stage["command"])
        if "--from" in words:  # trains some styles of the model it loads: its network
            continue
        pairs = list(zip(words, [*words[1:], ""], strict=True))
        options = {o: v for o, v in pairs if o.startswith("--") and not v.startswith("--")}
        styles = [Path(v).stem for o, v in pairs if o == "--style"]
        fields = ("family", "norm", "output", "width", "scales")
        shaping = {field: options[f"--{field}"] for field in fields if f"--{field}" in options}
        if "width" in shaping:
            shaping["width"] = float(shaping["width"])
        if "scales" in shaping:
            shaping["scales"] = int(shaping["scales"])
        # options the command leaves out take FitConfig's defaults, as `fit` would today
        config = FitConfig(style=styles, content="", out="x.keras", **shaping)
        assert card["recipe"]["output"] == config.output, name
        rebuilt = build_generator(config, styles).get_config()["layers"]
        shipped = zoo.load(name).get_config()["layers"]
        assert [(layer["class_name"], layer["config"]["name"]) for layer in rebuilt] == [
            (layer["class_name"], layer["config"]["name"]) for layer in shipped
        ], name


def test_card_stage_commands_replay_as_a_chain(monkeypatch):
    """Each later stage's command loads (`--warm-start` or `--from`) the file the stage
    before it wrote (`--out`), and no two stages write the same file, so a card's commands
    run one after the other rebuild the model."""
    import shlex

    monkeypatch.delenv("KERAS_STYLIZE_ZOO", raising=False)
    for name in zoo.list():
        words = [shlex.split(s["command"]) for s in zoo.stages(zoo.info(name))]
        outs = [w[w.index("--out") + 1] for w in words]
        assert len(set(outs)) == len(outs), (name, outs)
        for previous, later in zip(outs, words[1:], strict=False):
            option = "--from" if "--from" in later else "--warm-start"
            assert later[later.index(option) + 1] == previous, (name, later)


@pytest.mark.slow
def test_regular_install_packages_the_zoo(tmp_path):
    """A wheel (what `pip install .` installs) carries the zoo, and the zoo resolves there."""
    wheel_dir, target, source = tmp_path / "wheel", tmp_path / "site", tmp_path / "src"
    # Build from a copy: setuptools leaves build/ behind in the tree it builds.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "node_modules", "__pycache__", ".venv"))  # fmt: skip
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheel_dir), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(wheel_dir.glob("keras_stylize-*.whl"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import keras_stylize, json; "
        "from keras_stylize import zoo; "
        "print(json.dumps([keras_stylize.__file__, str(zoo.root()), zoo.list(), "
        "[zoo.weights_path(n).is_file() for n in zoo.list()]]))"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True,
                            text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    module, root, names, ok = json.loads(result.stdout.strip().splitlines()[-1])
    assert module.startswith(str(target)) and root.startswith(str(target))
    assert names == zoo.list() and all(ok)
    assert (target / "keras_stylize" / "assets" / "kodim23.jpg").is_file()


def test_zoo_build_keeps_metrics_only_of_styles_that_render_unchanged(monkeypatch):
    """`zoo_build.py add --after` re-measures only styles whose outputs may have changed."""
    import keras

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "scripts"))
    from zoo_build import unchanged_styles

    old = texture_net_generator(num_styles=3, style_names=["a", "b", "c"])
    new = keras.models.clone_model(old)
    new.set_weights(old.get_weights())
    assert unchanged_styles(old, new) == ["a", "b", "c"]
    norm = next(layer for layer in new.layers if hasattr(layer, "gamma"))
    norm.gamma.assign(norm.gamma.numpy() + np.array([[0.0], [0.5], [0.0]], "float32"))
    assert unchanged_styles(old, new) == ["a", "c"]  # b's own scale changed
    conv = next(layer for layer in new.layers if isinstance(layer, keras.layers.Conv2D))
    conv.kernel.assign(conv.kernel.numpy() * 1.01)
    assert unchanged_styles(old, new) == []  # a shared weight changed: every style


def test_a_broken_card_is_named_and_the_other_models_listed(tiny_zoo):
    from click.testing import CliRunner

    from keras_stylize.cli import main

    broken = tiny_zoo.parent / "broken"
    broken.mkdir()
    (broken / "card.json").write_text('{"name": "broken", ')
    with pytest.raises(zoo.ZooError, match="not valid JSON"):
        zoo.info("broken")
    for args in (["list"], ["list", "--json"]):
        result = CliRunner().invoke(main, ["zoo", *args])
        assert result.exit_code == 1 and "tiny_texture" in result.stdout, result.output
        (line,) = result.stderr.splitlines()
        assert "broken" in line and "card.json is not valid JSON" in line
    result = CliRunner().invoke(main, ["zoo", "info", "broken"])
    assert result.exit_code == 1 and result.stderr.startswith("error: zoo model 'broken'")


def test_zoo_info_summarizes_a_card_for_people():
    from keras_stylize.cli.zoo import summary

    card = zoo.info("ten_styles_johnson")
    text = summary(card)
    lines = text.splitlines()
    assert lines[0] == "ten_styles_johnson"
    assert "1,706,435 parameters" in lines[1] and "instance normalization" in lines[1]
    for style in card["styles"]:  # every style's CLI name beside its painting's title
        row = next(line for line in lines if line.split()[:1] == [style["name"]])
        assert style["title"] in row and style["artist"] in row
    steps = sum(stage["steps"] for stage in zoo.stages(card))
    assert f"Trained: {steps:,} steps in {len(zoo.stages(card))} stages" in text
    assert f"content loss {card['metrics']['stylized_content_loss']:.3f}" in text
    single = summary(zoo.info("starry_night_johnson"))
    assert (
        single.splitlines()[0] == "starry_night_johnson: The Starry Night, Vincent van Gogh (1889)"
    )
