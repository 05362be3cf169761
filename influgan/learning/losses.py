"""Losses of the fine-tune: colour distribution (sliced Wasserstein in CIELAB), LUT regularity."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .lut_torch import identity_lut

# sRGB (D65) → XYZ
_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883])


def rgb_to_lab(colours: torch.Tensor) -> torch.Tensor:
    """sRGB colours (..., 3) in 0..1 → CIELAB (..., 3): L in 0..100, a and b roughly -110..110. Differentiable."""
    rgb = colours.clamp(0.0, 1.0)
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055).clamp_min(1e-8) ** 2.4, rgb / 12.92)
    xyz = (linear @ _RGB_TO_XYZ.T.to(colours)) / _WHITE_D65.to(colours)
    epsilon = 216 / 24389
    f = torch.where(xyz > epsilon, xyz.clamp_min(epsilon) ** (1 / 3), (24389 / 27 * xyz + 16) / 116)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return torch.stack([lightness, a, b], dim=-1)


def sliced_wasserstein(
    points: torch.Tensor, target: torch.Tensor, projections: int = 64, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Sliced Wasserstein-2 (squared) between point clouds (..., N, D) and (..., M, D), comparing sorted 1D
    projections; with leading dimensions, each pair of clouds has its own directions and the mean is over all.

    The clouds may differ in size: the target's quantiles are sampled at the points' ranks.
    """
    directions = torch.randn(*points.shape[:-2], points.shape[-1], projections, generator=generator, dtype=points.dtype)
    directions = directions / directions.norm(dim=-2, keepdim=True)  # (..., D, P)
    projected = torch.sort(points @ directions, dim=-2).values  # (..., N, P)
    target_sorted = torch.sort(target @ directions, dim=-2).values  # (..., M, P)
    if target_sorted.shape[-2] != projected.shape[-2]:
        ranks = (torch.arange(projected.shape[-2], dtype=points.dtype) + 0.5) / projected.shape[-2]
        target_sorted = _quantiles(target_sorted, ranks)
    return ((projected - target_sorted) ** 2).mean()


def _quantiles(sorted_values: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of sorted columns (..., M, P) at ranks (N,) in 0..1 → (..., N, P)."""
    count = sorted_values.shape[-2]
    position = (ranks * count - 0.5).clamp(0, count - 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=count - 1)
    weight = (position - low).unsqueeze(1)  # (N, 1)
    return sorted_values.index_select(-2, low) * (1 - weight) + sorted_values.index_select(-2, high) * weight


def lut_smoothness(lut: torch.Tensor) -> torch.Tensor:
    """Mean squared second difference of ``lut - identity`` along each axis: 0 for any affine map. lut (S, S, S, 3)."""
    residual = lut - identity_lut(lut.shape[0], lut.dtype)
    total = residual.new_zeros(())
    for axis in range(3):
        first = torch.diff(residual, dim=axis)
        total = total + (torch.diff(first, dim=axis) ** 2).mean() + 0.1 * (first**2).mean()
    return total * lut.shape[0] ** 2


def lut_monotonicity(lut: torch.Tensor) -> torch.Tensor:
    """Penalty on luminance that falls when any input channel rises (it causes banding and solarised tones)."""
    luma = lut @ torch.tensor([0.2126, 0.7152, 0.0722], dtype=lut.dtype)  # (S_b, S_g, S_r)
    total = luma.new_zeros(())
    for axis in range(3):
        total = total + F.relu(-torch.diff(luma, dim=axis)).pow(2).mean()
    return total * lut.shape[0] ** 2


def lut_range(lut: torch.Tensor) -> torch.Tensor:
    """Penalty on LUT entries outside 0..1 (training leaves the LUT unclamped so gradients never vanish)."""
    return (F.relu(lut - 1.0) ** 2 + F.relu(-lut) ** 2).mean()

