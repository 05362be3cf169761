"""Differentiable twins of the painterly renderers (``looks/painterly.py``), for fitting brushwork by gradient.

The renderers are written once against a few array operations; here those operations are torch's, so
``render_brushwork_torch`` computes what ``render_brushwork`` computes on a photo no larger than its working size
(``painterly.WORK_SIDE``), and gradients flow to the parameters (brush sizes enter through the kernels' widths,
amounts through the mixing). Noise fields are the NumPy ones, so both see the same paper and bristles.

    images = torch.rand(2, 3, 256, 256)
    params = {"brush": torch.tensor(0.01, requires_grad=True)}
    out = render_brushwork_torch(images, "oil", params)      # (2, 3, 256, 256) in 0..1
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..looks.painterly import _TRUNCATE, STYLES, render_native


class TorchOps:
    """The operations of ``painterly.NumpyOps`` on torch tensors laid out (…, C, H, W); edges repeat the border."""

    lib = torch

    def blur(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Gaussian blur of the last two axes with scipy's kernel (``sigma`` in pixels, a float or a 0-dim tensor)."""
        value = self.to_float(sigma)
        if value < 0.2:
            return x
        radius = int(_TRUNCATE * value + 0.5)
        offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
        weights = torch.exp(-0.5 * offsets * offsets / (sigma * sigma))
        weights = weights / weights.sum()
        shape = x.shape
        flat = x.reshape(-1, 1, shape[-2], shape[-1])
        flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), weights.view(1, 1, 1, -1))
        flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), weights.view(1, 1, -1, 1))
        return flat.reshape(shape)

    def correlator(self, x: torch.Tensor, radius: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """A function kernel (2r+1, 2r+1) → the correlation of x (…, C, H, W) with it, channel by channel."""
        shape = x.shape
        flat = x.reshape(-1, 1, shape[-2], shape[-1])
        padded = F.pad(flat, (radius, radius, radius, radius), mode="replicate")

        def correlate(kernel: torch.Tensor) -> torch.Tensor:
            return F.conv2d(padded, kernel.to(x.dtype)[None, None]).reshape(shape)

        return correlate

    def grid(self, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = torch.arange(-radius, radius + 1, dtype=torch.float32)
        return torch.meshgrid(r, r, indexing="ij")

    def gradient(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = x.shape
        padded = F.pad(x.reshape(-1, 1, shape[-2], shape[-1]), (1, 1, 1, 1), mode="replicate")
        gy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
        gx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
        return gy.reshape(shape), gx.reshape(shape)

    def stack(self, arrays, axis: int = -3):
        arrays = list(arrays)
        shape = torch.broadcast_shapes(*(a.shape for a in arrays))
        return torch.stack([a.expand(shape) for a in arrays], dim=axis)

    def clip(self, x, low, high):
        return torch.clamp(x, low, high)

    def maximum(self, x, y):
        return torch.clamp(x, min=y) if not torch.is_tensor(y) else torch.maximum(x, y)

    def minimum(self, x, y):
        return torch.clamp(x, max=y) if not torch.is_tensor(y) else torch.minimum(x, y)

    def where(self, condition, x, y):
        return torch.where(condition, x, y)

    def atan2(self, y, x):
        return torch.atan2(y, x)

    def power(self, x, exponent):
        return x**exponent

    def scalar(self, value):
        return value

    def to_float(self, value) -> float:
        return float(value.detach()) if torch.is_tensor(value) else float(value)


_OPS = TorchOps()


def render_brushwork_torch(images: torch.Tensor, style: str, params: dict[str, torch.Tensor], seed: int = 0) -> torch.Tensor:
    """A painterly style on a batch: images (B, 3, H, W) in 0..1 → (B, 3, H, W) in 0..1, differentiable in the
    images and in ``params`` (0-dim tensors or floats, named as in ``STYLES[style].params``; missing ones take
    their defaults). Matches ``render_brushwork`` at amount 1 on photos whose shorter side is ≤ ``WORK_SIDE``."""
    if style not in STYLES:
        raise ValueError(f"unknown brushwork style {str(style)[:40]!r}; known: {', '.join(STYLES)}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"render_brushwork_torch needs images (B, 3, H, W), got {tuple(images.shape)}")
    spec = STYLES[style]
    unknown = set(params) - set(spec.params)
    if unknown:
        raise ValueError(f"{style} brushwork has no parameter {sorted(unknown)[0]!r}; known: {', '.join(spec.params)}")
    values = {name: torch.as_tensor(params.get(name, p.default), dtype=images.dtype) for name, p in spec.params.items()}

    def wrap(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(images.dtype)

    return render_native(images, style, values, seed, ops=_OPS, wrap=wrap)
