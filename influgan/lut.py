"""3D colour lookup tables: identity, differentiable apply, fast 8-bit apply, strength blend.

A LUT is a float tensor of shape (S, S, S, 3) indexed ``lut[b, g, r]`` with values in 0..1, so that
``lut.reshape(-1, 3)`` lists the entries with red varying fastest, as in ``.cube`` files and in Pillow's
``Color3DLUT`` table.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

LUT_SIZE = 33
MAX_STRENGTH = 1.5
STRIP_ROWS = 512  # rows per strip in a full-resolution apply (a 48 MP photo: 12 MB a strip)


def identity_lut(size: int = LUT_SIZE, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The LUT that maps every colour to itself. Returns (size, size, size, 3)."""
    if size < 2:
        raise ValueError(f"LUT size must be at least 2, got {size}")
    axis = torch.linspace(0.0, 1.0, size, dtype=dtype)
    b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([r, g, b], dim=-1)


def check_lut(lut: torch.Tensor) -> int:
    """Raise ValueError unless ``lut`` is (S, S, S, 3) with finite values; return S."""
    if lut.ndim != 4 or lut.shape[-1] != 3 or not (lut.shape[0] == lut.shape[1] == lut.shape[2]):
        raise ValueError(f"a LUT must have shape (S, S, S, 3), got {tuple(lut.shape)}")
    if lut.shape[0] < 2:
        raise ValueError(f"LUT size must be at least 2, got {lut.shape[0]}")
    if not torch.isfinite(lut).all():
        raise ValueError("LUT holds NaN or infinite values")
    return lut.shape[0]


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


def blend_lut(lut: torch.Tensor, strength: float) -> torch.Tensor:
    """Blend identity (strength 0) with ``lut`` (strength 1); up to 1.5 extrapolates. Clamped to 0..1."""
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise ValueError(f"strength must be within 0..{MAX_STRENGTH}, got {strength}")
    identity = identity_lut(lut.shape[0], lut.dtype)
    return (identity + strength * (lut - identity)).clamp(0.0, 1.0)


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


def pillow_lut(lut: torch.Tensor) -> ImageFilter.Color3DLUT:
    """The same LUT as a Pillow filter (C code, for 8-bit images at full resolution)."""
    size = check_lut(lut)
    table = lut.detach().to(torch.float64).clamp(0.0, 1.0).reshape(-1).numpy()
    return ImageFilter.Color3DLUT(size, table, channels=3)


def apply_lut_image(image: Image.Image, lut: torch.Tensor, threads: int = 0) -> Image.Image:
    """Apply a LUT to an 8-bit RGB image at full resolution.

    Large images are filtered in strips of STRIP_ROWS rows, ``threads`` at a time (Pillow releases the GIL): the
    memory beyond input and output stays a few strips, whatever the size. threads: 0 means one per torch thread.
    """
    if image.mode != "RGB":
        raise ValueError(f"apply_lut_image needs an RGB image, got mode {image.mode}")
    lut_filter = pillow_lut(lut)
    threads = threads or max(1, torch.get_num_threads())
    width, height = image.size
    if threads == 1 or width * height < 1_000_000:
        return image.filter(lut_filter)
    boxes = [(0, top, width, min(top + STRIP_ROWS, height)) for top in range(0, height, STRIP_ROWS)]
    out = Image.new("RGB", image.size)
    with ThreadPoolExecutor(threads) as pool:
        for box, strip in zip(boxes, pool.map(lambda box: image.crop(box).filter(lut_filter), boxes)):
            out.paste(strip, box[:2])
    return out
