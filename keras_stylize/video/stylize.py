"""Stylizing videos with PyAV (FFmpeg's libraries, shipped in PyAV's wheels; the `[video]`
extra installs it).

Frames are decoded to uint8 RGB `(H, W, 3)`, stylized in batches with the generator (one
style or blend for the whole clip), and encoded again at the input's size, frame rate,
time stamps and display rotation; audio streams are copied packet by packet, untouched.
The output container follows the output file's extension (`.mp4`, `.mov`, `.mkv`: H.264;
`.webm`: VP9) and is written to a temporary file beside it and renamed at the end, so a
failed or interrupted run never leaves a half-written video in place. Packets that fail to
decode (a corrupt frame in the middle) are skipped, counted and reported; the rest of the
clip is still processed. Frames must be at least `generators.MIN_SIZE` (32) px on each
side, as images must, and keep one size throughout the clip.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keras_stylize.options import DEFAULT_PRECISION, DEFAULT_VIDEO_BATCH

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")
_ENCODERS = {".webm": ("libvpx-vp9",), ".avi": ("mpeg4",)}
_DEFAULT_ENCODERS = ("libx264", "mpeg4")


class VideoError(ValueError):
    """A video cannot be read or written (one line: file and reason)."""


@dataclass
class VideoReport:
    """What `stylize_video` did."""

    source: str
    target: str
    frames: int = 0
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation: int = 0
    audio_streams: int = 0
    skipped_packets: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        """Processing speed (frames stylized per second of wall time)."""
        return self.frames / self.seconds if self.seconds else 0.0


def is_video(path: str | os.PathLike) -> bool:
    """True if `path` has a video file extension."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _import_av():
    try:
        import av
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise VideoError("video needs PyAV: pip install 'keras_stylize[video]'") from None
    return av


def _encoder(av, target: Path) -> str:
    for name in _ENCODERS.get(target.suffix.lower(), _DEFAULT_ENCODERS):
        if name in av.codecs_available:
            return name
    raise VideoError(f"{target}: no encoder for {target.suffix} in this FFmpeg build")


class _Writer:
    """The output container, set up from the first decoded frame."""

    def __init__(self, av, path: str, encoder: str) -> None:
        self.av, self.path, self.encoder = av, path, encoder
        self.video_in, self.audio_in = None, []
        self.container = None
        self.video = None
        self.audio_map: dict[int, Any] = {}
        self.pending_audio: list = []

    def set_streams(self, video_in, audio_in: list) -> None:
        """The input's video stream (rate, time base) and audio streams (copied)."""
        self.video_in, self.audio_in = video_in, audio_in

    def open(self, frame) -> None:
        av = self.av
        self.container = av.open(self.path, "w")
        rate = self.video_in.average_rate or self.video_in.guessed_rate or 30
        self.video = self.container.add_stream(self.encoder, rate=rate)
        self.video.width, self.video.height = frame.width, frame.height
        even = frame.width % 2 == 0 and frame.height % 2 == 0
        self.video.pix_fmt = "yuv420p" if even or self.encoder != "libx264" else "yuv444p"
        self.video.time_base = self.video_in.time_base
        if self.encoder == "libx264":
            self.video.options = {"crf": "18", "preset": "medium"}
        if frame.rotation:
            self.video.set_display_rotation(frame.rotation)
        for stream in self.audio_in:
            self.audio_map[stream.index] = self.container.add_stream_from_template(stream)
        for packet in self.pending_audio:
            self.mux_audio(packet)
        self.pending_audio = []

    def mux_audio(self, packet) -> None:
        if packet.dts is None:  # the demuxer's final empty packet
            return
        if self.container is None:
            self.pending_audio.append(packet)
            return
        packet.stream = self.audio_map[packet.stream.index]
        self.container.mux(packet)

    def write(self, rgb: np.ndarray, source_frame) -> None:
        frame = self.av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = source_frame.pts, source_frame.time_base
        for packet in self.video.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        if self.container is None:
            return
        for packet in self.video.encode(None):
            self.container.mux(packet)
        self.container.close()


def stylize_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model: Any,
    style: Any = None,
    batch_size: int = DEFAULT_VIDEO_BATCH,
    preserve_color: bool = False,
    strength: float = 1.0,
    overwrite: bool = False,
    precision: str = DEFAULT_PRECISION,
    stabilize: int = 0,
    on_frames: Callable[[int], None] | None = None,
    predictor: Any = None,
    stroke_scale: float = 1.0,
    match_colors: bool | None = None,
) -> VideoReport:
    """Stylizes the video `source` into `target` (see the module docstring).

    Args:
        source, target: video files; `target`'s extension picks the container.
        model: generator, `.keras` path or zoo name.
        style: for multi-style models, the style or blend (`inference.style_vector`).
        batch_size: frames per generator call (larger is faster on GPUs).
        preserve_color, strength: as for `inference.stylize`.
        overwrite: replace an existing `target`.
        precision: compute precision (`inference.stylize`'s).
        stabilize: keyframe interval in frames of the temporal stabilizer
            (`stabilizer.Stabilizer`: a keyframe's stylization carried along the motion;
            8 is a good choice); 0 turns it off.
        on_frames: called with the number of frames just written (progress bars).
        predictor: the style predictor for a painting in `style` (one prediction for the
            whole clip; default: the one stored with `model`).
        stroke_scale: as for `inference.stylize`: each frame is painted (and stabilized)
            at `1 / stroke_scale` of its size and enlarged back.
        match_colors: as for `inference.stylize`; one colour map for the whole clip,
            made from its first frame.

    Raises:
        VideoError: unreadable input (no video stream, no frames, undecodable), an output
            that exists or would replace the input, or no encoder for the extension.
    """
    from keras_stylize.files import OutputExistsError, atomic_write, check_output
    from keras_stylize.generators.styles import style_vector
    from keras_stylize.inference.color_match import preview_map
    from keras_stylize.inference.session import session_for
    from keras_stylize.inference.stylize import (
        check_stroke_scale,
        colors_to_match,
        finish,
        predictor_for,
        resized,
        working_size,
    )
    from keras_stylize.video.stabilizer import Stabilizer
    from keras_stylize.zoo import load_generator

    av = _import_av()
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise VideoError(f"{source}: no such file")
    try:
        check_output(target, [source], overwrite)
    except (ValueError, OutputExistsError) as exc:
        raise VideoError(f"{source}: {exc}") from None
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1]. Received: {strength}")
    check_stroke_scale(stroke_scale)
    generator = load_generator(model)
    session = session_for(generator, precision)
    stabilizer = Stabilizer(stabilize)
    style_weights = style_vector(generator, style, predictor_for(model, style, predictor))
    colors = colors_to_match(style, match_colors, preserve_color)
    recolor = None  # the clip's colour map, made from its first frame

    def run(image: np.ndarray) -> np.ndarray:
        return session.run(image[None].astype(np.float32), style_weights)[0]

    def stylize_frames(pixels: np.ndarray) -> list[np.ndarray]:
        nonlocal recolor
        size = (pixels.shape[2], pixels.shape[1])
        work = pixels
        if stroke_scale != 1.0:
            small = working_size(size, stroke_scale)
            work = np.stack([resized(frame, small) for frame in pixels])
        if colors is not None and recolor is None:
            recolor = preview_map(run, work[0], colors)
        session.reserve(work.size // 3)
        outputs = session.run(work.astype(np.float32), style_weights)
        results = []
        for original, small, output in zip(pixels, work, outputs, strict=True):
            painted = stabilizer(small, output)
            if stroke_scale != 1.0:  # painted (clipped) at the working size, then enlarged
                painted = resized(finish(small, painted, recolor=recolor), size)
                results.append(finish(original, painted, preserve_color, strength))
            else:
                results.append(finish(original, painted, preserve_color, strength, recolor))
        return results

    encoder = _encoder(av, target)
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{source}: not a readable video ({_one_line(exc)})") from None
    report = VideoReport(str(source), str(target))
    started = time.time()

    def write(tmp: str) -> None:
        with container:
            _transcode(av, container, _Writer(av, tmp, encoder), report, stylize_frames,
                       batch_size, on_frames, stroke_scale)  # fmt: skip

    try:
        atomic_write(target, write, suffix=target.suffix, overwrite=overwrite)
    except OutputExistsError as exc:
        raise VideoError(f"{source}: {exc}") from None
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{source}: {_one_line(exc)}") from None
    report.seconds = time.time() - started
    return report


def _transcode(av, container, writer: _Writer, report: VideoReport,
               stylize_frames: Callable[[np.ndarray], list[np.ndarray]], batch_size: int,
               on_frames: Callable[[int], None] | None, stroke_scale: float) -> None:  # fmt: skip
    """Decodes `container`'s video stream, stylizes its frames in batches of
    `batch_size` and writes them with `writer`, copying the audio streams; fills in
    `report`. `stroke_scale` is checked against the first frame's size."""
    source = report.source
    video_in = next((s for s in container.streams if s.type == "video"), None)
    if video_in is None:
        raise VideoError(f"{source}: no video stream")
    audio_in = [s for s in container.streams if s.type == "audio"]
    report.audio_streams = len(audio_in)
    report.fps = float(video_in.average_rate or 0)
    writer.set_streams(video_in, audio_in)
    batch: list = []

    def flush() -> None:
        if not batch:
            return
        pixels = np.stack([f.to_ndarray(format="rgb24") for f in batch])
        for frame, result in zip(batch, stylize_frames(pixels), strict=True):
            writer.write(result, frame)
        report.frames += len(batch)
        if on_frames:
            on_frames(len(batch))
        batch.clear()

    for packet in container.demux(video_in, *audio_in):
        if packet.stream.type == "audio":
            writer.mux_audio(packet)
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            where = f"packet at {float(packet.pts * packet.time_base):.2f} s" if (
                packet.pts is not None) else "a packet"  # fmt: skip
            report.skipped_packets.append(f"{where}: {_one_line(exc)}")
            continue
        for frame in frames:
            _check_frame(frame, writer, report, report.frames + len(batch), stroke_scale)
            batch.append(frame)
            if len(batch) >= batch_size:
                flush()
    flush()
    writer.close()
    if report.frames == 0:
        raise VideoError(f"{source}: no decodable video frames")


def _check_frame(frame, writer: _Writer, report: VideoReport, index: int,
                 stroke_scale: float = 1.0) -> None:  # fmt: skip
    """Opens the output at the first frame (which must be large enough, also at the
    working size of `stroke_scale`); later frames must keep its size."""
    from keras_stylize.generators import MIN_SIZE
    from keras_stylize.inference.stylize import working_size

    source = report.source
    if writer.container is None:
        if min(frame.width, frame.height) < MIN_SIZE:
            raise VideoError(
                f"{source}: frames of {frame.width}x{frame.height} px are "
                f"too small; videos need at least {MIN_SIZE} px on each side"
            )
        try:
            working_size((frame.width, frame.height), stroke_scale)
        except ValueError as exc:
            raise VideoError(f"{source}: {exc}") from None
        writer.open(frame)
        report.width, report.height = frame.width, frame.height
        report.rotation = int(frame.rotation or 0)
    elif (frame.width, frame.height) != (report.width, report.height):
        raise VideoError(
            f"{source}: the frame size changes from {report.width}x"
            f"{report.height} to {frame.width}x{frame.height} at frame {index}; "
            "videos must keep one size"
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
