"""Subject-aware looks: where a look goes on a photo, from its person and skin masks.

``subject_masks(photo)`` computes, once per photo, a person mask (the selfie segmentation network, settled by the
photo's colours where it is unsure) and a skin mask (a per-photo colour model inside the person) at a work
resolution, both refined by a guided filter on the photo's luma. ``SubjectMasks.blender(photo, protect_skin,
apply_to)`` then gives what ``Look.apply`` calls on each strip: the styled strip blended with the original by a
full-size weight, upsampled edge-aware from the work resolution:

    out = original + weight · (styled − original),   weight = side(person) · (1 − protect_skin · skin)

where side is 1 (whole photo), person (subject) or 1 − person (background). The blend composes with every stage
of a look (colour, finishing, anything added later), as it only sees the final styled strip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image

from .guided import FullSizeMask, GuidedUpsampler
from .person_colour import settle_by_colour
from .selfie import LANDSCAPE_ASPECT, selfie_segmenter
from .skin import lab, skin_probability

APPLY_TO = ("whole", "subject", "background")
WORK_SIDE = 512  # long side of the work resolution, pixels: masks are smooth, their edges come from the guide
PERSON_AREA = 0.01  # a person is found when at least this share of the photo is more person than not
NO_PERSON = "no person found: the look goes on the whole photo"


def check_controls(protect_skin: float, apply_to: str) -> None:
    """ValueError with a one-line reason for a protect_skin outside 0..1 or an unknown apply_to."""
    if isinstance(protect_skin, bool) or not isinstance(protect_skin, (int, float)) or not 0.0 <= protect_skin <= 1.0:
        raise ValueError(f"protect_skin must be a number within 0..1, got {str(protect_skin)[:20]}")
    if apply_to not in APPLY_TO:
        raise ValueError(f"apply_to must be one of {', '.join(APPLY_TO)}, got {str(apply_to)[:20]!r}")


def _work_image(image: Image.Image) -> Image.Image:
    """The photo at the work resolution (long side WORK_SIDE, never enlarged), RGB."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    scale = min(1.0, WORK_SIDE / max(rgb.size))
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(size, Image.BILINEAR, reducing_gap=2.0) if size != rgb.size else rgb


def person_probability(work: Image.Image) -> np.ndarray:
    """The network's person probability (h, w) float32 0..1 at the work image's own size."""
    net = selfie_segmenter(landscape=work.width >= LANDSCAPE_ASPECT * work.height)
    low = Image.fromarray(net(work), "F")
    return np.asarray(low.resize(work.size, Image.BILINEAR), dtype=np.float32)


@dataclass
class SubjectMasks:
    """A photo's masks at the work resolution: person and skin (h, w) float32 0..1, refined on the photo's luma.

    size: (W, H) of the full photo they belong to; has_person: whether a person was found (else subject and
    background both mean the whole photo). Kept per photo (about 4 MB at 512 px, guide included), blended many times.
    """

    person: np.ndarray
    skin: np.ndarray
    size: tuple[int, int]
    has_person: bool
    guide: GuidedUpsampler = field(repr=False)
    _last_full_size: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def note(self, apply_to: str) -> str | None:
        """One line for the user when the request cannot be honoured as asked, else None."""
        return NO_PERSON if apply_to != "whole" and not self.has_person else None

    def weight(self, protect_skin: float = 0.0, apply_to: str = "whole") -> np.ndarray:
        """How much of the look each work pixel gets, (h, w) float32 0..1."""
        check_controls(protect_skin, apply_to)
        side = self.person if apply_to == "subject" else 1.0 - self.person
        side = side if self.has_person and apply_to != "whole" else np.ones_like(self.person)
        return side * (1.0 - protect_skin * self.skin)

    def full_size(self, photo: Image.Image, protect_skin: float = 0.0, apply_to: str = "whole") -> FullSizeMask:
        """The weight as a full-size mask of ``photo`` (the photo these masks are of), edge-aware on its luma.
        The last one is kept: a preview whose strength or grain moves blends with it again at no cost."""
        if photo.size != self.size:
            raise ValueError(f"masks are for a {self.size[0]}×{self.size[1]} photo, not {photo.width}×{photo.height}")
        key = (protect_skin, apply_to, photo.reduce(max(1, max(photo.size) // 32)).tobytes())  # the photo's thumbprint
        last = self._last_full_size
        if last is not None and last[0] == key:
            return last[1]
        a, b = self.guide.coefficients(self.weight(protect_skin, apply_to))
        mask = FullSizeMask(a, b, photo)
        self._last_full_size = (key, mask)
        return mask

    def blender(self, photo: Image.Image, protect_skin: float = 0.0,
                apply_to: str = "whole") -> Callable[[Image.Image, Image.Image, int], Image.Image] | None:
        """``blend(original_strip, styled_strip, first_row)`` for ``Look.apply`` on ``photo``; None when every
        pixel gets the whole look (nothing to blend)."""
        check_controls(protect_skin, apply_to)
        if protect_skin == 0.0 and (apply_to == "whole" or not self.has_person):
            return None
        mask = self.full_size(photo, protect_skin, apply_to)

        def blend(original: Image.Image, styled: Image.Image, first: int) -> Image.Image:
            return Image.composite(styled, original, mask.strip(first, original.height))

        return blend


def work_guide(work: Image.Image) -> GuidedUpsampler:
    """The guided filter's side of a photo at the work resolution (its luma, window 1/128 of the long side)."""
    luma = np.asarray(work.convert("L"), dtype=np.float32) / 255.0
    return GuidedUpsampler(luma, radius=max(2, round(max(work.size) / 128)))


def subject_masks(image: Image.Image, person: np.ndarray | None = None) -> SubjectMasks:
    """Person and skin masks of an 8-bit photo (any mode; RGBA is read as its colours).

    The network's person mask is settled by the photo's colours where it is unsure (``person_colour``).
    person: an optional (h, w) 0..1 person mask to use instead of the network's, at any size (benches, tests,
    a caller's own segmentation); it is resized to the work resolution and taken as given.
    """
    work = _work_image(image)
    guide = work_guide(work)
    colours = lab(work)
    if person is None:
        raw = settle_by_colour(colours, person_probability(work))
    else:
        raw = np.asarray(Image.fromarray(np.asarray(person, np.float32), "F").resize(work.size, Image.BILINEAR))
    refined = guide.filter(np.clip(raw, 0.0, 1.0))
    has_person = float((refined > 0.5).mean()) >= PERSON_AREA
    skin = skin_probability(colours, refined) if has_person else np.zeros_like(refined)
    skin = np.minimum(guide.filter(skin), refined)  # never beyond the person: no glow into the background
    return SubjectMasks(refined, skin, image.size, has_person, guide)
