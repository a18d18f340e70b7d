import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_stylize.images import ImageReadError
from keras_stylize.inference.stylize import stylize

from ..conftest import invoke, pattern_photo, read_rgb, write_image


def _cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "keras_stylize.cli", "stylize", *map(str, args)],
        capture_output=True, input=stdin, timeout=300,
    )  # fmt: skip


def _errors(result):
    return [ln for ln in result.stderr.decode().splitlines() if ln.startswith("error:")]


def test_cli_batch_with_bad_inputs(tmp_path, model_path):
    src = tmp_path / "in"
    write_image(src / "good1.jpg", size=(64, 48))
    write_image(src / "nested" / "good2.png", size=(50, 70), mode="RGBA")
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    (src / "empty.png").write_bytes(b"")
    good = (src / "good1.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(good[: len(good) // 4])
    (src / "text.png").write_text("hello")
    write_image(src / "tiny.png", size=(20, 20))
    write_image(src / "huge.png", size=(300, 300))
    out = tmp_path / "out"
    result = _cli(src, tmp_path / "missing.jpg", "-m", model_path, "-o", out, "-r",
                  "--format", "png", "--json", "--max-pixels", "50000")  # fmt: skip
    assert result.returncode == 1
    errors = _errors(result)
    for name in ["corrupt.jpg", "empty.png", "truncated.jpg", "text.png", "tiny.png",
                 "huge.png", "missing.jpg"]:  # fmt: skip
        assert sum(name in e for e in errors) == 1, (name, errors)
    assert len(errors) == 7
    summary = json.loads(result.stdout)
    assert summary["ok"] == 2 and summary["failed"] == 7
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["good1_stylized.png", "nested/good2_stylized.png"]
    assert Image.open(out / "good1_stylized.png").size == (64, 48)

    # Existing outputs are kept unless --overwrite.
    before = (out / "good1_stylized.png").read_bytes()
    again = _cli(src / "good1.jpg", "-m", model_path, "-o", out / "good1_stylized.png",
                 "--strength", "0")  # fmt: skip
    assert again.returncode == 1 and "exists" in _errors(again)[0]
    assert (out / "good1_stylized.png").read_bytes() == before
    forced = _cli(src / "good1.jpg", "-m", model_path, "-o", out / "good1_stylized.png",
                  "--strength", "0", "--overwrite")  # fmt: skip
    assert forced.returncode == 0
    assert (out / "good1_stylized.png").read_bytes() != before
    assert not [p for p in out.rglob("*.tmp")]


def test_cli_never_overwrites_input(tmp_path, model_path):
    path = write_image(tmp_path / "p.png", size=(48, 48))
    original = path.read_bytes()
    result = _cli(path, "-m", model_path, "-o", path, "--overwrite")
    assert result.returncode == 1 and "overwrite an input" in _errors(result)[0]
    assert path.read_bytes() == original


def test_cli_stdin_to_stdout(tmp_path, model_path, generator):
    buffer = io.BytesIO()
    Image.fromarray(pattern_photo()).save(buffer, format="PNG")
    result = _cli("-", "-m", model_path, "-o", "-", stdin=buffer.getvalue())
    assert result.returncode == 0, result.stderr.decode()[-500:]
    out = np.asarray(Image.open(io.BytesIO(result.stdout)))
    np.testing.assert_array_equal(out, stylize(pattern_photo(), generator, return_array=True))


def test_cli_bad_model_is_one_line(tmp_path):
    path = write_image(tmp_path / "p.png", size=(48, 48))
    result = _cli(path, "-m", tmp_path / "nope.keras")
    assert result.returncode == 2 and "cannot load model" in _errors(result)[0]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels but carries no image data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_header_is_refused_by_default(tmp_path, model_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(ImageReadError, match="too large"):
        read_rgb(bomb)
    result = _cli(bomb, "-m", model_path, "-o", tmp_path / "out")
    assert result.returncode == 1
    (line,) = _errors(result)
    assert "bomb.png" in line and "too large" in line and "--max-pixels" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_usage_errors(tmp_path, model_path):
    (tmp_path / "empty").mkdir()
    a = write_image(tmp_path / "a.png", size=(40, 40))
    b = write_image(tmp_path / "b.png", size=(40, 40), seed=2)
    empty = _cli(tmp_path / "empty", "-m", model_path, "-o", tmp_path / "out")
    assert empty.returncode == 1 and len(_errors(empty)) == 1
    assert "no image files" in _errors(empty)[0]
    two_to_file = _cli(a, b, "-m", model_path, "-o", tmp_path / "one.jpg")
    assert two_to_file.returncode == 2 and "names one file" in _errors(two_to_file)[0]
    bad_ext = _cli(a, "-m", model_path, "-o", tmp_path / "x.gif")
    assert bad_ext.returncode == 1 and "unsupported output extension" in _errors(bad_ext)[0]
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "one.jpg").exists()


def test_cli_style_option(tmp_path, multi_style_path):
    photo = tmp_path / "p.png"
    Image.fromarray(pattern_photo()).save(photo)
    ok = _cli(photo, "-m", multi_style_path, "--style", "scream:0.5,stars:0.5",
              "-o", tmp_path / "o.png", "--preserve-color", "--strength", "0.8")  # fmt: skip
    assert ok.returncode == 0, ok.stderr.decode()[-2000:]
    assert (tmp_path / "o.png").is_file()
    bad = _cli(photo, "-m", multi_style_path, "--style", "nope", "-o", tmp_path / "b.png")
    assert bad.returncode == 2
    assert _errors(bad) == ["error: --style: unknown style 'nope'; valid styles: wave, "
                            "scream, stars (or indices 0-2)"]  # fmt: skip
    assert not (tmp_path / "b.png").exists()


def test_cli_inputs_writing_one_output_are_refused_before_any_work(tmp_path, model_path):
    folder = tmp_path / "in"
    write_image(folder / "a.bmp", size=(40, 40))
    write_image(folder / "a.tif", size=(40, 40), seed=1)
    write_image(folder / "b.png", size=(40, 40), seed=2)
    for extra in ([], ["--overwrite"]):
        result = invoke("stylize", folder, "-m", model_path, "-o", tmp_path / "out", *extra)
        assert result.exit_code == 2, result.output
        assert "a.bmp and" in result.stderr and "a.tif" in result.stderr
        assert not (tmp_path / "out").exists()
    x_upper = write_image(tmp_path / "x.JPG", size=(40, 40), fmt="JPEG")
    x_lower = write_image(tmp_path / "x.jpg", size=(40, 40), seed=3)
    result = invoke("stylize", x_upper, x_lower, "-m", model_path, "-o", tmp_path / "out2")
    assert result.exit_code == 2 and "x_stylized.jpg" in result.stderr
    assert not (tmp_path / "out2").exists()


def test_cli_an_output_created_meanwhile_is_not_replaced(tmp_path, model_path, monkeypatch):
    import keras_stylize.inference.stylize as inference

    photo = write_image(tmp_path / "p.png", size=(40, 40))
    target = tmp_path / "o.png"
    real = inference.stylize

    def racing(*args, **kwargs):  # a second process finishes first
        target.write_bytes(b"first result")
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "stylize", racing)
    result = invoke("stylize", photo, "-m", model_path, "-o", target)
    assert result.exit_code == 1 and "exists (use --overwrite)" in result.stderr
    assert target.read_bytes() == b"first result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "p.png"]


def test_cli_non_finite_numbers_and_overflowing_blends_are_usage_errors(
    tmp_path, model_path, multi_style_path
):
    photo = write_image(tmp_path / "p.png", size=(40, 40))
    cases = [(model_path, ["--max-memory", "nan"]), (model_path, ["--strength", "nan"]),
             (model_path, ["--max-memory", "inf"]),
             (multi_style_path, ["--style", "scream:1e308,stars:1e308"])]  # fmt: skip
    for model, extra in cases:
        result = invoke("stylize", photo, "-m", model, "-o", tmp_path / "o.png", *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert not (tmp_path / "o.png").exists()
    result = invoke("stylize", photo, "-m", multi_style_path, "-o", tmp_path / "o.png", "--style",
                  "scream:1e308,stars:1e308")  # fmt: skip
    assert result.stderr.startswith("error: --style: style weights are too large")


def test_folder_scans_skip_hidden_leftovers(tmp_path, model_path):
    folder = tmp_path / "in"
    write_image(folder / "p.png", size=(40, 40))
    (folder / ".p_stylized.jpg.x1y2.tmp.jpg").write_bytes(b"half a file")
    write_image(folder / ".hidden" / "q.png", size=(40, 40))
    result = invoke("stylize", folder, "-r", "-m", model_path, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["p_stylized.png"]


def test_style_image_needs_a_model_with_a_predictor(tmp_path):
    photo = write_image(tmp_path / "photo.png", size=(48, 40))
    painting = write_image(tmp_path / "painting.png", size=(64, 48), seed=3)
    result = invoke("stylize", photo, "-m", "ten_styles_johnson", "--style-image", painting,
                    "-o", tmp_path / "o.png")  # fmt: skip
    assert result.exit_code == 2 and "has no style predictor" in result.output
    result = invoke("stylize", photo, "-m", "ten_styles_johnson", "--style", "udnie",
                    "--style-image", painting, "-o", tmp_path / "o.png")  # fmt: skip
    assert result.exit_code == 2 and "not both" in result.output
    result = invoke("stylize", photo, "-m", "ten_styles_johnson", "--style", "udnie",
                    "--match-colors", "-o", tmp_path / "o.png")  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --match-colors: match_colors needs a painting as "
                                     "the style (every entry of a blend a painting); named "
                                     "styles have their own colours")  # fmt: skip
    assert not (tmp_path / "o.png").exists()


def test_cli_stroke_scale_keeps_the_size(tmp_path, model_path):
    photo = write_image(tmp_path / "p.png", size=(128, 96))
    out = tmp_path / "p_big.png"
    result = _cli(photo, "-m", model_path, "-o", out, "--stroke-scale", "2")
    assert result.returncode == 0, result.stderr.decode()
    expected = stylize(photo, str(model_path), stroke_scale=2.0, return_array=True)
    np.testing.assert_array_equal(read_rgb(out), expected)
    assert expected.shape == (96, 128, 3)
    assert _cli(photo, "-m", model_path, "--stroke-scale", "9").returncode == 2
