"""The naturalness discriminator: does a photo's colour look like an ordinary, un-styled photo?

Pre-trained (``python -m influgan.pretrain --model naturalness``) on ordinary photos against the same photos
under random looks, and shipped in ``weights/``. The fine-tune's inverse look must un-style the references
into photos it takes for ordinary ones (``--adversary natural``): knowledge of what un-styled scenes look like,
which a dozen styled photos lack.

Everything here is differentiable in the pixels, so the fine-tune can push through it.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from .losses import rgb_to_lab
from .weights import load_network, save_weights, weights_path

NATURALNESS_FILE = "naturalness.safetensors"
BINS = 16
LEVELS = (0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98)
FEATURES = 3 * BINS + 8 * 8 + 4 * len(LEVELS)


def _soft_histogram(values: torch.Tensor, bins: int, low: float, high: float) -> torch.Tensor:
    """(M, P) → (M, bins): each value spread over nearby bins by a Gaussian kernel; rows sum to 1."""
    centres = torch.linspace(low, high, bins, dtype=values.dtype)
    width = (high - low) / (bins - 1)
    weights = torch.exp(-0.5 * ((values.unsqueeze(-1) - centres) / width) ** 2)
    return (weights / weights.sum(-1, keepdim=True).clamp_min(1e-8)).mean(1)


def soft_colour_features(pixels: torch.Tensor) -> torch.Tensor:
    """Differentiable colour statistics of each image: (M, P, 3) RGB in 0..1 → (M, FEATURES).

    Soft histograms of L, a, b and a joint soft a–b histogram (square-rooted), and quantiles of L, a, b, chroma.
    """
    lab = rgb_to_lab(pixels)  # (M, P, 3)
    lightness, a, b = lab[..., 0] / 100.0, lab[..., 1] / 100.0, lab[..., 2] / 100.0
    chroma = (a.pow(2) + b.pow(2) + 1e-8).sqrt()
    marginals = [_soft_histogram(lightness, BINS, 0.0, 1.0), _soft_histogram(a, BINS, -0.6, 0.6), _soft_histogram(b, BINS, -0.6, 0.6)]
    centres = torch.linspace(-0.5, 0.5, 8, dtype=pixels.dtype)

    def kernel(values: torch.Tensor) -> torch.Tensor:  # (M, P) → (M, P, 8)
        weights = torch.exp(-0.5 * ((values.unsqueeze(-1) - centres) / (1.0 / 7.0)) ** 2)
        return weights / weights.sum(-1, keepdim=True).clamp_min(1e-8)

    joint = torch.einsum("mpi,mpj->mij", kernel(a), kernel(b)).flatten(1) / pixels.shape[1]
    ranked = torch.stack([lightness, a, b, chroma], dim=-1).sort(dim=1).values  # (M, P, 4)
    ranks = (torch.tensor(LEVELS) * (pixels.shape[1] - 1)).round().long()
    quantiles = ranked[:, ranks].flatten(1)
    return torch.cat([torch.cat(marginals + [joint], dim=1).clamp_min(0.0).add(1e-6).sqrt(), quantiles], dim=1)


class NaturalnessDiscriminator(nn.Module):
    """(M, P, 3) pixels of M images → (M,) logits, high for ordinary photos. Spectrally normalised MLP."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        self.config = {"hidden": hidden, "features": FEATURES}
        self.mlp = nn.Sequential(
            spectral_norm(nn.Linear(FEATURES, hidden)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, hidden)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, 1)),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.mlp(soft_colour_features(pixels)).squeeze(-1)

    def save(self, path: str | Path, metadata: dict | None = None) -> None:
        """Write the weights as safetensors, with the configuration and ``metadata`` in the header."""
        save_weights(path, self.state_dict(), self.config, metadata)

    @classmethod
    def load(cls, path: str | Path) -> "NaturalnessDiscriminator":
        """Read weights written by ``save`` (safetensors: no code runs); checks the configuration."""
        return load_network(cls, path, FEATURES, "a naturalness discriminator")


@lru_cache(maxsize=2)
def load_naturalness(path: str | Path | None = None) -> NaturalnessDiscriminator | None:
    """The shipped naturalness discriminator, or None when there is none."""
    path = Path(path) if path is not None else weights_path(NATURALNESS_FILE)
    return NaturalnessDiscriminator.load(path) if path.exists() else None
