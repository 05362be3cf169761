"""The look prior: a network that reads a set of reference photos and predicts their look at once.

A dozen styled photos do not say which colours came from the scenes and which from the look. The prior has
seen many (photo set, look) examples (``pretrain.py``) and learned to tell them apart: it describes each
reference by its colour statistics, pools the descriptions over the set (mean and spread, so the order and the
count of references do not matter, and what varies from photo to photo reads as scene, what stays as look),
and predicts the look as identity plus a mix of learned basis LUTs. It reads a photo the same way in training
and in use (``crop_pixels``: random pixels of a random crop of the photo at READ_SIZE); in use it reads many crops
of each reference and averages the LUTs they predict, so the look does not hang on which pixels were drawn.

    look = instant_look(reference_images)      # a Look in well under a second on a CPU (None: no prior shipped)
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from ..images import image_to_tensor, thumbnail
from ..looks.look import Look
from .losses import rgb_to_lab
from ..looks.lut import LUT_SIZE
from .lut_torch import identity_lut, resample_lut
from ..weights import load_network, save_weights, weights_path

PRIOR_FILE = "prior.safetensors"
FEATURE_PIXELS = 2048  # pixels each reference is described by
READ_SIZE = 192  # longer side a photo is read at: the size of the photos the prior trained on (pretrain.load_photos)
# crops read per prediction, spread evenly over the references (at least READ_MIN_DRAWS each); the LUTs predicted from
# each draw of the set are averaged, so the look hardly depends on which crops were drawn (docs/experiments.md)
READ_CROPS = 384
READ_MIN_DRAWS = 4
RGB_BINS = 8  # joint RGB histogram: 8³ cells
LAB_BINS = 24  # marginal L, a, b histograms
BANDS = 8  # lightness bands for the per-band mean colour
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
FEATURES = RGB_BINS**3 + 3 * LAB_BINS + 4 * BANDS + 7 * len(QUANTILES)


def pixel_features(pixels: torch.Tensor) -> torch.Tensor:
    """Colour statistics of each image: (M, P, 3) RGB pixels in 0..1 → (M, FEATURES).

    Joint RGB histogram; L, a, b histograms; per lightness band its share and mean a, b, chroma; quantiles of
    R, G, B, L, a, b and chroma. Histograms are square-rooted so that dominant bins do not drown the rest.
    """
    count, size, _ = pixels.shape
    rgb = pixels.clamp(0.0, 1.0)
    lab = rgb_to_lab(rgb)  # (M, P, 3)
    chroma = lab[..., 1:].norm(dim=-1)  # (M, P)

    def histogram(index: torch.Tensor, bins: int) -> torch.Tensor:  # (M, P) int → (M, bins) shares
        counts = torch.zeros(count, bins, device=pixels.device).scatter_add_(1, index, torch.ones_like(index, dtype=torch.float32))
        return (counts / size).sqrt()

    cell = (rgb * RGB_BINS).long().clamp(0, RGB_BINS - 1)
    joint = histogram((cell[..., 0] * RGB_BINS + cell[..., 1]) * RGB_BINS + cell[..., 2], RGB_BINS**3)
    lightness = (lab[..., 0] / 100.0 * LAB_BINS).long().clamp(0, LAB_BINS - 1)
    opponents = [((lab[..., c] + 64.0) / 128.0 * LAB_BINS).long().clamp(0, LAB_BINS - 1) for c in (1, 2)]
    marginals = [histogram(index, LAB_BINS) for index in (lightness, *opponents)]

    band = (lab[..., 0] / 100.0 * BANDS).long().clamp(0, BANDS - 1)  # (M, P)
    share = torch.zeros(count, BANDS, device=pixels.device).scatter_add_(1, band, torch.ones_like(band, dtype=torch.float32))  # (M, BANDS)
    colour = torch.cat([lab[..., 1:], chroma.unsqueeze(-1)], -1)  # (M, P, 3) a, b, chroma
    per_band = torch.zeros(count, BANDS, 3, device=pixels.device).scatter_add_(1, band.unsqueeze(-1).expand(-1, -1, 3), colour)
    per_band = per_band / share.clamp_min(1.0).unsqueeze(-1) / 50.0  # (M, BANDS, 3) mean a, b, chroma
    bands = torch.cat([(share / size).sqrt(), per_band.flatten(1)], dim=1)

    values = torch.cat([rgb, lab[..., :1] / 100.0, lab[..., 1:] / 100.0, chroma.unsqueeze(-1) / 100.0], -1)
    ranked = values[:, ::4].sort(dim=1).values  # every 4th pixel is plenty for quantiles, and 4× cheaper
    ranks = (torch.tensor(QUANTILES, device=pixels.device) * (ranked.shape[1] - 1)).round().long()
    quantiles = ranked[:, ranks].transpose(1, 2).flatten(1)  # (M, 7·len(QUANTILES))
    return torch.cat([joint, *marginals, bands, quantiles], dim=1)


class PhotoBank:
    """Photos (3, h, w) in one zero-padded channels-last tensor ``pixels`` (K, H, W, 3) with their sizes (K, 2)
    as (height, width)."""

    def __init__(self, photos: Sequence[torch.Tensor], device: str | torch.device = "cpu"):
        height, width = max(p.shape[1] for p in photos), max(p.shape[2] for p in photos)
        self.pixels = torch.zeros(len(photos), height, width, 3)
        for i, photo in enumerate(photos):
            self.pixels[i, : photo.shape[1], : photo.shape[2]] = photo.permute(1, 2, 0)
        self.pixels = self.pixels.to(device)
        self.sizes = torch.tensor([p.shape[1:] for p in photos], dtype=torch.float32, device=device)

    def __len__(self) -> int:
        return len(self.sizes)


def crop_pixels(bank: PhotoBank, index: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random pixels of a random crop (40–100 % of the area) of each photo ``index`` (B,): (B, count, 3).

    How the prior reads a photo, in training (``pretrain.py``) and in use. ``generator`` lives on the bank's device.
    """

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=generator.device)

    sizes = bank.sizes[index]  # (B, 2) height, width
    crop = (sizes * (0.4 + 0.6 * uniform(len(index), 1)).sqrt()).floor().clamp_min(1.0)  # (B, 2)
    corner = (uniform(len(index), 2) * (sizes - crop + 1.0)).floor().minimum(sizes - crop)
    at = (corner.unsqueeze(1) + (uniform(len(index), count, 2) * crop.unsqueeze(1)).floor().minimum(crop.unsqueeze(1) - 1.0)).long()
    _, height, width, _ = bank.pixels.shape
    flat = (index.unsqueeze(1) * height + at[..., 0]) * width + at[..., 1]  # (B, count) rows of the flattened bank
    return bank.pixels.reshape(-1, 3)[flat]  # (B, count, 3)


def _photo_seed(photo: torch.Tensor, seed: int) -> int:
    """A seed for reading one photo (3, h, w): from its 8-bit pixels and ``seed``."""
    digest = hashlib.sha256(photo.mul(255.0).round().to(torch.uint8).numpy().tobytes() + seed.to_bytes(8, "little", signed=True)).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def reading_size(image: Image.Image | torch.Tensor) -> torch.Tensor:
    """A photo (Pillow, or (3, H, W) in 0..1) at the size the prior reads it: (3, h, w), longer side ≤ READ_SIZE."""
    if isinstance(image, Image.Image):
        return image_to_tensor(thumbnail(image.convert("RGB"), READ_SIZE))
    scale = READ_SIZE / max(image.shape[1:])
    if scale >= 1.0:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[2] * scale)))
    return F.interpolate(image.unsqueeze(0), size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0.0, 1.0)


class LookPrior(nn.Module):
    """A set of references (their features) → a LUT.

    Each reference's features go through a small MLP; the set is pooled by mean and standard deviation (so the
    prediction ignores order and count), together with the mean raw features; a head maps the pool to weights
    over ``basis`` learned residual LUTs on a ``control`` grid; LUT = identity + weighted sum.
    """

    def __init__(self, basis: int = 64, hidden: int = 256, control: int = 17):
        super().__init__()
        self.config = {"basis": basis, "hidden": hidden, "control": control, "features": FEATURES}
        self.encode = nn.Sequential(nn.Linear(FEATURES, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Sequential(
            nn.Linear(2 * hidden + FEATURES, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Linear(hidden, basis)
        )
        self.basis = nn.Parameter(torch.randn(basis, control, control, control, 3) * 1e-3)
        self.register_buffer("identity", identity_lut(control))

    def forward(self, features: torch.Tensor, sets: torch.Tensor) -> torch.Tensor:
        """features (M, FEATURES) of all references, ``sets`` (M,) the index of each one's set → LUTs (T, c, c, c, 3).

        The LUTs are unclamped control grids (``control`` points per axis); T = sets.max() + 1.
        """
        tasks = int(sets.max()) + 1
        embedded = self.encode(features)  # (M, hidden)
        counts = torch.zeros(tasks, device=features.device).index_add_(0, sets, torch.ones(len(sets), device=features.device)).unsqueeze(1)  # (T, 1)

        def set_mean(values: torch.Tensor) -> torch.Tensor:
            return torch.zeros(tasks, values.shape[1], device=values.device).index_add_(0, sets, values) / counts

        mean = set_mean(embedded)
        spread = (set_mean(embedded.pow(2)) - mean.pow(2)).clamp_min(1e-6).sqrt()
        weights = self.head(torch.cat([mean, spread, set_mean(features)], dim=1))  # (T, basis)
        residual = torch.einsum("tk,kabcd->tabcd", weights, self.basis)
        return self.identity + residual

    @torch.no_grad()
    def predict(self, references: Sequence[Image.Image | torch.Tensor], name: str = "Instant look", seed: int = 0,
                crops: int | None = None) -> Look:
        """The look of a set of references (Pillow images or (3, H, W) tensors in 0..1), as a 33³ Look.

        The set is read ``draws`` times (``crops`` crops in all, READ_CROPS unless given; a random crop of every
        reference each time, as in training) and the LUTs of the draws are averaged; ``seed`` fixes the crops.
        """
        if not references:
            raise ValueError("the prior needs at least one reference photo")
        count = len(references)
        draws = max(READ_MIN_DRAWS, -(-(crops or READ_CROPS) // count))
        photos = [reading_size(image) for image in references]
        bank = PhotoBank(photos)
        pixels = torch.stack([  # each photo's crops follow from its own pixels, so the order of the set does not matter
            crop_pixels(bank, torch.full((draws,), i), FEATURE_PIXELS, torch.Generator().manual_seed(_photo_seed(photo, seed)))
            for i, photo in enumerate(photos)
        ], dim=1)  # (draws, M, P, 3)
        controls = self.forward(pixel_features(pixels.flatten(0, 1)), torch.arange(draws).repeat_interleave(count))  # (draws, c, c, c, 3)
        lut = resample_lut(controls.mean(0), LUT_SIZE).clamp(0.0, 1.0)
        return Look(lut=lut, name=name, metadata={"references": len(references), "source": "prior"})

    def save(self, path: str | Path, metadata: dict | None = None) -> None:
        """Write the weights as safetensors, with the configuration and ``metadata`` in the header."""
        save_weights(path, {k: v for k, v in self.state_dict().items() if k != "identity"}, self.config, metadata)

    @classmethod
    def load(cls, path: str | Path) -> "LookPrior":
        """Read weights written by ``save`` (safetensors: no code runs); checks the configuration."""
        return load_network(cls, path, FEATURES, "a look prior", buffers=("identity",))


@lru_cache(maxsize=4)
def load_prior(path: str | Path | None = None) -> LookPrior | None:
    """The shipped prior (``weights/prior.safetensors`` or the Hub repo's), or None when there is none."""
    path = Path(path) if path is not None else weights_path(PRIOR_FILE)
    return LookPrior.load(path) if path.exists() else None


def instant_look(references: Sequence[Image.Image], name: str = "Instant look") -> Look | None:
    """The shipped prior's look for a set of reference photos, or None when no prior is shipped."""
    prior = load_prior()
    return prior.predict(references, name=name) if prior is not None else None
