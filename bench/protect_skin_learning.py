"""Can a feed teach protect-skin? (issue 32's "measure before you ship that"; measured, not shipped.)

    python bench/protect_skin_learning.py [--side 192] [--natural default|held]

Synthetic feeds: 14 portraits (../shared photos and examples/content), two folds of 9 feed / 5 held out; each of 10
film and creative looks from ../shared/data/looks applied at protect-skin s = 0, 0.5, 1 (masks of the originals),
saved as 1080 px JPEGs at quality 85, learned by the fine-tune (Python API, defaults). Estimate of s from the feed and
the learned look: skin found in the feed photo as posted or after undoing the learned look (fixed-point inversion of
its LUT), its chroma fitted (Gaussian likelihood, 11-step grid of s) to natural skin moved by (1 − s) of the learned
look's shift on natural skin ("default": the skin of examples/content; "held": the held-out portraits' skin).
Scored: skin ΔE2000 of the held-out portraits styled with the learned look at protect 0, at the estimate, and the
better of 0 and 1, against the true look at the true s. Dev looks (the first five) chose the rule; test looks report.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from influgan import Look, finetune, subject_masks  # noqa: E402
from influgan.looks.lut import apply_lut_colours  # noqa: E402
from influgan.masks.skin import chroma_coordinates, lab, skin_probability  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
PORTRAITS = [SHARED / "photos" / p for p in (
    "kodak/kodim04.png", "kodak/kodim15.png", "kodak/kodim18.png")] + [ROOT / "examples/content/astronaut.jpg",
    ROOT / "examples/content/grace_hopper.jpg"] + [SHARED / "photos" / p for p in (
    "bsd68/271035.jpg", "bsd68/189080.jpg", "bsd68/285079.jpg", "bsd68/229036.jpg", "wikimedia/044.jpg",
    "wikimedia/038.jpg", "wikimedia/032.jpg", "wikimedia/040.jpg", "wikimedia/029.jpg")]
DEV = ["tealorange", "moonlight", "lomography_redscale_100", "fallcolors", "anime"]
TEST = ["bleachbypass1", "latesunset", "kodak_portra_400_2", "polaroid_polachrome", "fuji_velvia_50"]
FOLDS = [list(range(0, 14, 3)), list(range(1, 14, 3))]


def lab_of(rgb: np.ndarray) -> np.ndarray:
    return lab(Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)[None]))[0]


def undo(graded: np.ndarray, lut: np.ndarray, steps: int = 16) -> np.ndarray:
    """(N, 3) 0..1 colours the look made → the colours it made them from (fixed-point inversion)."""
    natural = graded.copy()
    for _ in range(steps):
        natural = np.clip(natural + 0.8 * (graded - apply_lut_colours(natural, lut)), 0, 1)
    return natural


def skin_colours(photo: Image.Image) -> np.ndarray:
    masks = subject_masks(photo)
    small = photo.resize(masks.skin.shape[::-1])
    return np.asarray(small, np.float32).reshape(-1, 3)[masks.skin.ravel() > 0.5] / 255


def estimate(feed: list[Image.Image], look: Look, natural: np.ndarray, side: int) -> float:
    found = []
    for image in feed:
        work = image.copy()
        work.thumbnail((side, side))
        masks = subject_masks(work)
        if not masks.has_person:
            continue
        person = masks.person
        posted = np.asarray(work.resize(person.shape[::-1]), np.float32).reshape(-1, 3) / 255
        before = undo(posted, look.lut)
        skin = np.maximum(*(skin_probability(lab_of(c).reshape(*person.shape, 3), person).ravel() for c in (posted, before)))
        found.append(posted[skin > 0.5])
    chroma = chroma_coordinates(lab_of(np.concatenate(found)))
    nat = chroma_coordinates(lab_of(natural))
    shift = chroma_coordinates(lab_of(apply_lut_colours(natural, look.lut))).mean(0) - nat.mean(0)
    precision = np.linalg.inv(np.cov(nat.T) + np.eye(2) * 4)
    grid = np.linspace(0, 1, 11)
    fits = [-np.minimum(np.einsum("ni,ij,nj->n", d := chroma - (nat.mean(0) + (1 - s) * shift), precision, d), 16).mean()
            for s in grid]
    return float(grid[int(np.argmax(fits))])


def skin_delta_e(a: Image.Image, b: Image.Image, skin: np.ndarray) -> float:
    sel = skin > 0.5
    return float(deltaE_ciede2000(rgb2lab(np.asarray(a)[sel][None] / 255.0), rgb2lab(np.asarray(b)[sel][None] / 255.0)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=192)
    parser.add_argument("--natural", choices=["default", "held"], default="default")
    args = parser.parse_args()
    photos = []
    for path in PORTRAITS:
        photo = Image.open(path).convert("RGB")
        photo.thumbnail((1080, 1080))
        photos.append(photo)
    masks = [subject_masks(p) for p in photos]
    skins = [1 - np.asarray(m.full_size(p, 1.0, "whole").image(), np.float32) / 255 for m, p in zip(masks, photos)]
    default = np.concatenate([skin_colours(Image.open(ROOT / f"examples/content/{n}.jpg").convert("RGB"))
                              for n in ("astronaut", "grace_hopper")])
    rows = []
    for name in DEV + TEST:
        truth = Look.from_cube(SHARED / "looks" / f"{name}.cube")
        for s in (0.0, 0.5, 1.0):
            for fold, held in enumerate(FOLDS):
                feed = []
                for i in (i for i in range(len(photos)) if i not in held):
                    buffer = io.BytesIO()
                    truth.apply(photos[i], protect_skin=s, masks=masks[i]).save(buffer, "JPEG", quality=85)
                    feed.append(Image.open(buffer).convert("RGB"))
                learned = finetune(feed)
                natural = default if args.natural == "default" else np.concatenate([skin_colours(photos[i]) for i in held])
                guess = estimate(feed, learned, natural, args.side)
                errors = {p: float(np.mean([skin_delta_e(learned.apply(photos[i], protect_skin=p, masks=masks[i]),
                                                         truth.apply(photos[i], protect_skin=s, masks=masks[i]), skins[i])
                                            for i in held])) for p in {0.0, 1.0, guess}}
                rows.append(dict(look=name, s=s, fold=fold, estimate=guess, errors=errors))
                print(json.dumps(rows[-1]), flush=True)
    for part, names in (("dev", DEV), ("test", TEST)):
        part_rows = [r for r in rows if r["look"] in names]
        base = [r["errors"][0.0] for r in part_rows]
        guessed = [r["errors"][r["estimate"]] for r in part_rows]
        best = [min(r["errors"][0.0], r["errors"][1.0]) for r in part_rows]
        print(f"{part}: held-out skin ΔE2000, protect 0 {np.mean(base):.2f}, at the estimate {np.mean(guessed):.2f} "
              f"(worst increase {max(g - b for g, b in zip(guessed, base)):.2f}), the better of 0 and 1 {np.mean(best):.2f}")


if __name__ == "__main__":
    main()
