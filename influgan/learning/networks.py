"""The fine-tune's generator: a look as a LUT (start + learned residual) with the finish it carries."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..looks.finishing import Finish
from ..looks.look import Look
from ..looks.lut import LUT_SIZE
from .lut_torch import identity_lut, resample_lut


class LookGenerator(nn.Module):
    """Produces a look: LUT = start + residual (learned on a coarse control grid, upsampled), plus a finish.

    The residual starts at zero, so a fresh generator reproduces ``start`` exactly. The finish (grain, vignette) is
    not learned by gradient here: the fine-tune reads it from the feed (``finish_estimate``) or has the texture
    discriminators learn it (``texture_adversary``), and sets ``finish``.
    """

    def __init__(self, start: torch.Tensor | None = None, control_size: int = 17, finish: Finish | None = None):
        super().__init__()
        self.register_buffer("start", identity_lut(LUT_SIZE) if start is None else resample_lut(start, LUT_SIZE))
        self.residual = nn.Parameter(torch.zeros(control_size, control_size, control_size, 3))
        self.finish = finish or Finish()

    def lut(self) -> torch.Tensor:
        """The current LUT (33, 33, 33, 3), unclamped so gradients flow everywhere."""
        return self.start + resample_lut(self.residual, LUT_SIZE)

    def to_look(self, name: str = "Untitled look", metadata: dict | None = None) -> Look:
        """Freeze the generator into a Look (LUT clamped to 0..1) with its finish."""
        return Look(lut=self.lut().detach().clamp(0.0, 1.0), finish=self.finish, name=name, metadata=dict(metadata or {}))
