"""Edge-aware upsampling of a low-resolution mask to a photo's full size: the guided filter (He, Sun and Tang,
"Guided Image Filtering", 2013) in its fast form (He and Sun, "Fast Guided Filter", 2015).

At a work resolution the filter fits, in every window, the mask as a linear function of the photo's luma,
``mask ≈ a · luma + b``; the coefficients are smooth, so they are upsampled bilinearly and evaluated against the
full-resolution luma: the mask's edges land on the photo's own edges (hair, shoulders) without halo, and stay soft.
NumPy and Pillow only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean of x (H, W) float32 over a (2r+1)² window, windows shrunk at the borders (so edges are not darkened);
    O(1) a pixel by cumulative sums, one axis at a time."""

    def window_sums(values: np.ndarray, axis: int) -> np.ndarray:
        n = values.shape[axis]
        c = np.cumsum(values, axis=axis, dtype=np.float32)
        c = np.concatenate([np.zeros_like(c.take([0], axis=axis)), c], axis=axis)
        hi = np.minimum(np.arange(n) + radius + 1, n)
        lo = np.maximum(np.arange(n) - radius, 0)
        return c.take(hi, axis=axis) - c.take(lo, axis=axis), (hi - lo).astype(np.float32)

    rows, row_counts = window_sums(np.asarray(x, np.float32), 0)
    sums, col_counts = window_sums(rows, 1)
    return sums / np.outer(row_counts, col_counts)


@dataclass
class GuidedUpsampler:
    """The guide's side of a guided filter at the work resolution, reused for every mask of one photo.

    luma: (h, w) float32 in 0..1, the photo's luma at the work resolution; radius: window radius in work pixels;
    eps: regularisation (variance of luma below which a window's mask stays flat rather than follows edges).
    """

    luma: np.ndarray
    radius: int = 4
    eps: float = 1e-3

    def __post_init__(self) -> None:
        self.mean_luma = box_mean(self.luma, self.radius)
        self.var_luma = box_mean(self.luma * self.luma, self.radius) - self.mean_luma**2

    def coefficients(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a, b), each (h, w) float32, such that ``a · luma + b`` is the filtered mask (h, w) 0..1."""
        mean_mask = box_mean(mask, self.radius)
        cov = box_mean(self.luma * mask, self.radius) - self.mean_luma * mean_mask
        a = cov / (self.var_luma + self.eps)
        b = mean_mask - a * self.mean_luma
        return box_mean(a, self.radius), box_mean(b, self.radius)

    def filter(self, mask: np.ndarray) -> np.ndarray:
        """The mask (h, w) filtered at the work resolution, 0..1."""
        a, b = self.coefficients(mask)
        return np.clip(a * self.luma + b, 0.0, 1.0)


DETAIL_PIXELS = 2_100_000  # the mask is evaluated against the photo's luma at up to this size (1080p exactly)


def detail_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size at which a photo of ``size`` (W, H) has its mask evaluated: its own up to DETAIL_PIXELS (previews,
    1080p frames), else scaled down to that many pixels (a 12 MP photo: ~1680×1260); the 8-bit mask is then
    enlarged bilinearly, a softness of 1–2 px at full size that no one sees next to the speed it saves (6×)."""
    width, height = size
    scale = min(1.0, (DETAIL_PIXELS / max(1, width * height)) ** 0.5)
    return max(1, round(width * scale)), max(1, round(height * scale))


class FullSizeMask:
    """A mask known as guided-filter coefficients at the work resolution, evaluated against the photo's own luma
    at its detail size (``detail_size``) and handed out a strip of the full size at a time.

    photo: the full photo (any mode; only its luma is read). ``strip(first, rows)`` gives rows ``first``..
    ``first + rows`` of the full-size mask as an 8-bit ``L`` image (255: 1.0); strips agree with ``image()``
    exactly (Pillow's resize maps a box of the detail mask with the same pixel centres as the whole resize).
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, photo: Image.Image):
        self.size = photo.size
        detail = detail_size(photo.size)
        small = photo.resize(detail, Image.BILINEAR, reducing_gap=2.0) if detail != photo.size else photo
        luma = small.convert("L")  # reduced first: a 100 MP photo never gets a full-size luma copy
        a_up = np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(detail, Image.BILINEAR))
        b_up = np.asarray(Image.fromarray((b * 255.0).astype(np.float32), "F").resize(detail, Image.BILINEAR))
        value = a_up * np.asarray(luma, dtype=np.float32) + b_up  # luma in 0..255, b in 0..255: the mask in 0..255
        self.detail = Image.fromarray(np.clip(value + 0.5, 0, 255).astype(np.uint8), "L")

    def strip(self, first: int, rows: int) -> Image.Image:
        """Rows ``first``..``first + rows`` of the full-size mask (``L``, the photo's width)."""
        width, height = self.size
        if self.detail.size == self.size:
            return self.detail.crop((0, first, width, first + rows))
        scale = self.detail.height / height
        box = (0.0, first * scale, float(self.detail.width), (first + rows) * scale)
        return self.detail.resize((width, rows), Image.BILINEAR, box=box)

    def image(self) -> Image.Image:
        """The whole full-size mask (``L``), for benches and tests."""
        return self.strip(0, self.size[1])
