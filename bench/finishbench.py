"""The finishing benchmark: are a feed's grain and vignette learned, and does its colour stay right? (needs ../shared)

For each look L in ../shared/data/looks/*.cube: the photos under ../shared/data/photos sorted by path are permuted
as in bench/feedbench.py (numpy.random.default_rng(int(sha256(L.stem)[:8], 16))); the first 12 are references, the
next 6 test photos. Each look gets one cell of a grid, grain (none / fine / coarse) × vignette (none / mild /
strong), dealt to the 24 looks by numpy.random.default_rng(0) so that every cell has 2–3 looks, and the cell's
values are drawn from the look's own seed:

    grain   none: 0 | fine: amount 2.5–6 L*, size 0.0015–0.0025 | coarse: amount 2.5–6 L*, size 0.004–0.007
    vignette none: 0 | mild: amount 0.12–0.25 | strong: amount 0.35–0.6; radius 0.35–0.7 (grain_luma 0.5)

A reference is the photo resized to a longer side of 1080 px (Lanczos), styled by ``Look(L, finish).apply`` (reference
i with grain seed i) and saved as a JPEG of quality 80 (4:2:0), as a feed saved from a social app. The fine-tune
(``influgan.learning.finetune``, default settings unless --set) reads the reference files, with the test photos at 1080 px as
content, and its look is scored: learned against true finishing, and colour: the mean CIEDE2000 of the look's
colour alone (no finishing) against L on the test photos at 512 px (as bench/feedbench.py scores).

    python bench/finishbench.py [--looks a,b] [--set KEY=VALUE ...] [--out DIR] [--threads 2]

Prints a row per look and the targets; writes contact sheets to --out (default bench/out/finishbench): per look a
reference, a 100 % crop of it, a test photo with the learned look and a 100 % crop of that.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from influgan import Finish, FinetuneSettings, Look, finetune, load_cube  # noqa: E402
from influgan.learning.finish_estimate import GRAIN_VISIBLE  # noqa: E402
from influgan.images import find_images  # noqa: E402

from feedbench import REFERENCES, TESTS, apply_float, ciede2000, load_photo, look_seed, settings_overrides, to8  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
FEED_SIDE, FEED_QUALITY = 1080, 80
GRAIN_CELLS = {"none": None, "fine": (0.0015, 0.0025), "coarse": (0.004, 0.007)}  # grain_size ranges
GRAIN_AMOUNT = (2.5, 6.0)  # L* RMS at mid-grey, for fine and coarse grain
VIGNETTE_CELLS = {"none": None, "mild": (0.12, 0.25), "strong": (0.35, 0.6)}
VIGNETTE_RADIUS = (0.35, 0.7)
VIGNETTE_NONE = 0.03


def grid_cells(count: int) -> list[tuple[str, str]]:
    """The grid's cells dealt to ``count`` looks (in sorted order): every cell as evenly as the count allows."""
    cells = [(g, v) for g in GRAIN_CELLS for v in VIGNETTE_CELLS]
    dealt = (cells * (count // len(cells) + 1))[:count]
    order = np.random.default_rng(0).permutation(count)
    return [dealt[i] for i in order]


def true_finish(stem: str, cell: tuple[str, str]) -> Finish:
    """The finishing of a look's feed: its cell's values drawn from the look's seed."""
    rng = np.random.default_rng(look_seed(stem) + 1)
    grain, vignette = GRAIN_CELLS[cell[0]], VIGNETTE_CELLS[cell[1]]
    amount, size, strength, radius = (rng.uniform(*GRAIN_AMOUNT), rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(*VIGNETTE_RADIUS))
    return Finish(
        grain_amount=amount if grain else 0.0,
        grain_size=grain[0] + size * (grain[1] - grain[0]) if grain else Finish.grain_size,
        vignette_amount=vignette[0] + strength * (vignette[1] - vignette[0]) if vignette else 0.0,
        vignette_radius=radius if vignette else Finish.vignette_radius,
    )


def feed_photo(path: Path) -> Image.Image:
    """A photo at a longer side of FEED_SIDE px (Lanczos; smaller photos are enlarged), RGB."""
    image = Image.open(path).convert("RGB")
    scale = FEED_SIDE / max(image.size)
    return image.resize((max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))), Image.Resampling.LANCZOS)


def make_case(cube: Path, photos: list[Path], finish: Finish, folder: Path):
    """Write the feed's references as JPEGs into ``folder``; return their paths, the content photos (test photos at
    FEED_SIDE), the test inputs and truths at 512 px (as feedbench), and the true look."""
    lut = np.clip(load_cube(cube)[0], 0.0, 1.0)
    look = Look(lut=lut, finish=finish)
    order = np.random.default_rng(look_seed(cube.stem)).permutation(len(photos))
    paths = []
    for index in order[:REFERENCES]:
        path = folder / f"{len(paths):02d}.jpg"
        look.apply(feed_photo(photos[index]), seed=len(paths)).save(path, quality=FEED_QUALITY)
        paths.append(path)
    tests = [photos[i] for i in order[REFERENCES : REFERENCES + TESTS]]
    content = [feed_photo(p) for p in tests]
    inputs = [to8(load_photo(p)) for p in tests]
    truths = [apply_float(torch.from_numpy(lut), x / 255.0) for x in inputs]
    return paths, content, inputs, truths, look


def colour_error(look: Look, inputs, truths) -> float:
    colour_only = Look(lut=look.lut)
    return float(np.mean([ciede2000(np.asarray(colour_only.apply(Image.fromarray(x)), dtype=np.float64) / 255.0, t) for x, t in zip(inputs, truths)]))


def sheet_row(reference: Path, content: Image.Image, look: Look, label: str, height: int = 200) -> Image.Image:
    """A reference, a 100 % crop of its centre-left, the test photo with the learned look and a 100 % crop of it."""
    with Image.open(reference) as image:
        ref = image.convert("RGB")
    styled = look.apply(content, seed=99)
    tiles = []
    for image in (ref, styled):
        tiles.append(image.resize((round(image.width * height / image.height), height), Image.Resampling.LANCZOS))
        left, top = image.width // 3, image.height // 2 - height // 2
        tiles.append(image.crop((left, top, left + height, top + height)))
    row = Image.new("RGB", (sum(t.width + 4 for t in tiles) + 330, height + 4), "white")
    x = 0
    for tile in tiles:
        row.paste(tile, (x, 2))
        x += tile.width + 4
    ImageDraw.Draw(row).multiline_text((x + 6, 8), label, fill=(0, 0, 0), spacing=6)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--looks", default="", help="comma-separated look stems (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a FinetuneSettings field")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "finishbench"), help="contact sheet folder")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 when other work shares the CPUs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not SHARED.exists():
        sys.exit("finishbench needs ../shared/data beside the project")
    photos = sorted(find_images([SHARED / "photos"]))
    all_cubes = sorted((SHARED / "looks").glob("*.cube"))
    cells = dict(zip(all_cubes, grid_cells(len(all_cubes))))
    cubes = [c for c in all_cubes if not args.looks or c.stem in args.looks.split(",")]
    overrides = settings_overrides(args.set)
    settings = FinetuneSettings(**overrides)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(f"{'look':26s} {'grain':>6s} {'vign.':>6s} | {'amount':>12s} {'size':>15s} | {'vignette':>11s} {'radius':>11s} | {'ΔE':>5s} {'s':>5s}")
    print(f"{'':26s} {'':>6s} {'':>6s} | {'true→learned':>12s} {'true→learned':>15s} | {'true→learned':>11s} {'true→learned':>11s} |")
    rows, sheet = [], []
    for cube in cubes:
        cell = cells[cube]
        truth = true_finish(cube.stem, cell)
        with tempfile.TemporaryDirectory() as folder:
            paths, content, inputs, truths, _ = make_case(cube, photos, truth, Path(folder))
            began = time.perf_counter()
            look = finetune([str(p) for p in paths], content, settings)
            seconds = time.perf_counter() - began
            error = colour_error(look, inputs, truths)
            learned = look.finish
            label = (f"{cube.stem}\ngrain {cell[0]}, vignette {cell[1]}\n"
                     f"amount {truth.grain_amount:.2f} -> {learned.grain_amount:.2f}\n"
                     f"size {truth.grain_size:.4f} -> {learned.grain_size:.4f}\n"
                     f"vignette {truth.vignette_amount:.2f} -> {learned.vignette_amount:.2f}\n"
                     f"radius {truth.vignette_radius:.2f} -> {learned.vignette_radius:.2f}\ncolour dE {error:.2f}")
            sheet.append(sheet_row(paths[0], content[0], look, label))
        rows.append((cube.stem, cell, truth, learned, error, seconds, look))
        print(f"{cube.stem:26s} {cell[0]:>6s} {cell[1]:>6s} | {truth.grain_amount:5.2f}→{learned.grain_amount:5.2f} "
              f"{truth.grain_size:.4f}→{learned.grain_size:.4f} | {truth.vignette_amount:5.2f}→{learned.vignette_amount:5.2f} "
              f"{truth.vignette_radius:5.2f}→{learned.vignette_radius:5.2f} | {error:5.2f} {seconds:5.1f}", flush=True)
    width = max(r.width for r in sheet)
    canvas = Image.new("RGB", (width, sum(r.height for r in sheet)), "white")
    y = 0
    for r in sheet:
        canvas.paste(r, (0, y))
        y += r.height
    canvas.save(out / "contact_sheet.png")
    summary(rows)


def summary(rows) -> None:
    grainy = [(t, l) for _, _, t, l, _, _, _ in rows if t.grain_amount > 0]
    plain = [(t, l) for _, _, t, l, _, _, _ in rows if t.grain_amount == 0]
    vignetted = [(t, l) for _, _, t, l, _, _, _ in rows if t.vignette_amount != 0]
    unvignetted = [(t, l) for _, _, t, l, _, _, _ in rows if t.vignette_amount == 0]
    print("-" * 110)
    if grainy:
        ratios = np.array([l.grain_amount / t.grain_amount for t, l in grainy])
        sizes = np.array([abs(l.grain_size / t.grain_size - 1) for t, l in grainy])
        off = int(np.sum((ratios > 2) | (ratios < 0.5)))
        print(f"grain amount, feeds with grain: median |error| {np.median(np.abs(ratios - 1)) * 100:.0f} % (target ≤ 25 %), "
              f"off by 2× or more: {off} of {len(grainy)} (target 0)")
        print(f"grain size, feeds with grain: median |error| {np.median(sizes) * 100:.0f} % (target ≤ 30 %)")
    if plain:
        raw = [look.metadata.get("finish_reading", {}).get("grain_read", l.grain_amount) for _, _, t, l, _, _, look in rows if t.grain_amount == 0]
        print(f"grain learned on feeds without grain: max {max(l.grain_amount for _, l in plain):.2f} L* "
              f"(target < {GRAIN_VISIBLE:g}, visibility; read before that floor: max {max(raw):.2f})")
    if vignetted:
        errors = [abs(l.vignette_amount - t.vignette_amount) for t, l in vignetted]
        print(f"vignette amount, feeds with a vignette: median |error| {np.median(errors):.3f} (target ≤ 0.05), max {max(errors):.3f}")
    if unvignetted:
        print(f"vignette learned on feeds without one: max |amount| {max(abs(l.vignette_amount) for _, l in unvignetted):.3f} "
              f"(target ≤ {VIGNETTE_NONE})")
    errors, seconds = [r[4] for r in rows], [r[5] for r in rows]
    print(f"colour ΔE (CIEDE2000, colour alone): mean {np.mean(errors):.2f}, median {np.median(errors):.2f}; "
          f"fine-tune seconds: median {np.median(seconds):.1f}, max {max(seconds):.1f}")


if __name__ == "__main__":
    main()
