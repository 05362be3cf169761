"""Natural-photo colour statistics: a 3D colour histogram of many ordinary photos, shipped in ``weights/``.

A dozen references say little about which colours their un-styled scenes had; the fine-tune fits the look from
this large pool of ordinary colours (plus the user's own photos) instead of from a few photos alone. Only the
histogram is shipped, never a photo.

Build it (needs the photo collection): ``python -m influgan.learning.natural PHOTO_DIR... --out weights/natural_colours.safetensors``
"""
from __future__ import annotations

import argparse
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..images import ImageError, find_images, load_image, thumbnail
from ..weights import WEIGHTS_DIR, weights_path

NATURAL_COLOURS = "natural_colours.safetensors"
HISTOGRAM_BINS = 32


def colour_histogram(colours: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Counts of 8-bit RGB colours (N, 3) in a (bins, bins, bins) grid indexed [r, g, b]."""
    index = (colours.astype(np.int64) * bins) // 256
    flat = (index[:, 0] * bins + index[:, 1]) * bins + index[:, 2]
    return np.bincount(flat, minlength=bins**3).reshape(bins, bins, bins).astype(np.float64)


def build_histogram(paths: list[Path], bins: int = HISTOGRAM_BINS, size: int = 256) -> torch.Tensor:
    """Average of per-photo colour histograms (each photo weighs the same), normalised to sum 1."""
    total = np.zeros((bins, bins, bins))
    used = 0
    for path in paths:
        try:
            image = thumbnail(load_image(path, draft_size=size), size)
        except ImageError:
            continue
        counts = colour_histogram(np.asarray(image).reshape(-1, 3), bins)
        total += counts / counts.sum()
        used += 1
    if not used:
        raise ValueError("no readable photos to build the colour histogram from")
    return torch.from_numpy(total / total.sum()).to(torch.float32)


@lru_cache(maxsize=4)
def load_histogram(path: str | os.PathLike | None = None) -> torch.Tensor | None:
    """The shipped histogram (bins, bins, bins), or None when the file is missing."""
    path = Path(path) if path is not None else weights_path(NATURAL_COLOURS)
    if not path.exists():
        return None
    histogram = load_file(str(path))["histogram"]
    if histogram.ndim != 3 or len(set(histogram.shape)) != 1 or not torch.isfinite(histogram).all():
        raise ValueError(f"{path}: not a colour histogram")
    return histogram


def sample_colours(histogram: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``count`` RGB colours (count, 3) in 0..1 from a histogram: a bin by its mass, then a point inside it."""
    bins = histogram.shape[0]
    flat = torch.multinomial(histogram.reshape(-1), count, replacement=True, generator=generator)
    r, g, b = flat // (bins * bins), (flat // bins) % bins, flat % bins
    corner = torch.stack([r, g, b], dim=1).to(torch.float32)
    return (corner + torch.rand(count, 3, generator=generator)) / bins


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m influgan.learning.natural", description=__doc__.split("\n")[0])
    parser.add_argument("photos", nargs="+", help="photo files or folders")
    parser.add_argument("--out", default=str(WEIGHTS_DIR / NATURAL_COLOURS), help="output .safetensors file")
    args = parser.parse_args(argv)
    paths = find_images(args.photos)
    histogram = build_histogram(paths)
    save_file({"histogram": histogram}, args.out, metadata={"photos": str(len(paths)), "bins": str(HISTOGRAM_BINS)})
    print(f"wrote {args.out} from {len(paths)} photos")


if __name__ == "__main__":
    main()
