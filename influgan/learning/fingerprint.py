"""A feed's style fingerprint, as numbers and as pictures: its palette and its tone and colour histograms.

This is what a person sees of "what was learned from": the dominant colours of the references (k-means on
thumbnail pixels, each photo weighing the same) and how their tones and channels are distributed.
Rendering uses Pillow only (no plotting library).

    print_ = fingerprint(photos)                 # photos: Pillow images
    render_palette(print_).save("palette.png"); render_histograms(print_).save("histograms.png")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..images import thumbnail
from .certainty import feed_advice, scene_spread

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
THUMB_SIZE = 96  # longer side of the thumbnails the fingerprint is computed on
PIXELS_PER_IMAGE = 4096


@dataclass
class Fingerprint:
    """palette (K, 3) RGB 0..1 sorted by share (K,) summing to 1; histograms (bins,) each summing to 1;
    images: usable posts; spread: how different their scenes are (``certainty.scene_spread``, ΔE76)."""

    palette: np.ndarray
    shares: np.ndarray
    luma: np.ndarray
    red: np.ndarray
    green: np.ndarray
    blue: np.ndarray
    images: int
    spread: float = 0.0

    def advice(self) -> str:
        """How many usable posts the feed has and whether more would help, in plain words (``certainty.feed_advice``)."""
        return f"{self.images} usable post{'s' if self.images != 1 else ''}. {feed_advice(self.images, self.spread if self.images > 1 else None)}"


def _pixels(images: Sequence[Image.Image]) -> np.ndarray:
    """The same number of pixels from each image's thumbnail: (N, 3) in 0..1."""
    out = []
    for image in images:
        flat = np.asarray(thumbnail(image.convert("RGB"), THUMB_SIZE), dtype=np.float32).reshape(-1, 3) / 255.0  # (h·w, 3)
        index = np.linspace(0, flat.shape[0] - 1, PIXELS_PER_IMAGE).astype(np.int64)  # the same count from every photo
        out.append(flat[index])
    return np.concatenate(out)


def _distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distances (N, K) between points (N, D) and centres (K, D)."""
    return ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)


def kmeans(points: np.ndarray, clusters: int, iterations: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding. points (N, D) → centres (K, D), labels (N,). Deterministic per seed."""
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] < 1:
        raise ValueError(f"points must be a non-empty (N, D) array, got {points.shape}")
    rng = np.random.default_rng(seed)
    clusters = min(clusters, points.shape[0])
    centres = points[rng.integers(points.shape[0], size=1)]
    for _ in range(1, clusters):
        distance = _distances(points, centres).min(axis=1)  # (N,)
        if distance.sum() <= 0:
            break
        centres = np.concatenate([centres, points[rng.choice(points.shape[0], size=1, p=distance / distance.sum())]])
    for _ in range(iterations):
        labels = _distances(points, centres).argmin(axis=1)
        updated = np.stack([points[labels == k].mean(0) if (labels == k).any() else centres[k] for k in range(centres.shape[0])])
        if np.allclose(updated, centres, atol=1e-5):
            break
        centres = updated
    return centres, _distances(points, centres).argmin(axis=1)


def _histogram(values: np.ndarray, bins: int) -> np.ndarray:
    counts, _ = np.histogram(values, bins=bins, range=(0.0, 1.0))
    return counts / max(counts.sum(), 1)


def fingerprint(images: Sequence[Image.Image], colours: int = 6, bins: int = 64, seed: int = 0) -> Fingerprint:
    """The palette (``colours`` swatches) and tone/RGB histograms (``bins`` each) of a set of photos."""
    if not images:
        raise ValueError("a fingerprint needs at least one image")
    pixels = _pixels(images)  # (N, 3), PIXELS_PER_IMAGE of each image in turn
    centres, labels = kmeans(pixels, colours, seed=seed)
    shares = np.bincount(labels, minlength=centres.shape[0]) / labels.shape[0]
    order = np.argsort(-shares, kind="stable")
    return Fingerprint(
        palette=np.clip(centres[order], 0.0, 1.0),
        shares=shares[order],
        luma=_histogram(pixels @ LUMA, bins),
        red=_histogram(pixels[:, 0], bins),
        green=_histogram(pixels[:, 1], bins),
        blue=_histogram(pixels[:, 2], bins),
        images=len(images),
        spread=scene_spread(np.split(pixels, len(images))),
    )


def _hex(colour: np.ndarray) -> str:
    r, g, b = (int(round(float(v) * 255)) for v in colour)
    return f"#{r:02x}{g:02x}{b:02x}"


def _font(size: int) -> ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` px (its scalable version when FreeType is there): no font file to ship."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


LABEL_SIZE = 18  # px on a 640 px wide picture: ~11 px on a phone, ~14 px on a desktop


def render_palette(print_: Fingerprint, width: int = 640, height: int = 120) -> Image.Image:
    """Swatches as wide as their share of the feed, each labelled with its hex code where it fits. RGB image."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(LABEL_SIZE)
    edges = np.concatenate([[0.0], np.cumsum(print_.shares)]) * width
    for colour, left, right in zip(print_.palette, edges[:-1], edges[1:]):
        fill = tuple(int(round(float(v) * 255)) for v in colour)
        draw.rectangle([int(left), 0, int(round(right)), height], fill=fill)
        label = _hex(colour)
        text_width = draw.textlength(label, font=font)
        if right - left > text_width + 8:
            ink = (20, 20, 20) if float(colour @ LUMA) > 0.55 else (245, 245, 245)
            draw.text(((left + right - text_width) / 2, height - LABEL_SIZE - 8), label, fill=ink, font=font)
    return image


def render_histograms(print_: Fingerprint, width: int = 640, height: int = 200) -> Image.Image:
    """Red/green/blue histograms (additive light) with the tone histogram as a white line, on a dark panel, under
    a legend band (shadows · what is drawn · highlights). RGB image."""
    font = _font(LABEL_SIZE)
    top = LABEL_SIZE + 12  # the legend band
    panel = np.full((height, width, 3), 28, dtype=np.float32)
    area = height - top - 4
    x = np.linspace(0, len(print_.luma) - 1, width)

    def heights(histogram: np.ndarray, peak: float) -> np.ndarray:
        values = np.interp(x, np.arange(len(histogram)), histogram)
        return np.clip(values / peak, 0.0, 1.0) * area

    stacked = np.stack([print_.luma, print_.red, print_.green, print_.blue])  # (4, bins)
    peak = float(stacked[:, 1:-1].max()) or 1.0  # clipped pure black/white would flatten everything else
    rows = np.arange(height)[:, None]  # (H, 1)
    baseline = height - 4
    for channel, histogram in enumerate((print_.red, print_.green, print_.blue)):
        filled = (rows >= baseline - heights(histogram, peak)[None, :]) & (rows < baseline)
        panel[..., channel] += filled * 150.0  # additive light: where all three overlap it turns grey
    tone = np.round(baseline - heights(print_.luma, peak)).astype(int)
    image = Image.fromarray(np.clip(panel, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    draw.line(list(zip(range(width), tone.tolist())), fill=(245, 245, 245), width=2)  # tone (luma) as a white line
    draw.text((8, 6), "shadows", fill=(170, 170, 170), font=font)
    title = "tone (white) · red / green / blue"
    draw.text(((width - draw.textlength(title, font=font)) / 2, 6), title, fill=(225, 225, 225), font=font)
    draw.text((width - 8 - draw.textlength("highlights", font=font), 6), "highlights", fill=(170, 170, 170), font=font)
    return image


def render_fingerprint(images: Sequence[Image.Image], colours: int = 6) -> tuple[Image.Image, Image.Image]:
    """(palette image, histogram image) of a set of photos: what the app shows for a feed."""
    print_ = fingerprint(images, colours=colours)
    return render_palette(print_), render_histograms(print_)
