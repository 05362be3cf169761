"""Video: put a look on a clip, frame by frame, with PyAV (FFmpeg's libraries; its wheels bundle them).

    info = probe_video("clip.mov", max_seconds=180)     # VideoError with a one-line reason if unusable
    preview = first_frame("clip.mov", 1024)             # upright PIL image for a preview
    stylize_video(look, "clip.mov", "out/clip.mp4", strength=0.8, progress=lambda done, total: ...)

The output is an H.264 ``yuv420p`` MP4 (``+faststart``) that browsers play: same frame rate, frame count and
duration, the same displayed size (upright: a rotated phone clip's frames are turned and written without
rotation metadata; an odd side loses its last pixel row or column, as 4:2:0 needs even sides), the same colour
tags, and the audio stream copied packet for packet (re-encoded to AAC only when browsers cannot play it in an
MP4). A look is a fixed table, so it cannot flicker; grain, if the look has it, is seeded by the frame index:
it moves from frame to frame like film, and a re-render is identical.

Decoding (one thread), the look (``Look.apply``, as for photos, in a pool of workers, one frame each) and encoding
(x264's own threads) overlap; a bounded queue keeps a few frames in flight. The result is written beside ``dst`` under a temporary name and
renamed at the end, so an error or a cancel leaves nothing half-written.
"""
from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image

from ..looks.finishing import Finish
from ..images import IMAGE_SUFFIXES, ImageError
from ..looks.look import Look
from ..looks.lut import MAX_STRENGTH
from ..masks import MaskSmoother, check_controls
from .outputs import check_output_file, write_atomically

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv")
MAX_LONG_SIDE, MAX_SHORT_SIDE = 4096, 2160  # 4K: 3840×2160 (UHD) and 4096×2160 (DCI) pass, either way up
MAX_VFR_DEVIATION = 0.5  # a frame interval more than ±50 % off the median one is irregular…
MAX_IRREGULAR = 0.01  # …and more of them than 1 % of the intervals (at least 3) means a variable frame rate;
# fewer are dropped frames (or a clip cut without re-encoding): kept as gaps at their times
X264_OPTIONS = {"preset": "veryfast", "crf": "18"}  # near-transparent quality, ~real time for 1080p on 2 vCPU
BROWSER_AUDIO = ("aac", "mp3", "opus", "flac")  # audio codecs browsers play in an MP4: copied; others → AAC
AAC_BIT_RATE = 192_000
FRAMES_IN_FLIGHT = 6  # decoded frames queued or being styled at once (memory: a few frames, whatever the clip)
RENDER_BYTES_PER_PIXEL = 140  # peak memory of a render per output pixel, measured (x264 holds most of it)
RENDER_BYTES_FIXED = 16 * 2**20

# FFmpeg's colour-matrix tags (AVColorSpace) → the matrix swscale converts with; others use swscale's default.
_MATRICES = {1: "itu709", 4: "fcc", 5: "itu601", 6: "itu601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
_TV_RANGE = 1  # AVColorRange: limited ("MPEG") range
_TO_RGB = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT  # swscale flags (see _to_rgb)
_TO_YUV = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INP  # as exact as ACCURATE_RND here, and faster


class VideoError(ValueError):
    """A clip that cannot be stylized; the message is one line, fit to show a user."""


class VideoCancelled(Exception):
    """Raised by ``stylize_video`` when its ``cancel`` event is set; nothing is written."""


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` found out about a clip."""

    width: int  # displayed width in pixels (rotation applied; before cropping to even sides)
    height: int  # displayed height in pixels
    fps: Fraction  # frames per second (constant)
    frames: int  # number of video frames
    duration: float  # seconds of video: from the first frame's time to the last one's end (frames / fps without gaps)
    rotation: int  # degrees (0, 90, 180, 270) a player turns the stored frames counter-clockwise
    video_codec: str  # e.g. "h264", "hevc", "vp9"
    audio_codec: str | None  # the audio stream's codec, or None without sound

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of the stylized MP4: the displayed size rounded down to even sides."""
        return self.width - self.width % 2, self.height - self.height % 2


def render_cost(info: VideoInfo) -> int:
    """Bytes ``stylize_video`` holds at its peak for this clip, whatever its length (for a memory budget).

    Measured as peak RSS growth on 2 cores: 640×360 44 MB, 1920×1080 275 MB, 3840×2160 1.06 GB; x264 alone
    (decode + encode, no look) takes 640 MB of the 4K figure.
    """
    width, height = info.output_size
    return width * height * RENDER_BYTES_PER_PIXEL + RENDER_BYTES_FIXED


def is_video(path: str | os.PathLike) -> bool:
    """True for the file names InfluGAN treats as clips (by suffix)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def mp4_name(source: Path) -> tuple[str, str]:
    """The name a clip's result gets (for ``outputs.plan_outputs``): ``<stem>.mp4``."""
    return source.stem, ".mp4"


def find_media(paths: list[str | os.PathLike]) -> list[Path]:
    """Expand files and folders (skipping hidden entries) to a sorted list of photos and clips; files pass as given."""
    found: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            suffixes = IMAGE_SUFFIXES + VIDEO_SUFFIXES
            found.extend(sorted(p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")))
        elif entry.exists():
            found.append(entry)
        else:
            raise ImageError(f"{entry}: no such file or folder")
    return found


# --- reading ------------------------------------------------------------------------------------------------
def _open(path: Path) -> av.container.InputContainer:
    """Open a clip for reading, or raise VideoError saying why not."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise VideoError(f"{path.name}: cannot read the file ({error.strerror or error})") from None
    if size == 0:
        raise VideoError(f"{path.name}: the file is empty")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise VideoError(f"{path.name}: not a video file InfluGAN can read ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text.splitlines()[0][:80]


def _video_stream(container: av.container.InputContainer, name: str) -> av.video.stream.VideoStream:
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        raise VideoError(f"{name}: no video stream in the file")
    known = [s for s in streams if s.codec_context is not None]
    if not known:
        raise VideoError(f"{name}: the video is in a codec InfluGAN cannot decode (or the file is damaged)")
    return max(known, key=lambda s: (s.codec_context.width * s.codec_context.height, -s.index))


def _audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    return container.streams.best("audio") if container.streams.audio else None


def _minutes(seconds: float) -> str:
    """A duration as people say it: 0.5 s, 42 s, 3 min, 3 min 20 s."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes and rest else f"{minutes} min" if minutes else f"{rest} s"


def _first_decoded(container: av.container.InputContainer, stream, name: str) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except (av.FFmpegError, OSError, ValueError) as error:
        raise VideoError(f"{name}: the video data is damaged ({_reason(error)})") from None
    raise VideoError(f"{name}: the video data is damaged (no frame could be decoded)")


def _rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees a player turns this frame (its display matrix), as 0, 90, 180 or 270."""
    try:
        return round((frame.rotation or 0) / 90) % 4 * 90
    except (ValueError, TypeError):
        return 0


@dataclass(frozen=True)
class _Scan:
    """What rendering needs beyond VideoInfo, read from the first frame and the packet headers."""

    info: VideoInfo
    coded: tuple[int, int]  # (width, height) of the stored frames
    start: float  # seconds at which the first frame is shown: the output's time 0
    colour: dict  # the first frame's colour tags: colorspace, color_range, color_primaries, color_trc (FFmpeg enums)


def probe_video(path: str | os.PathLike, max_seconds: float | None = None) -> VideoInfo:
    """Check a clip can be stylized and describe it; raises VideoError with a one-line reason otherwise.

    Refused: unreadable or damaged files, no video stream, larger than 4K (4096×2160 either way up), a variable
    frame rate, and, when ``max_seconds`` is given, clips longer than that. Decodes the first frame and reads
    every packet header (not the pixels) to count frames and check their timing.
    """
    return _scan(Path(path), max_seconds).info


def _scan(path: Path, max_seconds: float | None) -> _Scan:
    name = path.name
    with _open(path) as container:
        stream = _video_stream(container, name)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise VideoError(f"{name}: the video stream has no picture size (damaged file?)")
        if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
            raise VideoError(f"{name}: {width}×{height} is larger than 4K; the limit is {MAX_LONG_SIDE}×{MAX_SHORT_SIDE}")
        if max_seconds is not None and container.duration and container.duration / 1e6 > max_seconds + 0.5:
            raise VideoError(f"{name}: the clip is {_minutes(container.duration / 1e6)} long; the limit is {_minutes(max_seconds)}")
        first = _first_decoded(container, stream, name)
        audio = _audio_stream(container)
        if audio is not None and audio.codec_context is None:
            raise VideoError(f"{name}: the sound is in a codec InfluGAN cannot read (or the file is damaged)")
    with _open(path) as container:  # afresh: a seek back to the start is not exact in every container
        stream = _video_stream(container, name)
        stamps = _frame_stamps(container, stream, name)
        fps = _constant_rate(stamps, stream, name)
        start = float(stamps[0] * stream.time_base)
        duration = float((stamps[-1] - stamps[0]) * stream.time_base + 1 / fps)
    if max_seconds is not None and duration > max_seconds + 0.5:
        raise VideoError(f"{name}: the clip is {_minutes(duration)} long; the limit is {_minutes(max_seconds)}")
    rotation = _rotation(first)
    shown = (height, width) if rotation in (90, 270) else (width, height)
    info = VideoInfo(
        width=shown[0],
        height=shown[1],
        fps=fps,
        frames=len(stamps),
        duration=duration,
        rotation=rotation,
        video_codec=stream.codec_context.name,
        audio_codec=audio.codec_context.name if audio is not None else None,
    )
    colour = {tag: getattr(first, tag) for tag in ("colorspace", "color_range", "color_primaries", "color_trc")}
    return _Scan(info=info, coded=(first.width, first.height), start=start, colour=colour)


def _frame_stamps(container: av.container.InputContainer, stream, name: str) -> np.ndarray:
    """Presentation times (in the stream's time base) of every shown video frame, sorted; VideoError if the packets
    stop short of what the container's index promises (a truncated download) or cannot be read."""
    stamps, packets = [], 0
    try:
        for packet in container.demux(stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            packets += packet.size > 0
            if packet.size and stamp is not None and not packet.is_discard:
                stamps.append(stamp)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise VideoError(f"{name}: the video data is damaged after {len(stamps)} frames ({_reason(error)})") from None
    if not stamps:
        raise VideoError(f"{name}: the video stream holds no frames")
    if stream.frames and packets < stream.frames:
        raise VideoError(f"{name}: the file is truncated ({packets} of its {stream.frames} frames are there)")
    return np.sort(np.asarray(stamps, dtype=np.int64))


def _constant_rate(stamps: np.ndarray, stream, name: str) -> Fraction:
    """The clip's frame rate, or VideoError if its frames are not evenly spaced."""
    if len(stamps) < 2:
        return Fraction(stream.average_rate or stream.guessed_rate or 30)
    intervals = np.diff(stamps)
    nominal = float(np.median(intervals))
    if nominal <= 0 or intervals.min() <= 0:
        raise VideoError(f"{name}: frames with repeated timestamps; InfluGAN needs a constant frame rate")
    irregular = np.abs(intervals / nominal - 1) > MAX_VFR_DEVIATION
    if irregular.sum() > max(2, MAX_IRREGULAR * len(intervals)):
        unit = float(stream.time_base) * 1000
        raise VideoError(
            f"{name}: variable frame rate (frames {intervals.min() * unit:.0f} to {intervals.max() * unit:.0f} ms apart); "
            "InfluGAN needs a constant frame rate"
        )
    measured = 1 / (Fraction(nominal) * stream.time_base)
    for rate in (stream.average_rate, stream.guessed_rate):  # the container's own figure, when it agrees
        if rate and abs(float(rate) / float(measured) - 1) < 0.01:
            return Fraction(rate)
    return measured.limit_denominator(1001)


def first_frame(path: str | os.PathLike, size: int | None = None) -> Image.Image:
    """The clip's first frame as an upright sRGB-ish 8-bit RGB image, at most ``size`` px on the longer side."""
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path.name)
        frame = _first_decoded(container, stream, path.name)
        image = Image.fromarray(np.ascontiguousarray(_upright(_to_rgb(frame, frame.width, frame.height), _rotation(frame))))
    if size:
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def _to_rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """Decoded frame → (H, W, 3) uint8 RGB, converted with the frame's own colour matrix and range.

    Through planar RGB with rounding: swscale's fast path to packed RGB truncates, 1–1.4 levels darker on average.
    """
    return frame.to_ndarray(
        format="gbrp",  # returned as (H, W, 3) in R, G, B order
        width=width,
        height=height,
        src_colorspace=_MATRICES.get(frame.colorspace),
        src_color_range=frame.color_range or None,
        dst_color_range="JPEG",
        interpolation=_TO_RGB,
        threads=1,
    )


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """(H, W, 3) stored frame → as a player shows it (turned ``rotation`` degrees counter-clockwise): a view."""
    return np.rot90(rgb, rotation // 90) if rotation else rgb


# --- stylizing ----------------------------------------------------------------------------------------------
def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def stylize_video(
    look: Look,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    strength: float = 1.0,
    finish: Finish | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    max_seconds: float | None = None,
    protect_skin: float | None = None,
    apply_to: str = "whole",
    smoother: MaskSmoother | None = None,
) -> VideoInfo:
    """Put ``look`` on the clip ``src`` and write an H.264 MP4 to ``dst``; returns the clip's VideoInfo.

    strength: 0..1.5 as for photos (finish amounts scale too); finish overrides the look's own (the app's sliders).
    protect_skin, apply_to: as in ``Look.apply``, with each frame's masks smoothed over time (``MaskSmoother``;
    pass one to read its ``saw_person`` afterwards).
    progress(frames_done, frames_total) is called from this thread as frames are encoded.
    cancel: set it from another thread to stop; raises VideoCancelled. max_seconds: see ``probe_video``.
    Raises VideoError for a clip that cannot be used, OutputError for a ``dst`` that cannot be written or is ``src``;
    ``dst`` is only ever replaced by a complete file.
    """
    src, dst = Path(src), Path(dst)
    if not 0.0 <= strength <= MAX_STRENGTH:  # NaN fails too
        raise ValueError(f"strength must be within 0..{MAX_STRENGTH}, got {strength}")
    scan = _scan(src, max_seconds)
    check_output_file(dst, [src], what=src.name)

    protect_skin = look.default_protect_skin() if protect_skin is None else protect_skin
    check_controls(protect_skin, apply_to)
    if protect_skin or apply_to != "whole":
        smoother = smoother or MaskSmoother()
    else:
        smoother = None

    def style(image: Image.Image, index: int) -> Image.Image:  # Look.apply on a frame of our own: where it is
        masks = smoother.masks(image, index) if smoother else None  # masks first: the frame is then styled in place
        return look.apply(image, strength, finish, seed=index, in_place=True,  # grain seeded by the frame index
                          protect_skin=protect_skin, apply_to=apply_to, masks=masks)

    write_atomically(dst, lambda temporary: _render(src, temporary, scan, style, progress, cancel))
    return scan.info


_END = object()


def _render(src: Path, dst: Path, scan: _Scan, style, progress, cancel: threading.Event | None) -> None:
    """Decode (a thread) → style (a pool) → encode and mux (this thread), a few frames in flight."""
    name, info = src.name, scan.info
    width, height = info.output_size
    matrix = _MATRICES.get(scan.colour["colorspace"])

    def render(frame: av.VideoFrame, pts: int, index: int) -> av.VideoFrame:  # in a pool thread
        rgb = _upright(_to_rgb(frame, *scan.coded), info.rotation)[:height, :width]  # (H, W, 3) as shown, even sides
        styled = style(Image.fromarray(rgb), index)
        out = av.VideoFrame.from_ndarray(np.asarray(styled), format="rgb24")
        out = out.reformat(
            format="yuv420p", src_color_range="JPEG", dst_colorspace=matrix, dst_color_range="MPEG", interpolation=_TO_YUV, threads=1
        )
        out.pts = pts
        return out

    stop = threading.Event()
    items: queue.Queue = queue.Queue(maxsize=FRAMES_IN_FLIGHT)
    failure: list[BaseException] = []
    with _open(src) as source, av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as target:
        vin = _video_stream(source, name)
        vin.thread_type = "AUTO"  # FFmpeg's frame and slice threads for decoding
        ain = _audio_stream(source)
        vout = target.add_stream("libx264", rate=info.fps, options=dict(X264_OPTIONS))
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.time_base = 1 / info.fps
        for tag in ("colorspace", "color_primaries", "color_trc"):
            if scan.colour[tag] not in (None, 2):  # 2: unspecified
                setattr(vout.codec_context, tag, scan.colour[tag])
        vout.codec_context.color_range = _TV_RANGE
        audio = _AudioTrack(ain, target, scan.start) if ain is not None else None
        pool = ThreadPoolExecutor(_workers(), thread_name_prefix="influgan-style")
        reader = threading.Thread(
            target=_read, args=(source, vin, ain, scan.start, info.fps, pool, render, items, stop, failure), daemon=True
        )
        reader.start()
        done = 0
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise VideoCancelled("video render cancelled")
                item = items.get()
                if item is _END:
                    break
                if isinstance(item, Future):
                    target.mux(vout.encode(item.result()))
                    done += 1
                    if progress is not None:
                        progress(done, info.frames)
                else:
                    audio.mux(item)
            if failure:
                raise failure[0]
            if done == 0:
                raise VideoError(f"{name}: the video data is damaged (no frame could be decoded)")
            target.mux(vout.encode(None))
            if audio is not None:
                audio.flush()
        except (av.FFmpegError, OSError) as error:
            raise VideoError(f"{name}: the video could not be rendered ({_reason(error)})") from error
        finally:
            stop.set()
            while reader.is_alive():  # unblock the reader if it waits on a full queue
                try:
                    items.get(timeout=0.05)
                except queue.Empty:
                    pass
            pool.shutdown(wait=True, cancel_futures=True)


def _read(source, vin, ain, start, fps, pool, render, items: queue.Queue, stop: threading.Event, failure: list) -> None:
    """Decoder thread: demux, decode video frames and hand them to the pool; audio packets pass through in order."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    index, last_pts = 0, -1

    def submit(frame: av.VideoFrame) -> bool:
        nonlocal index, last_pts
        # output time base 1/fps: the frame's slot on the clip's own grid, counted from the first frame
        pts = round((frame.time - start) * fps) if frame.time is not None else last_pts + 1
        last_pts = max(pts, last_pts + 1)
        index += 1
        return put(pool.submit(render, frame, last_pts, index - 1))

    try:
        for packet in source.demux([vin] + ([ain] if ain is not None else [])):  # ends with an empty packet a stream
            if stop.is_set():
                return
            if packet.stream is not vin:
                if packet.size and not put(packet):
                    return
                continue
            for frame in vin.decode(packet):  # the empty packet at the end flushes the decoder
                if not submit(frame):
                    return
    except (av.FFmpegError, OSError, ValueError) as error:
        failure.append(VideoError(f"{Path(source.name).name}: the video data is damaged after {index} frames ({_reason(error)})"))
    except BaseException as error:  # noqa: BLE001 - reported to the main thread
        failure.append(error)
    finally:
        put(_END)


class _AudioTrack:
    """The audio stream in the output: packets copied as they are, or re-encoded to AAC when browsers can't play
    the codec in an MP4. Timestamps shift with the video so that sound and picture stay in sync."""

    def __init__(self, ain, target, start: float) -> None:
        self.ain, self.target = ain, target
        self.shift = round(start / ain.time_base) if ain.time_base else 0
        self.copy = ain.codec_context.name in BROWSER_AUDIO
        if self.copy:
            self.out = target.add_stream_from_template(ain)
        else:
            rate = ain.codec_context.sample_rate or 48000
            self.out = target.add_stream("aac", rate=rate if rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000) else 48000)
            self.out.codec_context.layout = "mono" if ain.codec_context.channels == 1 else "stereo"  # more: down-mixed
            self.out.codec_context.format = "fltp"
            self.out.codec_context.bit_rate = AAC_BIT_RATE
            self.start = start

    def mux(self, packet: av.Packet) -> None:
        if self.copy:
            if packet.pts is not None:
                packet.pts -= self.shift
            if packet.dts is not None:
                packet.dts -= self.shift
            packet.stream = self.out
            self.target.mux(packet)
            return
        for frame in self.ain.codec_context.decode(packet):
            self._encode(frame)

    def _encode(self, frame: av.AudioFrame | None) -> None:
        if frame is not None:
            if frame.time is None or frame.time < self.start:
                return  # sound before the first picture (rare): dropped, as the output starts at the picture
            frame.pts = round((frame.time - self.start) * frame.sample_rate)
            frame.time_base = Fraction(1, frame.sample_rate)
        for packet in self.out.encode(frame):
            self.target.mux(packet)

    def flush(self) -> None:
        if not self.copy:
            for frame in self.ain.codec_context.decode(None):
                self._encode(frame)
            self._encode(None)
