"""The two networks of the fine-tune: the look generator and the discriminator."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from .finishing import Finish
from .look import Look
from .lut import LUT_SIZE
from .lut_torch import apply_lut, identity_lut, resample_lut
from .texture import apply_grain, apply_vignette, grain_field


class LookGenerator(nn.Module):
    """Produces a look: LUT = start + residual (learned on a coarse control grid, upsampled), then grain and vignette.

    The residual starts at zero and the finishing amounts at 0, so a fresh generator reproduces ``start`` exactly.
    """

    def __init__(self, start: torch.Tensor | None = None, control_size: int = 17, learn_finish: bool = False, finish: Finish | None = None):
        super().__init__()
        self.finish = finish or Finish()  # the finish a look gets when the generator does not learn one
        self.register_buffer("start", identity_lut(LUT_SIZE) if start is None else resample_lut(start, LUT_SIZE))
        self.residual = nn.Parameter(torch.zeros(control_size, control_size, control_size, 3))
        self.learn_finish = learn_finish
        # Finishing parameters, unconstrained; mapped to their ranges in ``finish_values``.
        self.grain_raw = nn.Parameter(torch.tensor(-6.0), requires_grad=learn_finish)  # amount = max·sigmoid
        self.vignette_raw = nn.Parameter(torch.tensor(0.0), requires_grad=learn_finish)  # amount = tanh
        self.radius_raw = nn.Parameter(torch.tensor(0.0), requires_grad=learn_finish)  # radius = 0.2 + 0.6·sigmoid

    def lut(self) -> torch.Tensor:
        """The current LUT (33, 33, 33, 3), unclamped so gradients flow everywhere."""
        return self.start + resample_lut(self.residual, LUT_SIZE)

    def finish_values(self) -> dict[str, torch.Tensor]:
        """Finishing parameters as tensors in their ranges (all 0 amounts unless ``learn_finish``)."""
        if not self.learn_finish:
            zero = torch.zeros(())
            return {"grain_amount": zero, "vignette_amount": zero, "vignette_radius": torch.tensor(0.6)}
        return {
            "grain_amount": Finish.RANGES["grain_amount"][1] * torch.sigmoid(self.grain_raw),
            "vignette_amount": torch.tanh(self.vignette_raw),
            "vignette_radius": 0.2 + 0.6 * torch.sigmoid(self.radius_raw),
        }

    def forward(self, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Stylize (B, 3, H, W) images in 0..1 → (B, 3, H, W), differentiable in every parameter."""
        out = apply_lut(images, self.lut())
        if not self.learn_finish:
            return out.clamp(0.0, 1.0)
        values = self.finish_values()
        _, _, height, width = images.shape
        noise = grain_field(height, width, Finish.grain_size, images.shape[0], seed)
        out = apply_grain(out.clamp(0.0, 1.0), values["grain_amount"], Finish.grain_luma, noise)
        return apply_vignette(out, values["vignette_amount"], values["vignette_radius"])

    def to_look(self, name: str = "Untitled look", metadata: dict | None = None) -> Look:
        """Freeze the generator into a Look (LUT clamped to 0..1)."""
        values = {k: float(v.detach()) for k, v in self.finish_values().items()}
        finish = Finish(**values) if self.learn_finish else self.finish
        return Look(lut=self.lut().detach().clamp(0.0, 1.0), finish=finish, name=name, metadata=dict(metadata or {}))


def soft_histograms(images: torch.Tensor, bins: int = 16, bandwidth: float = 1.0) -> torch.Tensor:
    """Differentiable per-image colour histograms: (B, 3, H, W) in 0..1 → (B, 3·bins + bins²).

    Per channel a 1D histogram of R, G, B; plus a 2D histogram of the two opponent chroma axes. Each pixel
    spreads over nearby bins with a Gaussian kernel of ``bandwidth`` bins.
    """
    batch = images.shape[0]
    pixels = images.flatten(2)  # (B, 3, N)
    centres = (torch.arange(bins, dtype=images.dtype) + 0.5) / bins
    sigma = bandwidth / bins

    def kernel(values: torch.Tensor) -> torch.Tensor:  # (B, N) → (B, N, bins), rows sum to 1
        weights = torch.exp(-0.5 * ((values.unsqueeze(-1) - centres) / sigma) ** 2)
        return weights / weights.sum(-1, keepdim=True).clamp_min(1e-8)

    channel_hist = torch.stack([kernel(pixels[:, c]).mean(1) for c in range(3)], dim=1).reshape(batch, -1)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    opponent_1 = ((r - g) + 1.0) / 2.0  # red–green in 0..1
    opponent_2 = ((r + g) / 2.0 - b + 1.0) / 2.0  # yellow–blue in 0..1
    joint = torch.einsum("bni,bnj->bij", kernel(opponent_1), kernel(opponent_2)) / pixels.shape[-1]
    return torch.cat([channel_hist, joint.reshape(batch, -1)], dim=1)


class PatchDiscriminator(nn.Module):
    """A small PatchGAN: (B, 3, H, W) in 0..1 → (B, 1, H/8, W/8) real/fake logits, one per receptive field."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.layers = nn.Sequential(
            spectral_norm(nn.Conv2d(3, width, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(2 * width, 2 * width, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(2 * width, 1, 3, padding=1)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images * 2.0 - 1.0)


class ColourStatsHead(nn.Module):
    """Scores an image's colour statistics (soft histograms) as real or fake: (B, 3, H, W) → (B, 1)."""

    def __init__(self, bins: int = 16, hidden: int = 64):
        super().__init__()
        self.bins = bins
        features = 3 * bins + bins * bins
        self.mlp = nn.Sequential(
            spectral_norm(nn.Linear(features, hidden)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Linear(hidden, 1)),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        histograms = soft_histograms(images, self.bins)
        return self.mlp(torch.sqrt(histograms * self.bins + 1e-6))  # sqrt evens out dominant bins


class Discriminator(nn.Module):
    """Multi-scale patch discriminator plus colour-statistics head, all spectrally normalised.

    forward returns a list of logit tensors, one per head: patches at full and half scale, then colour statistics.
    """

    def __init__(self, width: int = 32, scales: int = 2, bins: int = 16):
        super().__init__()
        self.patches = nn.ModuleList(PatchDiscriminator(width) for _ in range(scales))
        self.colour = ColourStatsHead(bins)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        logits = []
        scaled = images
        for index, patch in enumerate(self.patches):
            if index:
                scaled = F.avg_pool2d(scaled, 2)
            logits.append(patch(scaled))
        logits.append(self.colour(images))
        return logits

