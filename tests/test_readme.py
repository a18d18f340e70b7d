"""Every command README.md gives is checked: the cheap ones run for real on tiny inputs in a
scratch folder, and every `keras_stylize` command line must at least parse (a README that
documents a flag or a choice the CLI lacks fails here).

Commands run as written, in a folder where the files they name exist (copies of the
bundled photo, a tiny generator as `my_style.keras`). Exports run on that tiny model, and
`fit` runs with overrides appended (2 steps at 32 px, random VGG, tiny data) since click
keeps an option's last value.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from keras_stylize.cli import main

from .conftest import write_image

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PHOTO = ROOT / "keras_stylize" / "assets" / "kodim23.jpg"
FIT_OVERRIDES = ["--steps", "2", "--steps-per-epoch", "2", "--image-size", "32",
                 "--batch-size", "2", "--random-vgg", "--style-size", "32", "--quiet"]  # fmt: skip


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def shell_commands() -> list[str]:
    """Every command of the README's bash blocks (continuations joined, comments cut)."""
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def cli_invocations() -> list[list[str]]:
    """The argument lists of every `keras_stylize ...` in the README's commands."""
    found = []
    for command in shell_commands():
        for part in re.split(r"&&|\|", command):
            words = shlex.split(part)
            while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value prefixes
                words = words[1:]
            if ">" in words:  # output redirection is the shell's, not the command's
                words = words[: words.index(">")]
            if words and words[0] == "keras_stylize":
                found.append(words[1:])
    return found


def test_the_parse_check_catches_unknown_flags_and_choices():
    with pytest.raises(click.NoSuchOption):
        test_every_cli_command_parses(["stylize", "a.jpg", "-m", "x", "--no-such-flag"])
    with pytest.raises(click.BadParameter):
        test_every_cli_command_parses(["export", "m", "--format", "onnx", "-o", "x"])


def test_readme_has_commands():
    assert len(cli_invocations()) >= 8
    first_two = shell_commands()[:2]
    assert "keras_stylize stylize keras_stylize/assets/kodim23.jpg" in first_two[0]
    assert "pytest" in first_two[1]


@pytest.mark.parametrize("args", cli_invocations(), ids=lambda a: " ".join(a)[:60])
def test_every_cli_command_parses(args):
    """Options, choices and ranges as the CLI defines them (files need not exist)."""
    command, rest = main, list(args)
    while isinstance(command, click.Group):  # e.g. `zoo info NAME`
        assert rest and rest[0] in command.commands, f"no command {rest[:1]} in {command.name}"
        command, rest = command.commands[rest[0]], rest[1:]
    try:
        command.make_context(command.name, rest)
    except click.BadParameter as exc:
        if "does not exist" not in exc.format_message():
            raise


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A folder holding every file the README's commands name."""
    import keras

    from keras_stylize import johnson_generator

    folder = tmp_path_factory.mktemp("readme")
    names = (
        "photo.jpg",
        "big.jpg",
        "in.jpg",
        "photos/a.jpg",
        "photos/sub/b.jpg",
        "keras_stylize/assets/kodim23.jpg",
    )  # the last as in a checkout
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PHOTO, folder / name)
    keras.utils.set_random_seed(0)
    johnson_generator(width=0.25).save(folder / "my_style.keras")
    for i in range(3):
        write_image(folder / "tiny_content" / f"{i}.jpg", size=(48, 40), seed=i)
        write_image(folder / "tiny_styles" / f"style{i}.jpg", size=(40, 40), seed=10 + i)
    write_image(folder / "tiny_style.jpg", size=(40, 40), seed=9)
    from .video.test_video import make_clip

    make_clip(folder / "clip.mp4", frames=4)
    return folder


def _runnable(args: list[str], sandbox: Path) -> list[str]:
    args = list(args)
    if args[0] == "export":
        args[1] = "my_style.keras"  # every export of a tiny model, not of a zoo model
    if args[0] == "fit":  # tiny data: a folder of styles stays a folder
        tiny = {
            "--content": lambda v: "tiny_content",
            "--style": lambda v: "tiny_style.jpg" if Path(v).suffix else "tiny_styles",
        }
        args = [tiny[args[i - 1]](a) if i and args[i - 1] in tiny else a
                for i, a in enumerate(args)]  # fmt: skip
        args += FIT_OVERRIDES
    return args


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    # (multiworker training needs two workers: tests/test_training.py runs that)
    [
        a
        for a in cli_invocations()
        if a[0] in ("stylize", "zoo", "export", "fit", "sheet") and "multiworker" not in a
    ],
    ids=lambda a: " ".join(a)[:60],
)
def test_every_cli_command_runs(args, sandbox):
    args = _runnable(args, sandbox)
    if args[0] == "export" and "tfjs" in args + [""] and shutil.which("node") is None:
        pytest.skip("TF.js export needs Node.js")
    stdin = PHOTO.read_bytes() if "-" in args[1:2] else None
    # The console script, as users run it (`python -m` would import the sandbox's
    # keras_stylize/assets folder as the package).
    script = Path(sys.executable).with_name("keras_stylize")
    result = subprocess.run(
        [str(script), *args, *(["--overwrite"] if args[0] in ("stylize", "sheet") else [])],
        cwd=sandbox, input=stdin, capture_output=True, timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index, sandbox):
    code = _blocks("python")[index]
    result = subprocess.run([sys.executable, "-P", "-c", code], cwd=sandbox, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
