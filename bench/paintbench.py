"""The painterly benchmark: is a feed's brushwork learned, and is a photo feed left a photo? (needs ../shared)

A feed is a filter F (and sometimes a colour look before it). For each feed the photos of
../shared/data/photos/wikimedia sorted by path are permuted by the feed's own seed (as bench/feedbench.py does);
the first 12 are references, the next 6 inputs. Every photo is resized to a longer side of 1024 px (Lanczos); a
reference is F(photo) saved as a JPEG of quality 85, an input is the photo itself (PNG) and its truth F(input).

Feeds (``FEEDS``):
- photo feeds, the controls: plain, a film look, a film look with grain — no painterly stage may be learned;
- painterly feeds from implementations not written here: ImageMagick's ``-paint``, ``-charcoal``, ``-sketch``,
  ``-posterize``, ``-kuwahara`` (the real ``convert``, /usr/bin/convert: ``apt-get install imagemagick``);
- painterly feeds from our own renderers (``influgan.looks.painterly.STYLES``) at random parameters from the
  feed's seed, when that module exists.
``tuned`` in the table says whether the feed was used while choosing the fit's settings and thresholds; the
others are held out.

Each feed runs through the CLI, as a user would: ``python -m influgan finetune --refs R --content I --out L``, then
``python -m influgan stylize --look L --out O I``. Scores per feed (means over the 6 inputs, each against its truth):
- tex: texture distance: the sliced Wasserstein distance of 7×7 luma patches on 4 band-pass levels of a Laplacian
  pyramid (``texture_distance``), of the CLI's output (out), of the perfect colour-only answer (col: the best
  33³ LUT from input to truth, fitted on the inputs and truths themselves: what a colour-only look can reach at
  best) and of the input itself (id); ratio = out / col (target ≤ 0.5 on painterly feeds);
- ΔE: CIEDE2000 after a Gaussian blur of σ = 0.5 % of the shorter side (colour, not strokes);
- SSIM (luma) to the truth; on photo feeds the truth is colour only, so SSIM ≥ 0.95 means no stroke was added;
- stage: the painterly stage the look carries (its style, or "none"); the fine-tune's wall seconds and CPU seconds
  (user + system: less at the mercy of a shared machine), with the load average when it started.

    python bench/paintbench.py [--feeds a,b] [--out DIR] [--threads 2] [--cache DIR] [--cli-args '--steps 100']

``--fit-only stats|gan|both``: the ablation of the fit's judge through the Python API, without the CLI (see
``run_fit_only``); ``s`` is then the fit's own time.

Writes a contact sheet per feed to --out (default bench/out/paintbench): rows of references; then per input:
input, truth, colour-only, output.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageFilter
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedbench import sheet_of_rows  # noqa: E402  (bench/ is on the path when a bench runs)

SHARED = ROOT.parent / "shared" / "data"
REFERENCES, INPUTS, SIDE, QUALITY = 12, 6, 1024, 85
MAGICK = "/usr/bin/convert"  # the real ImageMagick; /usr/local/bin/convert may be a stand-in that only shows pictures
Filter = Callable[[Image.Image, np.random.Generator], Image.Image]


def feed_seed(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def photo_at_side(path: Path, side: int = SIDE) -> Image.Image:
    image = Image.open(path).convert("RGB")
    scale = side / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)


# --- filters -------------------------------------------------------------------------------------------------------

def magick(*arguments: str) -> Filter:
    """A filter by ImageMagick's convert: ``convert in.png ARGUMENTS out.png``."""

    def run(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        with tempfile.TemporaryDirectory() as folder:
            source, target = Path(folder) / "in.png", Path(folder) / "out.png"
            image.save(source)
            subprocess.run([MAGICK, str(source), *arguments, "-type", "TrueColor", str(target)], check=True, capture_output=True)
            return Image.open(target).convert("RGB")

    return run


def film(name: str, grain: float = 0.0) -> Filter:
    """A film look from ../shared/data/looks (and grain, L* RMS at mid-grey): a photo feed."""
    from influgan import Finish, Look, load_cube

    look = Look(load_cube(SHARED / "looks" / f"{name}.cube")[0], name=name)
    finish = Finish(grain_amount=grain, grain_size=0.002) if grain else None

    def run(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        return look.apply(image, finish=finish, seed=int(rng.integers(1 << 30)))

    return run


def then(first: Filter, second: Filter) -> Filter:
    return lambda image, rng: second(first(image, rng), rng)


def own_style(style: str) -> Filter:
    """Our renderer ``style`` at parameters drawn once per feed (the same for every photo of the feed)."""
    from influgan.looks.painterly import Brushwork, STYLES, render_brushwork

    drawn: dict = {}

    def run(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        if not drawn:
            drawn["brushwork"] = Brushwork.random(style, rng) if hasattr(Brushwork, "random") else random_brushwork(STYLES, Brushwork, style, rng)
        return Image.fromarray(render_brushwork(np.asarray(image), drawn["brushwork"]))

    return run


def random_brushwork(styles, brushwork_class, style: str, rng: np.random.Generator):
    """Parameters drawn uniformly from the middle 80 % of each documented range."""
    params = {}
    for name, spec in styles[style].params.items():
        low, high = spec.low, spec.high
        params[name] = float(low + (high - low) * rng.uniform(0.1, 0.9))
    return brushwork_class(style=style, params=params, order="after")


@dataclass
class Feed:
    name: str
    kind: str  # "photo" or "painterly"
    make: Callable[[], Filter]
    tuned: bool  # used while choosing the fit's settings and thresholds


FEEDS = [
    Feed("photo-plain", "photo", lambda: (lambda image, rng: image), True),
    Feed("photo-velvia", "photo", lambda: film("fuji_velvia_50"), True),
    Feed("photo-trix-grain", "photo", lambda: film("kodak_tri_x_400_2", grain=5.0), False),
    Feed("photo-portra-grain", "photo", lambda: film("kodak_portra_400_2", grain=3.0), False),
    Feed("im-paint", "painterly", lambda: magick("-paint", "4"), True),
    Feed("im-kuwahara-teal", "painterly", lambda: then(film("tealorange"), magick("-kuwahara", "5")), False),
    Feed("im-charcoal", "painterly", lambda: magick("-charcoal", "1.5"), False),
    Feed("im-sketch", "painterly", lambda: magick("-colorspace", "gray", "-sketch", "0x12+120"), False),
    Feed("im-posterize", "painterly", lambda: magick("-median", "5", "-posterize", "5"), True),
]
OWN_STYLES = ("oil", "watercolour", "ink", "cartoon", "halftone")


def own_feeds() -> list[Feed]:
    try:
        from influgan.looks.painterly import STYLES  # noqa: F401
    except ImportError:
        return []
    return [Feed(f"own-{style}", "painterly", lambda style=style: own_style(style), True) for style in OWN_STYLES]


def make_feed(feed: Feed, photos: list[Path], folder: Path, cache: Path | None = None) -> tuple[list[Path], list[Path], list[np.ndarray]]:
    """Write the feed's references (JPEG q85) and inputs (PNG) into ``folder``; returns their paths and the truths.
    cache: a folder of feeds made before (``cache/<feed>/``: refs/, inputs/, truth*.png), made there when missing."""
    if cache is not None:
        stored = cache / feed.name
        if not (stored / "done").exists():
            shutil.rmtree(stored, ignore_errors=True)
            _, _, truths = make_feed(feed, photos, stored)
            for i, truth in enumerate(truths):
                Image.fromarray(truth).save(stored / f"truth{i}.png")
            (stored / "done").touch()
        refs = sorted((stored / "refs").glob("*.jpg"))
        inputs = sorted((stored / "inputs").glob("*.png"))
        return refs, inputs, [np.asarray(Image.open(stored / f"truth{i}.png").convert("RGB")) for i in range(len(inputs))]
    order = np.random.default_rng(feed_seed(feed.name)).permutation(len(photos))
    rng = np.random.default_rng(feed_seed(feed.name) + 1)
    apply = feed.make()
    (folder / "refs").mkdir(parents=True)
    (folder / "inputs").mkdir()
    refs, inputs, truths = [], [], []
    for index, i in enumerate(order[: REFERENCES + INPUTS]):
        photo = photo_at_side(photos[i])
        styled = apply(photo, rng)
        if index < REFERENCES:
            refs.append(folder / "refs" / f"ref{index:02d}.jpg")
            styled.save(refs[-1], quality=QUALITY)
        else:
            inputs.append(folder / "inputs" / f"in{index - REFERENCES:02d}.png")
            photo.save(inputs[-1])
            truths.append(np.asarray(styled))
    return refs, inputs, truths


# --- scores --------------------------------------------------------------------------------------------------------

def luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (H, W) float luma 0..1 (Rec. 709 weights on the sRGB values)."""
    return rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722]) / 255.0


def band_pass_levels(y: np.ndarray, levels: int = 4) -> list[np.ndarray]:
    """A Laplacian pyramid of luma (H, W): ``levels`` band-pass images, finest first (Gaussian σ = 1, halving)."""
    from scipy.ndimage import gaussian_filter

    out, current = [], y
    for _ in range(levels):
        blurred = gaussian_filter(current, 1.0, mode="reflect")
        out.append(current - blurred)
        current = blurred[::2, ::2]
    return out


def patches(band: np.ndarray, count: int, rng: np.random.Generator, size: int = 7) -> np.ndarray:
    """``count`` random size×size patches of ``band``: (count, size²)."""
    ys = rng.integers(0, band.shape[0] - size + 1, count)
    xs = rng.integers(0, band.shape[1] - size + 1, count)
    offsets = np.arange(size)
    return band[(ys[:, None] + offsets)[:, :, None], (xs[:, None] + offsets)[:, None, :]].reshape(count, -1)


def texture_distance(a: np.ndarray, b: np.ndarray, count: int = 8192, projections: int = 64, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between the 7×7 luma patches of two images (H, W, 3) uint8 on 4 band-pass
    levels, summed over the levels, ×100. The distributions are compared (a stroke need not land where the truth's
    did); both are sampled at the same positions, so an image's distance to itself is 0."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(49, projections))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    total = 0.0
    for band_a, band_b in zip(band_pass_levels(luma(a)), band_pass_levels(luma(b))):
        state = rng.bit_generator.state  # the same positions in both: sampling noise is shared, not added
        pa = np.sort(patches(band_a, count, rng) @ directions, axis=0)
        rng.bit_generator.state = state
        pb = np.sort(patches(band_b, count, rng) @ directions, axis=0)
        total += float(np.abs(pa - pb).mean())
    return total * 100.0


def blurred_delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 after a Gaussian blur of σ = 0.5 % of the shorter side: the colour, not the strokes."""
    radius = 0.005 * min(a.shape[:2])
    blur = lambda x: np.asarray(Image.fromarray(x).filter(ImageFilter.GaussianBlur(radius)), dtype=np.float64) / 255.0
    return float(deltaE_ciede2000(rgb2lab(blur(a)), rgb2lab(blur(b))).mean())


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(luma(a), luma(b), data_range=1.0))


def colour_only_answer(inputs: list[np.ndarray], truths: list[np.ndarray], size: int = 33) -> list[np.ndarray]:
    """The perfect colour-only answer: one size³ LUT fitted from the inputs to their truths (each cell: the mean
    truth colour of the input pixels in it; empty cells: the cell's own colour, i.e. identity), applied with
    trilinear interpolation. Nothing with colour alone comes closer to the truth on these very photos."""
    import torch

    from influgan.looks.lut import identity_lut
    from influgan.learning.lut_torch import apply_lut

    source = np.concatenate([x.reshape(-1, 3) for x in inputs]).astype(np.float64) / 255.0
    target = np.concatenate([t.reshape(-1, 3) for t in truths]).astype(np.float64) / 255.0
    cells = np.clip(np.round(source * (size - 1)).astype(int), 0, size - 1)
    index = (cells[:, 2] * size + cells[:, 1]) * size + cells[:, 0]  # LUTs are indexed [b, g, r]
    sums = np.zeros((size ** 3, 3))
    np.add.at(sums, index, target)
    counts = np.bincount(index, minlength=size ** 3)[:, None]
    grid = identity_lut(size, dtype=np.float64).reshape(-1, 3)
    lut = np.where(counts > 0, sums / np.maximum(counts, 1), grid).reshape(size, size, size, 3)
    lut_t = torch.from_numpy(lut).float()
    out = []
    for x in inputs:
        tensor = torch.from_numpy(np.array(x)).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        out.append(np.round(apply_lut(tensor, lut_t)[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8))
    return out


# --- the run -------------------------------------------------------------------------------------------------------

def cli(*arguments: str, threads: int) -> tuple[float, float]:
    """Run ``python -m influgan ARGUMENTS``; returns its wall time and its CPU time (user + system) in seconds, the
    latter less at the mercy of a shared machine's load (exits on failure)."""
    import resource

    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "influgan", *arguments], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"influgan {arguments[0]} failed: {done.stderr.strip()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - started, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stage_of(look_path: Path) -> str:
    from influgan import Look

    brushwork = getattr(Look.load(look_path), "brushwork", None)
    return "none" if brushwork is None else brushwork.style


def contact_sheet(refs: list[Path], inputs: list[np.ndarray], truths, colour_only, outputs, path: Path, height: int = 160) -> None:
    """Row 1: six references; rows 2–4: input, truth, colour-only answer, CLI output for three inputs."""
    rows = [[Image.open(r).convert("RGB") for r in refs[:6]]] + [[inputs[i], truths[i], colour_only[i], outputs[i]] for i in range(3)]
    sheet_of_rows(rows, path, height, Image.Resampling.LANCZOS)


def score(row: dict, outputs, colour_only, inputs, truths) -> dict:
    """``row`` with texture distance, blurred ΔE2000 and SSIM to the truths of the output, the colour-only answer and
    the input unchanged (``tex_out``, ``de_col``, ``ssim_id``, …)."""
    for key, images in (("out", outputs), ("col", colour_only), ("id", inputs)):
        row[f"tex_{key}"] = float(np.mean([texture_distance(x, t) for x, t in zip(images, truths)]))
        row[f"de_{key}"] = float(np.mean([blurred_delta_e(x, t) for x, t in zip(images, truths)]))
        row[f"ssim_{key}"] = float(np.mean([ssim(x, t) for x, t in zip(images, truths)]))
    return row


def run_feed(feed: Feed, photos: list[Path], out: Path, threads: int, extra: list[str], cache: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        refs, input_paths, truths = make_feed(feed, photos, work, cache)
        look = work / "feed.look"
        load = os.getloadavg()[0]
        seconds, cpu = cli("finetune", "--refs", *map(str, refs), "--content", *map(str, input_paths), "--out", str(look), *extra, threads=threads)
        cli("stylize", "--look", str(look), "--out", str(work / "out"), *map(str, input_paths), threads=threads)
        inputs = [np.asarray(Image.open(p).convert("RGB")) for p in input_paths]
        outputs = [np.asarray(Image.open(work / "out" / p.name).convert("RGB")) for p in input_paths]
        colour_only = colour_only_answer(inputs, truths)
        row = {"feed": feed.name, "kind": feed.kind, "tuned": feed.tuned, "stage": stage_of(look), "seconds": seconds, "cpu": cpu, "load": load}
        score(row, outputs, colour_only, inputs, truths)
        contact_sheet(refs, inputs, truths, colour_only, outputs, out / f"{feed.name}.png")
    return row


def run_fit_only(feed: Feed, photos: list[Path], out: Path, loss: str, cache: Path | None) -> dict:
    """The ablation of the fit's judge, without the CLI's colour: ``fit_brushwork`` (Python API, settings as the
    fine-tune's but ``loss``) on the references and inputs; the output is the inputs through the fitted stage, then
    through the perfect colour-only answer fitted from those renders to the truths (so only the stage differs)."""
    from influgan.learning.painterly_fit import BRUSHWORK_READ, BrushworkFitSettings, fit_brushwork_report
    from influgan.looks.painterly import render_brushwork

    with tempfile.TemporaryDirectory() as work:
        refs, input_paths, truths = make_feed(feed, photos, Path(work), cache)
        read = lambda p: photo_at_side(p, BRUSHWORK_READ) if max(Image.open(p).size) > BRUSHWORK_READ else Image.open(p).convert("RGB")
        started, cpu = time.perf_counter(), time.process_time()
        load = os.getloadavg()[0]
        report = fit_brushwork_report([read(p) for p in refs], [read(p) for p in input_paths], BrushworkFitSettings(loss=loss))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        inputs = [np.asarray(Image.open(p).convert("RGB")) for p in input_paths]
        staged = [render_brushwork(x, report.brushwork) for x in inputs] if report.brushwork else inputs
        outputs = colour_only_answer(staged, truths)
        colour_only = colour_only_answer(inputs, truths)
        row = {"feed": feed.name, "kind": feed.kind, "tuned": feed.tuned, "stage": report.brushwork.style if report.brushwork else "none",
               "seconds": seconds, "cpu": cpu, "load": load}
        score(row, outputs, colour_only, inputs, truths)
        contact_sheet(refs, inputs, truths, colour_only, outputs, out / f"{feed.name}-fit-{loss}.png")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", help="comma-separated feed names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "paintbench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", help="keep the made feeds in this folder and reuse them (making them takes minutes)")
    parser.add_argument("--fit-only", metavar="LOSS", help="the ablation: fit_brushwork with this loss (stats, gan, both) and the perfect colour, no CLI")
    parser.add_argument("--cli-args", default="", help="extra arguments for `influgan finetune`, e.g. '--steps 100'")
    args = parser.parse_args()
    if not Path(MAGICK).exists() or b"ImageMagick" not in subprocess.run([MAGICK, "-version"], capture_output=True).stdout:
        sys.exit(f"{MAGICK} is not ImageMagick: apt-get install imagemagick")
    photos = sorted((SHARED / "photos" / "wikimedia").glob("*.jpg"))
    feeds = FEEDS + own_feeds()
    if args.feeds:
        wanted = args.feeds.split(",")
        feeds = [f for f in feeds if f.name in wanted]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = f"{'feed':20s} {'tuned':>5s} {'stage':>11s} {'tex out':>8s} {'tex col':>8s} {'tex id':>7s} {'ratio':>6s} {'ΔE out':>7s} {'ΔE col':>7s} {'SSIM out':>8s} {'SSIM col':>8s} {'SSIM id':>8s} {'s':>6s} {'cpu s':>6s} {'load':>5s}"
    print(header, flush=True)
    rows = []
    for feed in feeds:
        cache = Path(args.cache) if args.cache else None
        if args.fit_only:
            import torch

            torch.set_num_threads(args.threads)
            r = run_fit_only(feed, photos, out, args.fit_only, cache)
        else:
            r = run_feed(feed, photos, out, args.threads, args.cli_args.split(), cache)
        rows.append(r)
        print(f"{r['feed']:20s} {'yes' if r['tuned'] else 'no':>5s} {r['stage']:>11s} {r['tex_out']:8.2f} {r['tex_col']:8.2f} {r['tex_id']:7.2f} "
              f"{r['tex_out'] / max(r['tex_col'], 1e-9):6.2f} {r['de_out']:7.2f} {r['de_col']:7.2f} {r['ssim_out']:8.3f} {r['ssim_col']:8.3f} "
              f"{r['ssim_id']:8.3f} {r['seconds']:6.1f} {r['cpu']:6.1f} {r['load']:5.2f}", flush=True)
    painterly = [r for r in rows if r["kind"] == "painterly"]
    photo = [r for r in rows if r["kind"] == "photo"]
    if painterly:
        ratios = [r["tex_out"] / max(r["tex_col"], 1e-9) for r in painterly]
        held = [x for x, r in zip(ratios, painterly) if not r["tuned"]]
        print(f"painterly feeds: mean tex out / tex col = {np.mean(ratios):.2f} (target ≤ 0.5); held out: "
              f"{np.mean(held) if held else float('nan'):.2f}; a stage learned on {sum(r['stage'] != 'none' for r in painterly)}/{len(painterly)}")
    if photo:
        print(f"photo feeds: a stage learned on {sum(r['stage'] != 'none' for r in photo)}/{len(photo)} (target 0); "
              f"min SSIM to the colour-only truth {min(r['ssim_out'] for r in photo):.3f} (target ≥ 0.95)")
    print(f"contact sheets: {out}")


if __name__ == "__main__":
    main()
