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
import torch
from PIL import Image, ImageDraw, ImageFont

from .images import image_to_tensor, thumbnail

LUMA = torch.tensor([0.2126, 0.7152, 0.0722])
THUMB_SIZE = 96  # longer side of the thumbnails the fingerprint is computed on
PIXELS_PER_IMAGE = 4096


@dataclass
class Fingerprint:
    """palette (K, 3) RGB 0..1 sorted by share (K,) summing to 1; histograms (bins,) each summing to 1."""

    palette: torch.Tensor
    shares: torch.Tensor
    luma: torch.Tensor
    red: torch.Tensor
    green: torch.Tensor
    blue: torch.Tensor
    images: int


def _pixels(images: Sequence[Image.Image]) -> torch.Tensor:
    """The same number of pixels from each image's thumbnail: (N, 3) in 0..1."""
    out = []
    for image in images:
        flat = image_to_tensor(thumbnail(image.convert("RGB"), THUMB_SIZE)).reshape(3, -1).T  # (h·w, 3)
        index = torch.linspace(0, flat.shape[0] - 1, PIXELS_PER_IMAGE).long()  # the same count from every photo
        out.append(flat[index])
    return torch.cat(out)


def kmeans(points: torch.Tensor, clusters: int, iterations: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means with k-means++ seeding. points (N, D) → centres (K, D), labels (N,). Deterministic per seed."""
    if points.ndim != 2 or points.shape[0] < 1:
        raise ValueError(f"points must be a non-empty (N, D) tensor, got {tuple(points.shape)}")
    generator = torch.Generator().manual_seed(seed)
    clusters = min(clusters, points.shape[0])
    centres = points[torch.randint(points.shape[0], (1,), generator=generator)]
    for _ in range(1, clusters):
        distance = torch.cdist(points, centres).min(dim=1).values ** 2  # (N,)
        if distance.sum() <= 0:
            break
        centres = torch.cat([centres, points[torch.multinomial(distance, 1, generator=generator)]])
    for _ in range(iterations):
        labels = torch.cdist(points, centres).argmin(dim=1)
        updated = torch.stack(
            [points[labels == k].mean(0) if (labels == k).any() else centres[k] for k in range(centres.shape[0])]
        )
        if torch.allclose(updated, centres, atol=1e-5):
            break
        centres = updated
    return centres, torch.cdist(points, centres).argmin(dim=1)


def _histogram(values: torch.Tensor, bins: int) -> torch.Tensor:
    counts = torch.histc(values, bins=bins, min=0.0, max=1.0)
    return counts / counts.sum().clamp(min=1.0)


def fingerprint(images: Sequence[Image.Image], colours: int = 6, bins: int = 64, seed: int = 0) -> Fingerprint:
    """The palette (``colours`` swatches) and tone/RGB histograms (``bins`` each) of a set of photos."""
    if not images:
        raise ValueError("a fingerprint needs at least one image")
    pixels = _pixels(images)  # (N, 3)
    centres, labels = kmeans(pixels, colours, seed=seed)
    shares = torch.bincount(labels, minlength=centres.shape[0]).float() / labels.shape[0]
    order = shares.argsort(descending=True)
    return Fingerprint(
        palette=centres[order].clamp(0.0, 1.0),
        shares=shares[order],
        luma=_histogram(pixels @ LUMA, bins),
        red=_histogram(pixels[:, 0], bins),
        green=_histogram(pixels[:, 1], bins),
        blue=_histogram(pixels[:, 2], bins),
        images=len(images),
    )


def _hex(colour: torch.Tensor) -> str:
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
    edges = np.concatenate([[0.0], np.cumsum(print_.shares.numpy())]) * width
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

    def heights(histogram: torch.Tensor, peak: float) -> np.ndarray:
        values = np.interp(x, np.arange(len(histogram)), histogram.numpy())
        return np.clip(values / peak, 0.0, 1.0) * area

    stacked = torch.stack([print_.luma, print_.red, print_.green, print_.blue])  # (4, bins)
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
