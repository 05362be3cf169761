"""Speed on this machine: the instant look (prior alone), fine-tune with default settings, full-resolution apply
of a 12 MP photo, and the whole ``python -m influgan stylize`` process against ffmpeg's lut3d (imageio-ffmpeg), for
a photo and for a 10 s 1080p30 clip.

    python bench/speed.py [--threads 2] [--repeats 5] [--apply-only] [--stylize-only] [--video-only]

Uses photos from ../shared/data/photos when present (synthetic photos otherwise). Prints a table.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from influgan import Finish, FinetuneSettings, Look, finetune, instant_look  # noqa: E402
from influgan.looks.lut import apply_lut_colours, apply_lut_image, identity_lut, pillow_lut  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "photos"


def photo_sources(count: int) -> list[Image.Image]:
    paths = sorted(PHOTOS.rglob("*.png"))[:count] if PHOTOS.exists() else []
    if len(paths) >= count:
        return [Image.open(p).convert("RGB") for p in paths]
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        out.append(Image.fromarray(small).resize((768, 512), Image.Resampling.BICUBIC))
    return out


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def timed_side_by_side(first, second, repeats: int, cpu: tuple[list, list] | None = None) -> tuple[list[float], list[float]]:
    """Wall times of two functions run in turns, so that a busy machine slows both alike; with ``cpu``, their
    process CPU seconds (all threads) go there too (steadier than wall time when other work shares the CPUs)."""
    times = ([], [])
    for _ in range(repeats):
        for index, (function, out) in enumerate(zip((first, second), times)):
            started, processor = time.perf_counter(), time.process_time()
            function()
            out.append(time.perf_counter() - started)
            if cpu is not None:
                cpu[index].append(time.process_time() - processor)
    return times


def row(name: str, times: list[float], target: str = "") -> None:
    print(f"{name:52s} {min(times):8.3f} {statistics.median(times):8.3f} {max(times):8.3f}   {target}", flush=True)


def ratio_row(name: str, times: list[float], reference: list[float], target: str = "") -> None:
    ratios = [t / r for t, r in zip(times, reference)]
    low, middle, high = min(times) / min(reference), statistics.median(ratios), max(ratios)
    print(f"{name:52s} {low:7.2f}× {middle:7.2f}× {high:7.2f}×   {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--apply-only", action="store_true", help="only the full-resolution apply rows")
    parser.add_argument("--stylize-only", action="store_true", help="only the stylize process against ffmpeg")
    parser.add_argument("--video-only", action="store_true", help="only the 10 s 1080p30 clip against ffmpeg")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.stylize_only:
        stylize_vs_ffmpeg(args.repeats)
        return
    if args.video_only:
        video_vs_ffmpeg(max(1, args.repeats // 2))
        return
    look = Look(lut=identity_lut() ** np.float32([0.8, 1.0, 1.2]))
    photo_12mp = photo_sources(1)[0].resize((4000, 3000), Image.Resampling.BICUBIC)
    single = pillow_lut(look.lut)

    print(f"{'seconds on ' + str(args.threads) + ' threads':52s} {'min':>8s} {'median':>8s} {'max':>8s}   target")
    row("apply 12 MP: Pillow Color3DLUT alone (1 thread)", timed(lambda: photo_12mp.filter(single), args.repeats))
    row("apply 12 MP: apply_lut_image (strips in parallel)", timed(lambda: apply_lut_image(photo_12mp, look.lut), args.repeats))
    row("apply 12 MP: Look.apply, strength 0.8", timed(lambda: look.apply(photo_12mp, 0.8), args.repeats), "<= 0.5")
    # finishing: the same apply without and with grain and vignette, in turns; the ratio's min column is min/min
    finish = Finish(grain_amount=4.0, grain_size=0.0015, grain_luma=0.5, vignette_amount=0.3, vignette_radius=0.6)
    cpu = ([], [])
    lut_only, finished = timed_side_by_side(
        lambda: look.apply(photo_12mp, 1.0, finish=Finish()), lambda: look.apply(photo_12mp, 1.0, finish=finish), 2 * args.repeats, cpu
    )
    row("apply 12 MP: Look.apply, LUT only", lut_only)
    row("apply 12 MP: Look.apply, LUT + grain + vignette", finished)
    ratio_row("apply 12 MP: LUT + grain + vignette / LUT only", finished, lut_only, "<= 1.5×")
    ratio_row("  the same in CPU seconds (all threads)", cpu[1], cpu[0], f"load average {os.getloadavg()[0]:.1f}")
    if args.apply_only:
        return

    references = [look.apply(p) for p in photo_sources(12)]
    content = photo_sources(18)[12:]
    for count in (12, 50):  # the app keeps references at 1024 px
        feed = [p.resize((1024, 683), Image.Resampling.BICUBIC) for p in (references * 5)[:count]]
        row(f"instant look (prior alone), {count} refs at 1024 px", timed(lambda feed=feed: instant_look(feed), args.repeats), "< 1")
    row(
        "fine-tune, default settings, 12 refs (in memory)",
        timed(lambda: finetune(references, content, FinetuneSettings()), max(1, args.repeats // 2)),
        "<= 20",
    )
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "refs").mkdir()
        for index, reference in enumerate(references):
            reference.resize((4000, 2667), Image.Resampling.BICUBIC).save(folder / "refs" / f"{index}.jpg", quality=92)
        command = [sys.executable, "-m", "influgan", "finetune", "--refs", str(folder / "refs"), "--out", str(folder / "x.look")]
        row(
            "CLI finetune, 12 refs as 10.7 MP JPEGs (whole process)",
            timed(lambda: subprocess.run(command, check=True, capture_output=True, cwd=ROOT), max(1, args.repeats // 2)),
            "<= 20",
        )

    stylize_vs_ffmpeg(args.repeats)
    video_vs_ffmpeg(max(1, args.repeats // 2))


def twelve_megapixel_jpeg(path: Path) -> None:
    """A 4000×3000 JPEG as a phone writes it (quality 92, 4:2:0), from a real photo with sensor-like noise."""
    photo = photo_sources(1)[0].resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(0).normal(0.0, 2.0, (3000, 4000, 3))
    Image.fromarray(np.clip(np.asarray(photo) + noise, 0, 255).round().astype(np.uint8)).save(path, quality=92)


def run_timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def psnr(path: Path, reference: np.ndarray) -> float:
    """PSNR (dB) of an 8-bit result against the exact float result, on every 4th pixel each way."""
    result = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)[::4, ::4]
    return float(10 * np.log10(255.0**2 / np.mean((result - reference) ** 2)))


def stylize_vs_ffmpeg(repeats: int) -> None:
    """``python -m influgan stylize`` of one 12 MP JPEG to JPEG, whole process, against ``ffmpeg -vf lut3d`` with the
    look exported as .cube on the same file, run in turns (a busy machine slows both alike). Target: ≤ 1.5×.

    JPEG quality: InfluGAN writes quality 95, 4:4:4; ffmpeg's mjpeg at its best (-qmin 1 -q:v 1) writes a file of
    about the same size; the PSNR columns say how close each is to the exact colour result.
    """
    import imageio_ffmpeg

    look = ROOT / "weights" / "looks" / "golden_hour.look"
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        photo, cube = folder / "photo.jpg", folder / "look.cube"
        twelve_megapixel_jpeg(photo)
        subprocess.run([sys.executable, "-m", "influgan", "export-cube", "--look", str(look), "--out", str(cube)], check=True, capture_output=True, cwd=ROOT)
        commands = {
            "ffmpeg -vf lut3d=<exported .cube> (-qmin 1 -q:v 1)": lambda i: [
                imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(photo), "-vf", f"lut3d=file={cube}",
                "-qmin", "1", "-q:v", "1", str(folder / f"ffmpeg{i}.jpg")],
            "python -m influgan stylize --look x.look": lambda i: [
                sys.executable, "-m", "influgan", "stylize", "--look", str(look), "--out", str(folder / f"look{i}"), str(photo)],
            "python -m influgan stylize --look x.cube": lambda i: [
                sys.executable, "-m", "influgan", "stylize", "--look", str(cube), "--out", str(folder / f"cube{i}"), str(photo)],
        }
        wall = {name: [] for name in commands}
        cpu = {name: [] for name in commands}
        for i in range(repeats):
            for name, command in commands.items():
                seconds, processor = run_timed(command(i))
                wall[name].append(seconds)
                cpu[name].append(processor)
        source = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float64)[::4, ::4] / 255.0
        exact = np.clip(apply_lut_colours(source, Look.load(cube).lut), 0.0, 1.0) * 255.0
        outputs = {name: folder / name_ for name, name_ in zip(commands, ("ffmpeg0.jpg", "look0/photo.jpg", "cube0/photo.jpg"))}
        print(f"\n12 MP JPEG → JPEG, whole process, {repeats} turns; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"{'seconds':52s} {'min':>8s} {'median':>8s} {'max':>8s} {'CPU med':>8s}  {'MB':>5s} {'PSNR':>6s}")
        for name in commands:
            quality = f"{psnr(outputs[name], exact):6.1f}" if "x.look" not in name else "     -"  # x.look adds a vignette
            print(f"{name:52s} {min(wall[name]):8.3f} {statistics.median(wall[name]):8.3f} {max(wall[name]):8.3f} "
                  f"{statistics.median(cpu[name]):8.3f}  {outputs[name].stat().st_size / 1e6:5.2f} {quality}", flush=True)
        reference = "ffmpeg -vf lut3d=<exported .cube> (-qmin 1 -q:v 1)"
        for name in list(commands)[1:]:
            ratio_wall = statistics.median(w / r for w, r in zip(wall[name], wall[reference]))
            ratio_cpu = statistics.median(c / r for c, r in zip(cpu[name], cpu[reference]))
            print(f"{name + ' / ffmpeg':52s} wall {ratio_wall:5.2f}×  CPU {ratio_cpu:5.2f}×   target <= 1.5×")


# --- video ----------------------------------------------------------------------------------------------------
CLIP_SECONDS, CLIP_FPS, CLIP_SIZE = 10, 30, (1920, 1080)


def make_clip(path: Path, seed: int = 0) -> None:
    """A seeded 10 s 1080p30 H.264 clip with AAC sound: a slow pan across a photo, with fresh sensor noise each frame."""
    import av

    rng = np.random.default_rng(seed)
    width, height = CLIP_SIZE
    scene = np.asarray(photo_sources(1)[0].resize((width + 600, height + 300), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = [rng.normal(0, 3, (height, width, 3)).astype(np.int16) for _ in range(7)]
    frames = CLIP_SECONDS * CLIP_FPS
    with av.open(str(path), "w") as clip:
        video = clip.add_stream("libx264", rate=CLIP_FPS, options={"preset": "veryfast", "crf": "16"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = clip.add_stream("aac", rate=48000)
        for index in range(frames):
            x, y = round(600 * index / frames), round(300 * index / frames)
            pixels = np.clip(scene[y : y + height, x : x + width] + noise[index % len(noise)], 0, 255).astype(np.uint8)
            clip.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        clip.mux(video.encode(None))
        tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(48000 * CLIP_SECONDS) / 48000)).astype(np.float32)
        for start in range(0, len(tone), 1024):
            chunk = av.AudioFrame.from_ndarray(np.stack([tone[start : start + 1024]] * 2), format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts = 48000, start
            clip.mux(audio.encode(chunk))
        clip.mux(audio.encode(None))


def frame_differences(first: Path, second: Path, every: int = 30) -> tuple[float, np.ndarray]:
    """Mean |second - first| and mean (second - first) per RGB channel, in 8-bit levels, over every ``every``-th
    frame (decoded with swscale's rounding path, as InfluGAN decodes)."""
    import av
    from av.video.reformatter import Interpolation

    exact = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    absolute, signed = [], []
    with av.open(str(first)) as a, av.open(str(second)) as b:
        for index, (fa, fb) in enumerate(zip(a.decode(video=0), b.decode(video=0))):
            if index % every == 0:
                delta = fb.to_ndarray(format="gbrp", interpolation=exact).astype(np.int16) - fa.to_ndarray(format="gbrp", interpolation=exact)
                absolute.append(np.abs(delta).mean())
                signed.append(delta.mean(axis=(0, 1)))
    return float(np.mean(absolute)), np.mean(signed, axis=0)


def video_vs_ffmpeg(repeats: int) -> None:
    """``python -m influgan stylize`` of a 10 s 1080p30 clip with sound, whole process, against ``ffmpeg -vf lut3d``
    with the look exported as .cube: same clip, same x264 settings (preset, CRF), sound copied by both, +faststart;
    run in turns. The look is golden_hour's colour alone (a .cube carries no grain); a last row adds grain and a
    vignette, which ffmpeg has no twin for. Target: InfluGAN ≤ 1.5× ffmpeg's time.
    """
    import imageio_ffmpeg

    from influgan.media.video import X264_OPTIONS

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    colour = Look(lut=Look.load(ROOT / "weights" / "looks" / "golden_hour.look").lut, name="golden hour colour")
    grainy = Look(lut=colour.lut, finish=Finish(grain_amount=4.0, grain_size=0.0015, grain_luma=0.5, vignette_amount=0.3, vignette_radius=0.6))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip, cube = folder / "clip.mp4", folder / "look.cube"
        make_clip(clip)
        colour.save(folder / "colour.look")
        grainy.save(folder / "grainy.look")
        colour.to_cube(cube)
        encoder = ["-c:v", "libx264", "-preset", X264_OPTIONS["preset"], "-crf", X264_OPTIONS["crf"], "-pix_fmt", "yuv420p",
                   "-c:a", "copy", "-movflags", "+faststart"]

        def influgan(look: str, out: str) -> list[str]:
            return [sys.executable, "-m", "influgan", "stylize", "--look", str(folder / look), "--out", str(folder / out), str(clip)]

        commands = {
            "ffmpeg: decode + re-encode only (no look)": [ffmpeg, "-v", "error", "-y", "-i", str(clip), *encoder, str(folder / "copy.mp4")],
            "ffmpeg -vf lut3d=<exported .cube>": [ffmpeg, "-v", "error", "-y", "-i", str(clip), "-vf", f"lut3d=file={cube}", *encoder, str(folder / "ffmpeg.mp4")],
            "python -m influgan stylize --look x.look clip.mp4": influgan("colour.look", "colour"),
            "  the same with grain and a vignette": influgan("grainy.look", "grainy"),
        }
        wall = {name: [] for name in commands}
        cpu = {name: [] for name in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                seconds, processor = run_timed(command)
                wall[name].append(seconds)
                cpu[name].append(processor)
        print(f"\n10 s 1080p30 clip with AAC sound → MP4, x264 {X264_OPTIONS}, whole process, {repeats} turns; "
              f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"{'seconds':52s} {'min':>8s} {'median':>8s} {'max':>8s} {'CPU med':>8s}")
        for name in commands:
            print(f"{name:52s} {min(wall[name]):8.2f} {statistics.median(wall[name]):8.2f} {max(wall[name]):8.2f} "
                  f"{statistics.median(cpu[name]):8.2f}", flush=True)
        reference, ours = "ffmpeg -vf lut3d=<exported .cube>", "python -m influgan stylize --look x.look clip.mp4"
        ratio_wall = statistics.median(w / r for w, r in zip(wall[ours], wall[reference]))
        ratio_cpu = statistics.median(c / r for c, r in zip(cpu[ours], cpu[reference]))
        print(f"{'InfluGAN / ffmpeg lut3d':52s} wall {ratio_wall:5.2f}×  CPU {ratio_cpu:5.2f}×   target <= 1.5×")
        difference, bias = frame_differences(folder / "ffmpeg.mp4", folder / "colour" / "clip.mp4")
        print(f"InfluGAN's frames against ffmpeg's: mean |difference| {difference:.2f} / 255 (ffmpeg interpolates "
              f"tetrahedrally, InfluGAN trilinearly), mean difference (R G B) {' '.join(f'{v:+.2f}' for v in bias)}")


if __name__ == "__main__":
    main()
