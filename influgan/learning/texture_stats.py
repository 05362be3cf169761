"""Texture statistics without a pretrained network: random-weight multi-scale conv features (Ustyuzhaninov et
al., ICLR 2017: random filters reproduce textures about as well as VGG's Gram matrices), compared as Gram matrices
or by sliced Wasserstein distance; and a small spectral-norm patch discriminator, the adversarial alternative.

Both look at contrast-normalised luma (``contrast_normalised``: each pixel against its neighbourhood), so a colour
grade or a contrast change — the LUT's job — does not read as texture; the brushwork's job is what is left:
strokes, washes, lines, dots.

    features = RandomTextureFeatures(seed=0)
    a, b = features(images_a), features(images_b)          # lists of (B, C, h, w), one per scale
    loss = texture_distance(a, b, kind="sliced")            # 0-dim tensor, differentiable in both
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from .texture_adversary import spectral_trunk

KINDS = ("gram", "sliced")
_LUMA = (0.299, 0.587, 0.114)


def _blur(y: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B, 1, H, W), borders repeated."""
    radius = int(3.0 * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=y.dtype)
    weights = torch.exp(-0.5 * offsets * offsets / (sigma * sigma))
    weights = weights / weights.sum()
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="replicate"), weights.view(1, 1, 1, -1))
    return F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), weights.view(1, 1, -1, 1))


def luma(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in 0..1 → (B, 1, H, W) Rec. 601 luma."""
    return (images * images.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)


def contrast_normalised(y: torch.Tensor, sigma: float = 7 / 6, floor: float = 1 / 255) -> torch.Tensor:
    """Mean-subtracted, contrast-normalised luma (BRISQUE's MSCN coefficients, Mittal et al. 2012): each pixel
    minus its local mean over its local standard deviation (Gaussian window ``sigma``). (B, 1, H, W) → same.

    Natural photos give nearly the same distribution of these whatever the scene; flat paint, washes, posterised
    bands, lines and dots do not — and a colour grade or a contrast change leaves them alone."""
    mean = _blur(y, sigma)
    deviation = (_blur(y * y, sigma) - mean * mean).clamp_min(0.0).sqrt()
    return (y - mean) / (deviation + floor)


class RandomTextureFeatures(nn.Module):
    """Random zero-mean ``size``×``size`` filters (``filters`` of them, fixed by ``seed``) on contrast-normalised
    luma at ``scales`` octaves, each followed by a ReLU: a list of (B, filters, h, w), finest first."""

    def __init__(self, scales: int = 3, filters: int = 24, size: int = 5, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(filters, 1, size, size, generator=generator)
        weight = weight - weight.mean(dim=(2, 3), keepdim=True)  # zero mean: band-pass, blind to the tone
        weight = weight / weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        self.register_buffer("weight", weight)
        self.scales = scales

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        y = luma(images)
        out = []
        for scale in range(self.scales):
            if scale:
                y = F.avg_pool2d(y, 2)
            out.append(F.relu(F.conv2d(contrast_normalised(y), self.weight)))
        return out


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) → (C, C): the Gram matrix over every pixel of the batch, and the means on its diagonal's side."""
    flat = features.transpose(0, 1).flatten(1)  # (C, B·h·w)
    return flat @ flat.T / flat.shape[1]


def sliced_distance(a: torch.Tensor, b: torch.Tensor, projections: int = 32, samples: int = 4096,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Sliced Wasserstein-2 (squared) between the per-pixel feature vectors of (B, C, h, w) and (B', C, h', w'),
    ``samples`` pixels of each along ``projections`` random directions."""
    fa = a.transpose(0, 1).flatten(1).T  # (N, C)
    fb = b.transpose(0, 1).flatten(1).T
    pick_a = torch.randint(fa.shape[0], (samples,), generator=generator)
    # the same places in both when they are alike in size: an image set's distance to itself is then 0
    pick_b = pick_a if fb.shape[0] == fa.shape[0] else torch.randint(fb.shape[0], (samples,), generator=generator)
    directions = torch.randn(fa.shape[1], projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)
    pa = torch.sort(fa[pick_a] @ directions, dim=0).values
    pb = torch.sort(fb[pick_b] @ directions, dim=0).values
    return (pa - pb).pow(2).mean()


def texture_distance(a: list[torch.Tensor], b: list[torch.Tensor], kind: str = "sliced",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Distance between the textures of two sets of images, from their ``RandomTextureFeatures``, summed over
    scales: "gram" (squared Frobenius distance of the Gram matrices) or "sliced" (``sliced_distance``)."""
    if kind not in KINDS:
        raise ValueError(f"texture distance kind must be one of {', '.join(KINDS)}, got {kind!r}")
    total = a[0].new_zeros(())
    for fa, fb in zip(a, b):
        if kind == "gram":
            total = total + (gram(fa) - gram(fb)).pow(2).sum()
        else:
            total = total + sliced_distance(fa, fb, generator=generator)
    return total


class PatchDiscriminator(nn.Module):
    """A small spectral-norm patch discriminator on contrast-normalised luma: (B, 3, H, W) → (B, h·w) logits, one per
    patch of about 22 px (three 3×3 convs, two of stride 2, then a 1×1), at full and half scale."""

    def __init__(self, width: int = 32):
        super().__init__()

        def branch() -> nn.Sequential:
            return nn.Sequential(*spectral_trunk(width), spectral_norm(nn.Conv2d(width, 1, 1)))

        self.fine, self.coarse = branch(), branch()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        y = luma(images)
        fine, coarse = contrast_normalised(y), contrast_normalised(F.avg_pool2d(y, 2))
        return torch.cat([self.fine(fine).flatten(1), self.coarse(coarse).flatten(1)], dim=1)
