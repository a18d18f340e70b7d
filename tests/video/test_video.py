"""Video stylization on generated clips (a pan across the bundled photo, with a tone)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from keras_stylize import johnson_generator
from keras_stylize.export.verify import agreement
from keras_stylize.video.stylize import VideoError, stylize_video

from ..conftest import PHOTO

av = pytest.importorskip("av")


def make_clip(path, frames=16, width=96, height=64, rotation=0, audio=True, codec="libx264"):
    """A pan across the bundled photo at 12 fps, 3 px per frame, optionally with a 440 Hz
    tone (AAC, 16 kHz) and a display rotation."""
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    out = av.open(str(path), "w")
    video = out.add_stream(codec, rate=12)
    video.width, video.height = width, height
    video.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    if rotation:
        video.set_display_rotation(rotation)
    sound = None
    if audio:
        sound = out.add_stream("aac", rate=16000)
        sound.layout = "mono"
    for i in range(frames):
        image = np.ascontiguousarray(photo[100 : 100 + height, 200 + 3 * i : 200 + 3 * i + width])
        for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            out.mux(packet)
    if sound is not None:
        t = np.arange(16000 * frames // 12) / 16000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        for k in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, k : k + 1024], format="fltp",
                                               layout="mono")  # fmt: skip
            frame.sample_rate, frame.pts = 16000, k
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    for packet in video.encode(None):
        out.mux(packet)
    out.close()
    return path


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(4)
    return johnson_generator(width=0.25, output="tanh")


def _streams(path):
    with av.open(str(path)) as c:
        rate = c.streams.video[0].average_rate
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        first = next(c.decode(video=0))
        audio = [bytes(p) for p in c.demux(audio=0) if p.size] if c.streams.audio else []
        return {"frames": frames, "rate": rate, "rotation": first.rotation,
                "duration": float(c.duration or 0) / 1e6, "audio": audio}  # fmt: skip


def test_round_trip_keeps_rate_size_rotation_duration_and_audio(tmp_path, generator):
    clip = make_clip(tmp_path / "in.mp4", rotation=90)
    report = stylize_video(clip, tmp_path / "out.mp4", generator, batch_size=3)
    assert report.frames == 16 and report.audio_streams == 1 and not report.skipped_packets
    src, out = _streams(clip), _streams(tmp_path / "out.mp4")
    assert len(out["frames"]) == 16 and out["frames"][0].shape == (64, 96, 3)
    assert out["rate"] == src["rate"] == 12 and out["rotation"] == src["rotation"] == 90
    assert abs(out["duration"] - src["duration"]) < 0.1
    assert out["audio"] == src["audio"] and len(src["audio"]) > 10  # copied untouched
    # Each output frame is the generator's output of that input frame, up to H.264 coding
    # (a random network's noisy colours at 96x64 lose much to 4:2:0 chroma: about 21 dB),
    # and not its neighbour's (about 14 dB) nor the input (about 10 dB).
    expected = np.asarray(generator(np.stack(src["frames"]).astype(np.float32)))
    got = np.stack(out["frames"])
    same = agreement(expected, got)["psnr_db"]
    assert same > 18
    assert same > agreement(expected[1:], got[:-1])["psnr_db"] + 4
    assert np.abs(np.stack(out["frames"]).astype(float) - np.stack(src["frames"])).mean() > 10


def test_stabilized_clip_flickers_less_along_the_known_pan(tmp_path, generator):
    clip = make_clip(tmp_path / "in.mp4", audio=False)
    errors = {}
    for interval in (0, 8):
        out = tmp_path / f"out{interval}.mp4"
        stylize_video(clip, out, generator, stabilize=interval, precision="float32")
        frames = [f.astype(float) for f in _streams(out)["frames"]]
        assert len(frames) == 16
        # the clip pans 3 px per frame: frame t+1 at x shows frame t at x + 3
        errors[interval] = np.mean([np.abs(b[:, :-3] - a[:, 3:]).mean()
                                    for a, b in zip(frames, frames[1:], strict=False)])  # fmt: skip
    assert errors[8] < 0.75 * errors[0], errors


def test_stroke_scale_paints_each_frame_at_the_working_size(tmp_path, generator):
    from keras_stylize.inference.stylize import stylize

    clip = make_clip(tmp_path / "in.mp4", frames=6, width=128, height=64, audio=False)
    stylize_video(clip, tmp_path / "out.mp4", generator, stroke_scale=2.0, precision="float32")
    src, out = _streams(clip)["frames"], _streams(tmp_path / "out.mp4")["frames"]
    assert len(out) == 6 and out[0].shape == (64, 128, 3)
    bigger = np.stack([stylize(f, generator, stroke_scale=2.0, precision="float32",
                               return_array=True) for f in src])  # fmt: skip
    plain = np.stack([stylize(f, generator, precision="float32", return_array=True)
                      for f in src])  # fmt: skip
    got = np.stack(out)
    # as the images' stroke scale, up to H.264 coding, and unlike the plain stylization
    assert agreement(bigger, got)["psnr_db"] > agreement(plain, got)["psnr_db"] + 3
    with pytest.raises(ValueError, match="stroke_scale"):
        stylize_video(clip, tmp_path / "x.mp4", generator, stroke_scale=10.0)
    with pytest.raises(VideoError, match="in.mp4: stroke scale 4 leaves 32x16 px to paint"):
        stylize_video(clip, tmp_path / "x.mp4", generator, stroke_scale=4.0)
    assert not (tmp_path / "x.mp4").exists()


def test_a_painting_style_matches_the_clip_to_the_paintings_colours(tmp_path):
    from keras_stylize.generators.prediction import read_painting, style_predictor
    from keras_stylize.inference.color_match import color_statistics

    keras.utils.set_random_seed(6)
    multi = johnson_generator(width=0.125, num_styles=2, style_names=["a", "b"])
    predictor = style_predictor(2, hidden=4, vgg_weights=None)
    rng = np.random.default_rng(2)
    pixels = np.clip(rng.normal([60, 150, 200], [20, 25, 15], (96, 128, 3)), 0, 255)
    painting = tmp_path / "blue.png"
    Image.fromarray(pixels.astype(np.uint8)).save(painting)
    target = color_statistics(read_painting(painting)).mean
    clip = make_clip(tmp_path / "in.mp4", frames=4, width=96, height=64, audio=False)
    for match, name in ((None, "matched.mp4"), (False, "plain.mp4")):
        stylize_video(clip, tmp_path / name, multi, style=painting, predictor=predictor,
                      match_colors=match, precision="float32")  # fmt: skip
    matched, plain = (
        np.stack(_streams(tmp_path / n)["frames"]) for n in ("matched.mp4", "plain.mp4")
    )
    assert np.abs(color_statistics(matched).mean - target).max() < 6.0
    assert np.abs(color_statistics(plain).mean - target).max() > 20.0


def test_corrupt_frame_is_reported_and_the_rest_processed(tmp_path, generator):
    clip = make_clip(tmp_path / "mj.avi", frames=12, audio=False, codec="mjpeg")
    data = bytearray(clip.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    rng = np.random.default_rng(0)
    data[starts[5] + 2 : starts[6] - 2] = rng.integers(0, 256, starts[6] - starts[5] - 4,
                                                       dtype=np.uint8).tobytes()  # fmt: skip
    (tmp_path / "bad.avi").write_bytes(bytes(data))
    report = stylize_video(tmp_path / "bad.avi", tmp_path / "out.mkv", generator)
    assert len(report.skipped_packets) == 1 and "Invalid data" in report.skipped_packets[0]
    assert 9 <= report.frames <= 11
    assert len(_streams(tmp_path / "out.mkv")["frames"]) == report.frames


@pytest.mark.parametrize(
    "content, message",
    [(b"", "not a readable video"), (b"\x00garbage" * 500, "not a readable video")],
)
def test_unreadable_clips_are_one_line_errors_and_write_nothing(tmp_path, generator, content,
                                                                 message):  # fmt: skip
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        stylize_video(bad, tmp_path / "out.mp4", generator)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]  # no temporary file


def test_audio_only_and_existing_outputs(tmp_path, generator):
    out = av.open(str(tmp_path / "sound.mkv"), "w")
    sound = out.add_stream("aac", rate=16000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                       layout="mono")  # fmt: skip
    frame.sample_rate, frame.pts = 16000, 0
    for packet in [*sound.encode(frame), *sound.encode(None)]:
        out.mux(packet)
    out.close()
    with pytest.raises(VideoError, match="no video stream"):
        stylize_video(tmp_path / "sound.mkv", tmp_path / "o.mp4", generator)
    clip = make_clip(tmp_path / "c.mp4", frames=4, audio=False)
    (tmp_path / "kept.mp4").write_bytes(b"old")
    with pytest.raises(VideoError, match="exists"):
        stylize_video(clip, tmp_path / "kept.mp4", generator)
    assert (tmp_path / "kept.mp4").read_bytes() == b"old"
    with pytest.raises(VideoError, match="overwrite an input"):
        stylize_video(clip, clip, generator, overwrite=True)


def test_cli_folder_with_a_video_an_image_and_a_broken_clip(tmp_path, generator):
    model = tmp_path / "g.keras"
    generator.save(model)
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "walk.mp4", frames=6)
    Image.open(PHOTO).convert("RGB").resize((96, 64)).save(folder / "photo.jpg")
    (folder / "broken.mov").write_bytes(b"nope" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "keras_stylize.cli", "stylize", str(folder), "-m", str(model),
         "-o", str(tmp_path / "out"), "--json", "--stabilize"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.mov" in errors[0] and "not a readable video" in errors[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "photo_stylized.jpg", "walk_stylized.mp4"]  # fmt: skip
    assert len(_streams(tmp_path / "out" / "walk_stylized.mp4")["frames"]) == 6


def test_cli_stabilize_takes_an_interval_of_at_least_two_frames(tmp_path):
    from click.testing import CliRunner

    from keras_stylize.cli import main

    result = CliRunner().invoke(main, ["stylize", str(PHOTO), "-m", "x", "-o",
                                       str(tmp_path / "o.mp4"), "--stabilize", "1"])  # fmt: skip
    assert result.exit_code == 2 and "at least 2 frames" in result.output
    assert not (tmp_path / "o.mp4").exists()


def _ts_segment(w, h, frames=3):
    import io

    buffer = io.BytesIO()
    out = av.open(buffer, "w", format="mpegts")
    video = out.add_stream("libx264", rate=12)
    video.width, video.height, video.pix_fmt = w, h, "yuv420p"
    for i in range(frames):
        image = np.full((h, w, 3), 40 * i, np.uint8)
        for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            out.mux(packet)
    for packet in video.encode(None):
        out.mux(packet)
    out.close()
    return buffer.getvalue()


def test_small_and_size_changing_videos_are_one_line_errors(tmp_path, generator):
    small = make_clip(tmp_path / "small.mp4", frames=3, width=16, height=16, audio=False)
    with pytest.raises(VideoError, match="too small; videos need at least 32 px"):
        stylize_video(small, tmp_path / "o.mp4", generator)
    changing = tmp_path / "changing.ts"
    changing.write_bytes(_ts_segment(64, 48) + _ts_segment(96, 64))
    with pytest.raises(VideoError, match="frame size changes from 64x48 to 96x64 at frame 3"):
        stylize_video(changing, tmp_path / "o.mp4", generator)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changing.ts", "small.mp4"]


def test_video_outputs_get_the_usual_mode_and_no_clobber(tmp_path, generator, monkeypatch):
    import keras_stylize.video.stylize as video_module

    clip = make_clip(tmp_path / "c.mp4", frames=3, audio=False)
    previous = os.umask(0o022)
    try:
        stylize_video(clip, tmp_path / "o.mp4", generator)
    finally:
        os.umask(previous)
    assert (tmp_path / "o.mp4").stat().st_mode & 0o777 == 0o644
    # another process creates the output while this one works: it is kept, not replaced
    real_open = video_module._Writer.open

    def racing_open(self, frame):
        (tmp_path / "raced.mp4").write_bytes(b"first")
        real_open(self, frame)

    monkeypatch.setattr(video_module._Writer, "open", racing_open)
    with pytest.raises(VideoError, match="exists"):
        stylize_video(clip, tmp_path / "raced.mp4", generator)
    assert (tmp_path / "raced.mp4").read_bytes() == b"first"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
