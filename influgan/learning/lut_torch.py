"""The LUT operations training and the look prior need, in torch: differentiable in the images and the LUT.

Same layout as ``lut.py`` (a LUT is (S, S, S, 3) indexed [b, g, r], red fastest); applying a look to a photo
uses ``lut.py`` and never imports this module. A look's LUT (NumPy) becomes a tensor with ``torch.from_numpy``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..looks import lut as numpy_lut
from ..looks.lut import LUT_SIZE, MAX_STRENGTH


def identity_lut(size: int = LUT_SIZE, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The LUT that maps every colour to itself. Returns (size, size, size, 3)."""
    return torch.from_numpy(numpy_lut.identity_lut(size, dtype=np.float64)).to(dtype)


def apply_lut(images: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Trilinear LUT lookup, differentiable in both the images and the LUT.

    images: (B, 3, H, W) RGB in 0..1 (values outside are clamped).
    lut: (S, S, S, 3) indexed [b, g, r], or (B, S, S, S, 3) for one LUT per image.
    Returns (B, 3, H, W).
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
    batch = images.shape[0]
    luts = lut.unsqueeze(0).expand(batch, *lut.shape) if lut.ndim == 4 else lut
    volume = luts.permute(0, 4, 1, 2, 3)  # (B, 3, S_b, S_g, S_r): grid_sample's (N, C, D, H, W)
    # grid_sample's last grid axis is (x, y, z) = (W, H, D) = (r, g, b): the RGB order of the pixel itself.
    grid = images.clamp(0.0, 1.0).permute(0, 2, 3, 1).unsqueeze(1) * 2.0 - 1.0  # (B, 1, H, W, 3)
    out = F.grid_sample(volume, grid.to(volume.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out.squeeze(2)  # (B, 3, H, W)


def apply_lut_colours(colours: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of a list of colours (N, 3) in 0..1 → (N, 3), or of each row of colours (T, N, 3) through
    its own LUT (T, S, S, S, 3) → (T, N, 3); differentiable like ``apply_lut``."""
    rows = colours.reshape(-1, *colours.shape[-2:])  # (T, N, 3); T = 1 for a list
    as_images = rows.transpose(1, 2).unsqueeze(-1)  # (T, 3, N, 1)
    return apply_lut(as_images, lut).squeeze(-1).transpose(1, 2).reshape(colours.shape)


def resample_lut(lut: torch.Tensor, size: int) -> torch.Tensor:
    """Resample a LUT to ``size`` points per axis by trilinear interpolation (differentiable)."""
    if lut.shape[0] == size:
        return lut.clone()
    return apply_lut_colours(identity_lut(size, lut.dtype).reshape(-1, 3), lut).reshape(size, size, size, 3)


def blend_lut(lut: torch.Tensor, strength: float) -> torch.Tensor:
    """Blend identity (strength 0) with ``lut`` (strength 1); up to 1.5 extrapolates. Clamped to 0..1."""
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise ValueError(f"strength must be within 0..{MAX_STRENGTH}, got {strength}")
    identity = identity_lut(lut.shape[0], lut.dtype)
    return (identity + strength * (lut - identity)).clamp(0.0, 1.0)
