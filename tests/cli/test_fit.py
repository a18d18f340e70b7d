import json
import os
import signal
import subprocess
import time

import pytest

from keras_stylize.training.checkpoint import read_checkpoint_metadata

from ..conftest import TINY_FIT, cli_command, invoke


@pytest.mark.slow
def test_cli_kill_9_then_resume(tmp_path, content_dir, style_path):
    out = tmp_path / "run" / "g.keras"
    args = ["fit", "--style", str(style_path), "--content", str(content_dir), "--out", str(out),
            "--steps-per-epoch", "2", "--quiet", *TINY_FIT]  # fmt: skip
    checkpoint = tmp_path / "run" / "g.logs" / "checkpoint.npz"
    proc = subprocess.Popen(cli_command(*args, "--steps", "100000"), stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if checkpoint.is_file() and read_checkpoint_metadata(checkpoint)["epoch"] >= 2:
                break
            assert proc.poll() is None, "training exited early"
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint within 240 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not out.exists()
    done = read_checkpoint_metadata(checkpoint)["iterations"]
    steps = done + 3
    result = subprocess.run(
        cli_command(*args, "--steps", str(steps)), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads((tmp_path / "run" / "g.logs" / "run.json").read_text())
    assert run["resumed_from_epoch"] == done // 2 and run["steps_done"] == steps
    assert out.is_file()


def test_cli_output_is_quiet_and_plain_when_not_a_terminal(tmp_path, content_dir, style_path):
    result = subprocess.run(
        cli_command("fit", "--style", str(style_path), "--content", str(content_dir),
             "--out", str(tmp_path / "g.keras"), "--steps", "3", "--steps-per-epoch", "10",
             *TINY_FIT),
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("step ")] == ["1/3", "2/3", "3/3"]
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    # No TensorFlow start-up noise (cuInit, cuDNN factories, CPU feature guard).
    assert result.stderr.strip().splitlines() == [f"6 content images in {content_dir}"]
    # run.json records the command as given (parsed), options at their defaults left out.
    command = json.loads((tmp_path / "g.logs" / "run.json").read_text())["command"]
    assert command.startswith("keras_stylize fit --style ") and "--steps 3" in command
    assert "--style-layers block1_conv1,block2_conv1:0.5" in command and "--lr" not in command


def test_cli_bad_content_folder_is_one_line_error(tmp_path, style_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        cli_command("fit", "--style", str(style_path), "--content", str(tmp_path / "empty"),
             "--out", str(tmp_path / "g.keras"), "--random-vgg"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: no image files")
    assert not (tmp_path / "g.keras").exists()


@pytest.mark.parametrize(
    "option, value, message",
    [("--style-layers", "a:x", "unknown VGG19 layer 'a'"),
     ("--style-layers", "block1_conv1:x", "bad weight"),
     ("--style-layers", "block1_conv1:-1", ">= 0"),
     ("--content-layer", "relu4_2", "unknown VGG19 layer"),
     ("--learning-rate", "0", "0"),
     ("--steps", "0", "0"),
     ("--family", "unet", "unet"),
     ("--precision", "fp8", "fp8"),
     ("--out", "model.h5", ".keras"),
     ("--style-share", "style:x", "bad share"),
     ("--style-share", "nosuch:2", "unknown styles: nosuch")],
)  # fmt: skip
def test_cli_bad_option_values_are_one_line_and_exit_2(option, value, message, tmp_path,
                                                      content_dir, style_path):  # fmt: skip
    args = {"--out": str(tmp_path / "g.keras")}
    args[option] = value
    flat = [x for pair in args.items() for x in pair]
    result = subprocess.run(
        cli_command("fit", "--style", str(style_path), "--content", str(content_dir), *flat),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "rror" in last and message in last
    assert "Traceback" not in result.stderr


def test_cli_non_finite_floats_are_usage_errors(tmp_path, content_dir, style_path):
    for option, value in [("--learning-rate", "nan"), ("--style-weight", "inf"),
                          ("--style-layers", "block1_conv1:nan"), ("--width", "nan")]:  # fmt: skip
        result = invoke("fit", "--style", style_path, "--content", content_dir, "--out",
                          tmp_path / "g.keras", option, value)  # fmt: skip
        assert result.exit_code == 2, (option, result.output)
    assert not (tmp_path / "g.keras").exists() and not (tmp_path / "g.logs").exists()
