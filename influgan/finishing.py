"""Finishing layers applied after the colour LUT: film grain and vignette.

Both are differentiable in their parameters and exactly the identity at amount 0. Sizes are relative to the
image (fractions of its shorter side), so a preview and the full-resolution photo look alike.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# Rec. 709 luma weights
_LUMA = (0.2126, 0.7152, 0.0722)


@dataclass
class Finish:
    """Finishing parameters of a look; every field at its default leaves the image unchanged."""

    grain_amount: float = 0.0  # standard deviation of the grain in 0..1 units (0..0.2)
    grain_size: float = 0.0015  # grain feature size as a fraction of the image's shorter side (0.0005..0.01)
    grain_luma: float = 0.5  # 0: same grain everywhere; 1: grain only in the midtones, none in black or white
    vignette_amount: float = 0.0  # darkening of the corners (-1..1; negative brightens them)
    vignette_radius: float = 0.6  # distance from the centre, as a fraction of the half-diagonal, where falloff starts

    RANGES = {
        "grain_amount": (0.0, 0.2),
        "grain_size": (0.0005, 0.01),
        "grain_luma": (0.0, 1.0),
        "vignette_amount": (-1.0, 1.0),
        "vignette_radius": (0.0, 1.0),
    }

    def __post_init__(self) -> None:
        for name, (low, high) in self.RANGES.items():
            value = float(getattr(self, name))
            if not low <= value <= high:  # NaN fails too
                raise ValueError(f"{name} must be within {low}..{high}, got {value}")
            setattr(self, name, value)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Finish":
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in values.items() if k in known})

    def scaled(self, strength: float) -> "Finish":
        """The same finish with its amounts times ``strength`` (clamped to their ranges)."""
        low_g, high_g = self.RANGES["grain_amount"]
        low_v, high_v = self.RANGES["vignette_amount"]
        return Finish(
            grain_amount=min(max(self.grain_amount * strength, low_g), high_g),
            grain_size=self.grain_size,
            grain_luma=self.grain_luma,
            vignette_amount=min(max(self.vignette_amount * strength, low_v), high_v),
            vignette_radius=self.vignette_radius,
        )


def vignette_mask(
    height: int, width: int, amount: torch.Tensor | float, radius: torch.Tensor | float, rows: tuple[int, int] | None = None
) -> torch.Tensor:
    """Multiplicative vignette (1, 1, h, W): 1 inside ``radius``, falling smoothly to ``1 - amount`` in the corners.

    rows: (first, end) to compute only those rows of an image ``height`` tall (for strip-wise processing).
    """
    first, end = rows or (0, height)
    amount = torch.as_tensor(amount, dtype=torch.float32)
    radius = torch.as_tensor(radius, dtype=torch.float32).clamp(0.0, 0.95)
    half_diagonal = 0.5 * math.hypot(height, width)
    ys = (torch.arange(first, end, dtype=torch.float32) + 0.5 - height / 2).view(-1, 1)
    xs = (torch.arange(width, dtype=torch.float32) + 0.5 - width / 2).view(1, -1)
    distance = torch.sqrt(xs**2 + ys**2) / half_diagonal  # 0 at the centre, 1 in the corners
    t = ((distance - radius) / (1.0 - radius)).clamp(0.0, 1.0)
    falloff = t * t * (3.0 - 2.0 * t)  # smoothstep
    return (1.0 - amount * falloff).view(1, 1, end - first, width)


def grain_seed_noise(height: int, width: int, size: float, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """Low-resolution white noise (B, 1, h, w), one sample per grain blob of ``size`` × shorter side."""
    blob = max(size * min(height, width), 1.0)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, max(1, round(height / blob)), max(1, round(width / blob)), generator=generator)


def grain_field(seed_noise: torch.Tensor, height: int, width: int, rows: tuple[int, int] | None = None) -> torch.Tensor:
    """Bilinearly upsample seed noise (B, 1, h, w) to rows ``first..end`` of an (H, W) image: (B, 1, rows, W).

    Every output pixel has unit variance (bilinear mixing would otherwise lower it between seed samples).
    """
    first, end = rows or (0, height)
    batch, _, small_h, small_w = seed_noise.shape
    ys = (torch.arange(first, end, dtype=torch.float32) + 0.5) * small_h / height - 0.5
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) * small_w / width - 0.5
    grid_y = (ys + 0.5) / small_h * 2 - 1
    grid_x = (xs + 0.5) / small_w * 2 - 1
    grid = torch.stack(torch.meshgrid(grid_y, grid_x, indexing="ij")[::-1], dim=-1)  # (rows, W, 2) as (x, y)
    field = F.grid_sample(seed_noise, grid.expand(batch, -1, -1, -1), mode="bilinear", padding_mode="border", align_corners=False)
    ty, tx = ys - ys.floor(), xs - xs.floor()
    variance = ((1 - ty) ** 2 + ty**2).view(-1, 1) * ((1 - tx) ** 2 + tx**2).view(1, -1)
    return field / variance.sqrt()


def apply_grain(images: torch.Tensor, amount: torch.Tensor | float, luma_dependence: torch.Tensor | float, field: torch.Tensor) -> torch.Tensor:
    """Add monochrome film grain. images (B, 3, H, W) in 0..1; field (B, 1, H, W) unit-variance noise.

    With ``luma_dependence`` 1 the grain lives in the midtones (as film grain does), none in pure black or white.
    """
    weights = torch.tensor(_LUMA, dtype=images.dtype).view(1, 3, 1, 1)
    luma = (images * weights).sum(dim=1, keepdim=True)  # (B, 1, H, W)
    dependence = torch.as_tensor(luma_dependence, dtype=images.dtype)
    envelope = (1.0 - dependence) + dependence * 4.0 * luma * (1.0 - luma)
    return (images + torch.as_tensor(amount, dtype=images.dtype) * envelope * field).clamp(0.0, 1.0)


def apply_finish(images: torch.Tensor, finish: Finish, seed: int = 0) -> torch.Tensor:
    """Vignette then grain on whole images (B, 3, H, W) in 0..1; the identity when both amounts are 0."""
    _, _, height, width = images.shape
    out = images
    if finish.vignette_amount != 0.0:
        out = (out * vignette_mask(height, width, finish.vignette_amount, finish.vignette_radius)).clamp(0.0, 1.0)
    if finish.grain_amount != 0.0:
        seed_noise = grain_seed_noise(height, width, finish.grain_size, images.shape[0], seed)
        out = apply_grain(out, finish.grain_amount, finish.grain_luma, grain_field(seed_noise, height, width))
    return out


def finish_image(image: Image.Image, finish: Finish, seed: int = 0, strip_rows: int = 256) -> Image.Image:
    """Apply a finish to an 8-bit RGB image of any size, strip by strip (bounded memory). Same result as apply_finish."""
    if finish.vignette_amount == 0.0 and finish.grain_amount == 0.0:
        return image
    width, height = image.size
    seed_noise = grain_seed_noise(height, width, finish.grain_size, 1, seed) if finish.grain_amount else None
    out = Image.new("RGB", image.size)
    for first in range(0, height, strip_rows):
        end = min(first + strip_rows, height)
        strip = torch.from_numpy(np.array(image.crop((0, first, width, end)), dtype=np.float32) / 255.0)
        strip = strip.permute(2, 0, 1).unsqueeze(0)  # (1, 3, rows, W)
        if finish.vignette_amount:
            mask = vignette_mask(height, width, finish.vignette_amount, finish.vignette_radius, rows=(first, end))
            strip = (strip * mask).clamp(0.0, 1.0)
        if seed_noise is not None:
            field = grain_field(seed_noise, height, width, rows=(first, end))
            strip = apply_grain(strip, finish.grain_amount, finish.grain_luma, field)
        array = (strip[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
        out.paste(Image.fromarray(array, "RGB"), (0, first))
    return out
