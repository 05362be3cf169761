"""Learning a feed's brushwork: is the feed painterly at all, which renderer, and its parameters.

Renders are compared with the references at the references' own scale: content photos are brought to the
references' shorter side (at most ``native`` px), cut into square crops whose side is that shorter side — a
renderer's sizes are fractions of the shorter side, so a crop renders exactly as the whole photo would — rendered
by the product renderer (``render_brushwork``), and references and renders alike are shrunk by box averaging to
about ``side`` px for the judge (fine lines and dots keep their share of each pixel; rendering at the small size
instead would alias them: tried first, see docs/experiments.md). One to three large images (paintings) give
several crops each, across their longer side (``reference_crops``).

1. The decision: the texture distance (``texture_stats``: random multi-scale filters on contrast-normalised luma,
   so colour and contrast, the LUT's job, do not count) between the content crops and the references (``gap``),
   against the distance between random splits of the references (``noise``: they differ by scene alone). A photo
   feed's gap is about its noise; no renderer is tried unless gap > GAP_RATIO × noise and there are at least
   MIN_CROPS reference crops (cheap).
2. The search: every style at a few sizes (its size parameter on a log grid, the others at their defaults), scored
   by ``loss``: "stats" the texture distance, "gan" a patch discriminator trained on the references against all the
   candidates' renders, "both" their sum; then the best style's size on a finer grid and a few other parameters
   up and down a quarter of their range (coordinate search: every score is a product render).
3. The fitted stage is kept only if it explains the gap: its remaining texture distance is at most KEEP_SHARE ×
   the gap and below GRAIN_SHARE × that of the contents with the feed's grain alone. Otherwise None — a false
   stroke on a creator's photos is the worst outcome.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..looks.finishing import Finish, finish_image
from ..looks.painterly import STYLES, Brushwork, render_brushwork
from .texture_stats import PatchDiscriminator, RandomTextureFeatures, texture_distance

LOSSES = ("stats", "gan", "both")
BRUSHWORK_READ = 1080  # references and contents are read at most this large (longer side) for the fit
# the parameter that sets each style's scale: searched on a grid (the noise fields' cells follow it, so it is
# not a smooth function of the render); the others are fitted by gradient
SIZE_PARAM = {"oil": "brush", "watercolour": "wash", "ink": "line_width", "cartoon": "smoothing", "halftone": "dot_size"}
GAP_RATIO = 2.5  # the references must differ from the content photos by this many times their own noise (1.5 let
# the shipped example feed, plain photos, get oil or watercolour with 2–3 content photos: ratio 1.7–1.85)
KEEP_SHARE = 0.5  # the fitted stage must remove at least half of the gap
MIN_CROPS = 6  # fewer references than this say too little about their own scene noise: no stage (a 4-photo feed got oil)
GRAIN_SHARE = 0.7  # and explain the references clearly better than the feed's grain alone (a grainy photo feed)


@dataclass
class BrushworkFitSettings:
    """Settings of ``fit_brushwork``; the defaults are what the fine-tune uses."""

    native: int = 400  # renders are made at the references' shorter side, at most this (pixels)
    side: int = 200  # and judged shrunk to about this
    contents: int = 2  # content crops the renders are made from
    grid: int = 3  # sizes tried per style in the first pass
    splits: int = 6  # random splits of the references for their scene noise
    refine: int = 2  # parameters besides the size tried up and down on the best style
    loss: str = "stats"  # "stats": texture statistics; "gan": a patch discriminator; "both"
    seed: int = 0
    styles: tuple[str, ...] = tuple(STYLES)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"brushwork loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        unknown = [s for s in self.styles if s not in STYLES]
        if unknown:
            raise ValueError(f"unknown brushwork style {unknown[0]!r}; known: {', '.join(STYLES)}")


@dataclass
class BrushworkFit:
    """What ``fit_brushwork`` found: the stage (None: the feed is a photo feed) and the numbers behind it."""

    brushwork: Brushwork | None
    gap: float  # texture distance of the content crops to the references
    noise: float  # of two halves of the references to each other
    grain_only: float = math.inf  # of the content crops with the feed's grain (the look without brushwork)
    remaining: float = math.inf  # of the best render to the references
    tried: dict[str, float] = field(default_factory=dict)  # best distance per style in the first pass
    seconds: float = 0.0

    def summary(self) -> dict:
        """JSON-ready numbers for a look's metadata."""
        return {"style": self.brushwork.style if self.brushwork else None, "gap": round(self.gap, 4), "noise": round(self.noise, 4),
                "grain_only": round(self.grain_only, 4) if math.isfinite(self.grain_only) else None,
                "remaining": round(self.remaining, 4) if math.isfinite(self.remaining) else None,
                "tried": {k: round(v, 4) for k, v in self.tried.items()}, "seconds": round(self.seconds, 2)}


# --- crops ------------------------------------------------------------------------------------------------------
def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def _resize(image: Image.Image, scale: float) -> Image.Image:
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("RGB").resize(size, Image.Resampling.BOX if scale < 0.5 else Image.Resampling.LANCZOS)


def square_crops(image: Image.Image, side: int, count: int) -> list[np.ndarray]:
    """The image shrunk so that its shorter side is ``side``, then ``count`` side×side crops spread evenly along its
    longer side (one: the centre): list of (side, side, 3) uint8. A crop's shorter side is the photo's, so a
    renderer's sizes (fractions of the shorter side) mean on the crop what they mean on the photo."""
    small = _resize(image, side / min(image.size))
    room_x, room_y = small.width - side, small.height - side
    crops = []
    for i in range(count):
        t = 0.5 if count == 1 else i / (count - 1)
        left, top = round(room_x * t), round(room_y * t)
        crops.append(np.asarray(small.crop((left, top, left + side, top + side))))
    return crops


def reference_crops(references: Sequence[Image.Image], side: int) -> list[np.ndarray]:
    """One crop per reference, or, from one to three large images (a painting), enough crops across each to
    cover it (at least 8 in all), so a painting is a feed of its own."""
    if len(references) > 3:
        return [c for image in references for c in square_crops(image, side, 1)]
    crops = []
    for image in references:
        aspect = max(image.size) / min(image.size)
        crops += square_crops(image, side, max(math.ceil(aspect) + 1, math.ceil(8 / len(references))))
    return crops


def _seen(crops: Sequence[np.ndarray], factor: int) -> torch.Tensor:
    """Crops (side, side, 3) uint8 as the judge sees them: shrunk ``factor`` times by box averaging, which the
    references and the renders go through alike (fine lines and dots keep their share of each pixel)."""
    out = []
    for crop in crops:
        image = Image.fromarray(crop)
        if factor > 1:
            image = image.resize((crop.shape[1] // factor, crop.shape[0] // factor), Image.Resampling.BOX)
        out.append(_to_tensor(np.asarray(image)))
    return torch.stack(out)


# --- the search -------------------------------------------------------------------------------------------------
def _size_grid(style: str, count: int) -> list[float]:
    spec = STYLES[style].params[SIZE_PARAM[style]]
    low, high = math.log(spec.low), math.log(spec.high)
    return [math.exp(low + (high - low) * (i + 0.5) / count) for i in range(count)]


class _Judge:
    """Scores sets of crops against the references: the texture distance, with the references' features computed
    once; the sliced distance's draws follow a generator reset per call, so scores compare like with like."""

    def __init__(self, references: torch.Tensor, seed: int):
        self.features = RandomTextureFeatures(seed=seed)
        self.seed = seed
        with torch.no_grad():
            self.target = self.features(references)

    def __call__(self, images, target: list[torch.Tensor] | None = None, precomputed: bool = False) -> float:
        generator = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            return float(texture_distance(images if precomputed else self.features(images), target or self.target, "sliced", generator))


class _Critic:
    """The adversarial judge: a patch discriminator trained on the references (real) against every candidate's
    renders (fake) at once; a candidate's score is how fake its renders look (mean softplus(−logit))."""

    def __init__(self, references: torch.Tensor, fakes: list[torch.Tensor], seed: int, steps: int = 60):
        torch.manual_seed(seed)
        self.discriminator = PatchDiscriminator()
        optimiser = torch.optim.Adam(self.discriminator.parameters(), lr=2e-3, betas=(0.5, 0.99))
        fake = torch.cat(fakes)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            real_batch = references[torch.randint(len(references), (4,), generator=generator)]
            fake_batch = fake[torch.randint(len(fake), (4,), generator=generator)]
            loss = F.relu(1.0 - self.discriminator(real_batch)).mean() + F.relu(1.0 + self.discriminator(fake_batch)).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

    def __call__(self, images: torch.Tensor) -> float:
        with torch.no_grad():
            return float(F.softplus(-self.discriminator(images)).mean())


def _render(crops: Sequence[np.ndarray], style: str, params: dict, factor: int) -> torch.Tensor:
    brushwork = Brushwork(style, params, order="before")
    return _seen([render_brushwork(crop, brushwork, threads=1) for crop in crops], factor)


def _chroma(images: torch.Tensor) -> float:
    """Mean colourfulness of (B, 3, H, W): the mean distance of each pixel from its grey."""
    return float((images - images.mean(1, keepdim=True)).abs().mean())


def _with_grain(image: Image.Image, finish: Finish | None, short_side: int, seed: int) -> Image.Image:
    """A content photo at the references' own shorter side, with the feed's grain when ``finish`` has one, put on
    at that size as the feed's was: the look without brushwork, texture-wise (a grainy photo feed is still a photo
    feed; grain put on after shrinking would be sub-pixel and read as something else)."""
    scale = short_side / min(image.size)
    if scale < 1.0:
        image = _resize(image, scale)
    if finish is None or not finish.grain_amount:
        return image
    return finish_image(image, Finish(grain_amount=finish.grain_amount, grain_size=finish.grain_size, grain_luma=finish.grain_luma), seed)


def reference_noise(judge: _Judge, references: torch.Tensor, count: int, splits: int, seed: int) -> float:
    """How far ``count`` references are from the rest by scene alone: the texture distance of random splits,
    averaged (the yardstick for the content photos' distance: they are ``count`` other scenes)."""
    generator = torch.Generator().manual_seed(seed)
    count = max(1, min(count, len(references) // 2))
    with torch.no_grad():
        features = judge.features(references)
    total = 0.0
    for _ in range(splits):
        order = torch.randperm(len(references), generator=generator)
        first, rest = order[:count], order[count:]
        total += judge([f[first] for f in features], [f[rest] for f in features], precomputed=True)
    return total / splits


def fit_brushwork_report(references: Sequence[Image.Image], contents: Sequence[Image.Image], settings: BrushworkFitSettings | None = None,
                         finish: Finish | None = None, own_short: int = 0) -> BrushworkFit:
    """``fit_brushwork`` with its numbers (see the module's docstring). own_short: the references' own shorter
    side when they are given shrunk (the feed's grain is put on the contents at that size); 0: as given."""
    settings = settings or BrushworkFitSettings()
    started = time.perf_counter()
    # the native scale: the references' shorter side (at most settings.native); the judge sees it ``factor`` times smaller
    own = own_short or int(np.median([min(image.size) for image in references]))  # the references' own shorter side
    native = min(settings.native, own)
    factor = max(1, round(native / settings.side))
    references_seen = _seen(reference_crops(references, native), factor)
    contents = [_with_grain(image, None, own, 0) for image in contents]  # grain goes on at the references' own size
    content_crops = [square_crops(image, native, 1)[0] for image in contents]
    judge = _Judge(references_seen, settings.seed)
    gap = judge(_seen(content_crops, factor))
    noise = reference_noise(judge, references_seen, len(content_crops), settings.splits, settings.seed)
    report = BrushworkFit(None, gap, noise)
    if len(references_seen) < MIN_CROPS or gap <= GAP_RATIO * noise or not settings.styles:
        report.seconds = time.perf_counter() - started
        return report
    grain_only = gap
    if finish is not None and finish.grain_amount:  # the look without brushwork: the feed's grain on the contents
        grainy = [_with_grain(image, finish, own, settings.seed + i) for i, image in enumerate(contents)]
        grain_only = judge(_seen([square_crops(image, native, 1)[0] for image in grainy], factor))
    report.grain_only = grain_only
    crops = content_crops[: settings.contents]

    # first pass: every style at a few sizes, the other parameters at their defaults
    candidates = [(style, {**STYLES[style].defaults(), SIZE_PARAM[style]: size}) for style in settings.styles for size in _size_grid(style, settings.grid)]
    renders = [_render(crops, style, params, factor) for style, params in candidates]
    ref_chroma = _chroma(references_seen)
    critic = _Critic(references_seen, renders, settings.seed) if settings.loss != "stats" else None

    def score(images: torch.Tensor) -> float:
        value = 0.0
        if settings.loss in ("stats", "both"):
            value += judge(images) / gap
        if critic is not None:
            value += critic(images) / critic_scale
        return value + 10.0 * max(ref_chroma - _chroma(images), 0.0) ** 2  # a LUT can take colour away, not give it

    critic_scale = critic(_seen(crops, factor)) if critic is not None else 1.0
    scored = [(score(images), style, params) for (style, params), images in zip(candidates, renders)]
    for value, style, _ in scored:
        report.tried[style] = min(report.tried.get(style, math.inf), value)
    best, style, params = min(scored, key=lambda item: item[0])
    # refinement: the size on a finer grid, then each other parameter up and down by a quarter of its range
    spec = STYLES[style].params
    step = (math.log(spec[SIZE_PARAM[style]].high) - math.log(spec[SIZE_PARAM[style]].low)) / settings.grid / 2.0
    moves = [(SIZE_PARAM[style], lambda v, sign: v * math.exp(sign * step))]
    moves += [(name, lambda v, sign, name=name: v + sign * 0.25 * (spec[name].high - spec[name].low)) for name in spec if name != SIZE_PARAM[style]]
    for name, move in moves[: 1 + settings.refine]:
        for sign in (-1.0, 1.0):
            trial = {**params, name: min(max(move(params[name], sign), spec[name].low), spec[name].high)}
            if trial[name] == params[name]:
                continue
            value = score(_render(crops, style, trial, factor))
            if value < best:
                best, params = value, trial
                break
    remaining = judge(_render(crops, style, params, factor))
    report.remaining = remaining
    if remaining <= KEEP_SHARE * gap and remaining < GRAIN_SHARE * grain_only:
        report.brushwork = Brushwork(style, params, order="before")
    report.seconds = time.perf_counter() - started
    return report


def fit_brushwork(references: Sequence[Image.Image], contents: Sequence[Image.Image], settings: BrushworkFitSettings | None = None,
                  finish: Finish | None = None) -> Brushwork | None:
    """The painterly stage a feed shows, or None for a photo feed.

    references: the feed's images (Pillow, RGB, at their own size; 3–50 photos, or 1–3 large paintings);
    contents: plain photos to render the candidates on (at least one); finish: the feed's finishing as read
    (its grain is put on the contents before they are compared: grain is not brushwork). The stage runs before the colour LUT
    (``order="before"``): the fine-tune learns the colour from its renders."""
    if not references or not contents:
        raise ValueError("fit_brushwork needs references and content photos")
    return fit_brushwork_report(references, contents, settings, finish).brushwork
