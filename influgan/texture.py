"""The finishing layers in torch, differentiable in their parameters, for training (``influgan.finishing`` applies
them to photos without torch).

Same model as ``finishing``: grain from the same seeded field and tone tables, added equally to the encoded
R'G'B', then the vignette's falloff formula. Given the same field, the two agree to within a code value or two.
"""
from __future__ import annotations

import numpy as np
import torch

from .finishing import Finish, grain_field as grain_field_array
from .finishing import grain_tone_tables

_LUMA_601 = (0.299, 0.587, 0.114)  # the weights of the 8-bit luma ``finishing`` indexes its tone tables with


def vignette_falloff(height: int, width: int, radius: torch.Tensor | float) -> torch.Tensor:
    """The vignette's falloff (1, 1, H, W) in 0..1 (see ``finishing.vignette_falloff``), differentiable in radius."""
    radius = torch.as_tensor(radius, dtype=torch.float32).clamp(0.0, 0.95)
    half_diagonal = 0.5 * float(np.hypot(height, width))
    ys = (torch.arange(height, dtype=torch.float32) + 0.5 - height / 2).view(-1, 1)
    xs = (torch.arange(width, dtype=torch.float32) + 0.5 - width / 2).view(1, -1)
    distance = torch.sqrt(xs**2 + ys**2) / half_diagonal  # 0 at the centre, 1 in the corners
    t = ((distance - radius) / (1.0 - radius)).clamp(0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).view(1, 1, height, width)


def apply_vignette(images: torch.Tensor, amount: torch.Tensor | float, radius: torch.Tensor | float) -> torch.Tensor:
    """Mix images (B, 3, H, W) in 0..1 towards black (amount > 0) or white (amount < 0) by |amount| · falloff.

    Differentiable in the images, ``amount`` and ``radius``.
    """
    amount = torch.as_tensor(amount, dtype=images.dtype)
    falloff = vignette_falloff(images.shape[2], images.shape[3], radius).to(images.dtype)
    return images + falloff * (torch.relu(-amount) * (1.0 - images) - torch.relu(amount) * images)


def grain_field(height: int, width: int, size: float, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """The grain fields (B, 1, H, W) of ``finishing.grain_field`` for seeds ``seed``, ``seed + 1``, …"""
    fields = [grain_field_array(height, width, size, seed + index) for index in range(batch)]
    return torch.from_numpy(np.stack(fields)[:, None])


def apply_grain(images: torch.Tensor, amount: torch.Tensor | float, grain_luma: torch.Tensor | float, field: torch.Tensor) -> torch.Tensor:
    """Add luminance grain: images (B, 3, H, W) in 0..1, field (B, 1, H, W) → (B, 3, H, W) in 0..1.

    amount: RMS of L* on a mid-grey; grain_luma: 0 the same at every tone, 1 film's response over tone.
    Differentiable in the images, ``amount`` and ``grain_luma``.
    """
    even, film = (torch.from_numpy(table).to(images.dtype) for table in grain_tone_tables())  # (256,) code values
    weights = torch.tensor(_LUMA_601, dtype=images.dtype).view(1, 3, 1, 1)
    position = ((images * weights).sum(dim=1, keepdim=True) * 255.0).clamp(0.0, 255.0)  # (B, 1, H, W)
    low = position.detach().floor().clamp(max=254.0)
    t = position - low
    low = low.long()

    def lookup(table: torch.Tensor) -> torch.Tensor:  # linear interpolation of a (256,) table
        return table[low] * (1.0 - t) + table[low + 1] * t

    dependence = torch.as_tensor(grain_luma, dtype=images.dtype)
    tone = (1.0 - dependence) * lookup(even) + dependence * lookup(film)
    delta = torch.as_tensor(amount, dtype=images.dtype) * tone * field / 255.0
    return (images + delta).clamp(0.0, 1.0)


def apply_finish(images: torch.Tensor, finish: Finish, seed: int = 0) -> torch.Tensor:
    """Grain, then the vignette over it, on whole images (B, 3, H, W) in 0..1; the identity when both amounts are 0."""
    batch, _, height, width = images.shape
    out = images
    if finish.grain_amount != 0.0:
        field = grain_field(height, width, finish.grain_size, batch, seed).to(images.dtype)
        out = apply_grain(out, finish.grain_amount, finish.grain_luma, field)
    if finish.vignette_amount != 0.0:
        out = apply_vignette(out, finish.vignette_amount, finish.vignette_radius)
    return out
