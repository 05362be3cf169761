"""Speed on this machine: the instant look (prior alone), fine-tune with default settings, and full-resolution
apply of a 12 MP photo.

    python bench/speed.py [--threads 2] [--repeats 5] [--apply-only]

Uses photos from ../shared/data/photos when present (synthetic photos otherwise). Prints a table.
"""
from __future__ import annotations

import argparse
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
from influgan.lut import apply_lut_image, identity_lut, pillow_lut  # noqa: E402

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


def timed_side_by_side(first, second, repeats: int) -> tuple[list[float], list[float]]:
    """Times of two functions run in turns, so that a busy machine slows both alike."""
    times = ([], [])
    for _ in range(repeats):
        for function, out in zip((first, second), times):
            started = time.perf_counter()
            function()
            out.append(time.perf_counter() - started)
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    look = Look(lut=(identity_lut() ** torch.tensor([0.8, 1.0, 1.2])).clamp(0, 1))
    photo_12mp = photo_sources(1)[0].resize((4000, 3000), Image.Resampling.BICUBIC)
    single = pillow_lut(look.lut)

    print(f"{'seconds on ' + str(args.threads) + ' threads':52s} {'min':>8s} {'median':>8s} {'max':>8s}   target")
    row("apply 12 MP: Pillow Color3DLUT alone (1 thread)", timed(lambda: photo_12mp.filter(single), args.repeats))
    row("apply 12 MP: apply_lut_image (strips in parallel)", timed(lambda: apply_lut_image(photo_12mp, look.lut), args.repeats))
    row("apply 12 MP: Look.apply, strength 0.8", timed(lambda: look.apply(photo_12mp, 0.8), args.repeats), "<= 0.5")
    # finishing: the same apply without and with grain and vignette, in turns; the ratio's min column is min/min
    finish = Finish(grain_amount=4.0, grain_size=0.0015, grain_luma=0.5, vignette_amount=0.3, vignette_radius=0.6)
    lut_only, finished = timed_side_by_side(
        lambda: look.apply(photo_12mp, 1.0, finish=Finish()), lambda: look.apply(photo_12mp, 1.0, finish=finish), 2 * args.repeats
    )
    row("apply 12 MP: Look.apply, LUT only", lut_only)
    row("apply 12 MP: Look.apply, LUT + grain + vignette", finished)
    ratio_row("apply 12 MP: LUT + grain + vignette / LUT only", finished, lut_only, "<= 1.5×")
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


if __name__ == "__main__":
    main()
