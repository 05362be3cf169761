"""Learning a feed's finishing adversarially: discriminators on texture, against the generator's finish on the
user's content photos.

- Grain: a patch discriminator sees 32×32 tiles of high-pass luminance (the flat tiles ``finish_estimate`` reads,
  at two scales, divided by the grain's tone response at the tile's tone): the references' against the content
  photos' (shrunk to the references' size) with the generator's grain added, vignetted, and put through the
  references' JPEG quantisation (straight-through: the gradient passes as if JPEG were the identity). Grain size is
  made differentiable by mixing the fields of two neighbouring sizes of a grid (unit variance kept).
- Vignette: a small MLP scores (ρ, outward log-luma slope) pairs of 8×8 blocks: the references' against the content
  photos' with the slope the generator's vignette adds, d/dρ log(1 − a·f(ρ)).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from .finish_estimate import TILE, _UNIT_TONE, ReferenceTexture, _detrend, through_jpeg
from ..looks.finishing import Finish, grain_field, grain_tone_table

SIZES = np.exp(np.linspace(math.log(0.0006), math.log(0.01), 9))  # the grid the size moves along


def spectral_trunk(width: int) -> list[nn.Module]:
    """The body both texture discriminators share (this module's and ``texture_stats.PatchDiscriminator``): three
    spectral-norm 3×3 convs on one channel, the second and third of stride 2, each followed by a leaky ReLU."""
    return [
        spectral_norm(nn.Conv2d(1, width, 3, padding=1)), nn.LeakyReLU(0.2),
        spectral_norm(nn.Conv2d(width, width, 3, stride=2, padding=1)), nn.LeakyReLU(0.2),
        spectral_norm(nn.Conv2d(width, width, 3, stride=2, padding=1)), nn.LeakyReLU(0.2),
    ]


class TextureDiscriminator(nn.Module):
    """(B, 1, T, T) tone-scaled high-pass luma tiles → (B,) logits, from the tiles at full and half scale."""

    def __init__(self, width: int = 24):
        super().__init__()

        def branch() -> nn.Sequential:
            return nn.Sequential(*spectral_trunk(width), nn.AdaptiveAvgPool2d(1), nn.Flatten(), spectral_norm(nn.Linear(width, 1)))

        self.fine, self.coarse = branch(), branch()

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        return (self.fine(tiles) + self.coarse(F.avg_pool2d(tiles, 2) * 2.0)).squeeze(-1)


class SlopeDiscriminator(nn.Module):
    """(N, 2) (ρ, outward slope) pairs → (N,) logits."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.mlp = nn.Sequential(
            spectral_norm(nn.Linear(2, hidden)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, hidden)), nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, 1)),
        )

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.mlp(pairs).squeeze(-1)


def vignette_slope(rho: torch.Tensor, amount: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """d/dρ log(1 − amount·f(ρ)) of a vignette towards black, differentiable in amount and radius."""
    t = ((rho - radius) / (1.0 - radius)).clamp(0.0, 1.0)
    f, slope = t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t) / (1.0 - radius)
    return -amount * slope / (1.0 - amount * f).clamp_min(1e-3)


class FinishAdversary:
    """The finish as parameters, its two discriminators and their optimisers; ``step`` is one update of each."""

    def __init__(self, references: Sequence[ReferenceTexture], content: Sequence[ReferenceTexture], generator: torch.Generator,
                 start: Finish | None = None, lr: float = 0.05, discriminator_lr: float = 0.002, batch: int = 32):
        self.generator, self.batch = generator, batch
        real = np.concatenate([r.tiles for r in references])
        self.real = torch.from_numpy(self._scaled(real, real))
        self.qtable = next((r.qtable for r in references if r.qtable), None)
        short = float(np.median([r.short_side for r in references]))
        self.content = np.concatenate([c.tiles for c in content]).astype(np.float32)
        self.content_rho = torch.from_numpy(np.concatenate([c.tile_rho for c in content])).float()
        smooth = self.content - _detrend(self.content)
        self.tone_index = torch.from_numpy(np.clip(np.rint(smooth), 0, 255).astype(np.int64))
        fields = [grain_field(TILE * len(self.content), TILE, size * short / TILE, seed=1).reshape(-1, TILE, TILE) for size in SIZES]
        self.fields = torch.from_numpy(np.stack(fields))  # (sizes, n, T, T)
        self.unit_tone = torch.from_numpy(grain_tone_table(1.0, Finish.grain_luma))
        self.real_slopes = torch.from_numpy(np.stack([np.concatenate([r.slopes["rho_black"] for r in references]),
                                                      np.concatenate([r.slopes["black"] for r in references])], 1)).float()
        self.fake_slopes = torch.from_numpy(np.stack([np.concatenate([c.slopes["rho_black"] for c in content]),
                                                      np.concatenate([c.slopes["black"] for c in content])], 1)).float()
        start = start or Finish()
        high = Finish.RANGES["grain_amount"][1]
        position = float(np.interp(math.log(start.grain_size), np.log(SIZES), np.arange(len(SIZES))))
        self.parameters = {
            "grain": torch.tensor(math.log((start.grain_amount + 0.3) / (high - start.grain_amount + 1e-3)), requires_grad=True),
            "size": torch.tensor(position, requires_grad=True),
            "vignette": torch.tensor(math.log((max(start.vignette_amount, 0.0) + 0.02) / (0.95 - max(start.vignette_amount, 0.0))), requires_grad=True),
            "radius": torch.tensor(math.log((start.vignette_radius - 0.2 + 1e-3) / (0.85 - start.vignette_radius + 1e-3)), requires_grad=True),
        }
        self.tiles_d, self.slopes_d = TextureDiscriminator(), SlopeDiscriminator()
        self.optimizer = torch.optim.Adam(self.parameters.values(), lr=lr, betas=(0.5, 0.9))
        self.d_optimizer = torch.optim.Adam(list(self.tiles_d.parameters()) + list(self.slopes_d.parameters()), lr=discriminator_lr, betas=(0.5, 0.99))

    @staticmethod
    def _scaled(tiles: np.ndarray, smooth_from: np.ndarray) -> np.ndarray:
        """High-pass tiles divided by the unit grain tone at each tile's mean: (n, 1, T, T) float32."""
        high = _detrend(tiles.astype(np.float32))
        tone = _UNIT_TONE[np.clip(np.rint(smooth_from.mean((1, 2))), 0, 255).astype(np.int64)]
        return (high / np.maximum(tone, 0.3)[:, None, None])[:, None].astype(np.float32)

    def values(self) -> dict[str, torch.Tensor]:
        p = self.parameters
        return {
            "grain_amount": Finish.RANGES["grain_amount"][1] * torch.sigmoid(p["grain"]),
            "size": p["size"].clamp(0.0, len(SIZES) - 1.0),
            "vignette_amount": 0.95 * torch.sigmoid(p["vignette"]),
            "vignette_radius": 0.2 + 0.65 * torch.sigmoid(p["radius"]),
        }

    def finish(self) -> Finish:
        v = {k: float(t.detach()) for k, t in self.values().items()}
        low, high = Finish.RANGES["grain_size"]
        size = float(np.clip(math.exp(np.interp(v["size"], np.arange(len(SIZES)), np.log(SIZES))), low, high))
        return Finish(grain_amount=v["grain_amount"], grain_size=size, vignette_amount=v["vignette_amount"], vignette_radius=v["vignette_radius"])

    def _fake(self, index: torch.Tensor, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """Content tiles ``index`` with the generator's grain and vignette, through JPEG (straight-through)."""
        position = values["size"]
        low = position.detach().floor().long().clamp(max=len(SIZES) - 2)
        w = position - low
        field = torch.cos(0.5 * math.pi * w) * self.fields[low, index] + torch.sin(0.5 * math.pi * w) * self.fields[low + 1, index]
        rho, radius = self.content_rho[index], values["vignette_radius"]
        t = ((rho - radius) / (1.0 - radius)).clamp(0.0, 1.0)
        keep = 1.0 - values["vignette_amount"] * t * t * (3.0 - 2.0 * t)  # what the vignette leaves of the grain
        grain = values["grain_amount"] * self.unit_tone[self.tone_index[index]] * field
        tiles = torch.from_numpy(self.content[index.numpy()]) + grain * keep[:, None, None]
        if self.qtable is not None:
            compressed = torch.from_numpy(through_jpeg(np.clip(np.rint(tiles.detach().numpy()), 0, 255).astype(np.uint8), self.qtable, columns=8))
            tiles = tiles + (compressed - tiles).detach()
        smooth = torch.from_numpy(self.content[index.numpy()] - _detrend(self.content[index.numpy()]))
        high = tiles - smooth
        high = high - high.mean((1, 2), keepdim=True)
        tone = self.unit_tone[torch.from_numpy(np.clip(np.rint(smooth.mean((1, 2)).numpy()), 0, 255).astype(np.int64))]
        return (high / tone.clamp_min(0.3)[:, None, None]).unsqueeze(1)

    def step(self) -> dict[str, float]:
        g = self.generator
        real_index = torch.randint(len(self.real), (self.batch,), generator=g)
        fake_index = torch.randint(len(self.content), (self.batch,), generator=g)
        real_pairs = self.real_slopes[torch.randint(len(self.real_slopes), (1024,), generator=g)]
        fake_rows = torch.randint(len(self.fake_slopes), (1024,), generator=g)
        values = self.values()

        def fake_pairs(v):
            rho, slope = self.fake_slopes[fake_rows, 0], self.fake_slopes[fake_rows, 1]
            return torch.stack([rho, slope + vignette_slope(rho, v["vignette_amount"], v["vignette_radius"])], 1)

        with torch.no_grad():
            fake_tiles, fake_slopes = self._fake(fake_index, values), fake_pairs(values)
        d_loss = (F.relu(1.0 - self.tiles_d(self.real[real_index])).mean() + F.relu(1.0 + self.tiles_d(fake_tiles)).mean()
                  + F.relu(1.0 - self.slopes_d(real_pairs)).mean() + F.relu(1.0 + self.slopes_d(fake_slopes)).mean())
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_optimizer.step()

        for network in (self.tiles_d, self.slopes_d):
            network.requires_grad_(False)
        values = self.values()
        g_loss = -self.tiles_d(self._fake(fake_index, values)).mean() - self.slopes_d(fake_pairs(values)).mean()
        self.optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer.step()
        for network in (self.tiles_d, self.slopes_d):
            network.requires_grad_(True)
        return {"texture_discriminator": float(d_loss.detach()), "texture_generator": float(g_loss.detach())}
