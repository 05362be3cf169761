"""The fine-tune: learn a look from a feed of reference photos, on small thumbnails, in seconds on a CPU.

The generator (a LUT) starts from the look prior's instant look (``prior.py``) and maps plain content photos
toward the references. Its signals:
- colour distribution: sliced Wasserstein distance in CIELAB between the generator's output colours and the
  references' colours, where the content colours are the user's photos mixed with a large pool of ordinary
  colours (``natural.py``), since a few photos are a poor sample of what the feed's scenes looked like;
- anchor: a pull toward the starting look, so that what the references do not say stays as the prior said,
  weighted by how well that look already explains the references (``anchor_trust``): a start that matches them
  to within their own scene-to-scene noise keeps its pull; one that leaves a gap far beyond it (a look unlike
  any the prior learned) lets the references move the look far;
- regularity: LUT smoothness, monotone luminance, entries within 0..1.
Finishing (grain, vignette) is read from the references at their own size before the colour is learned
(``finish_estimate``), and their colours are read with the vignette undone; with ``adversary="texture"`` it is
learned instead by discriminators on texture (``texture_adversary``), step by step beside the colour.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from ..images import MAX_REFERENCES, MIN_REFERENCES, PAINTING_SIDE, check_training_size, image_to_tensor, load_image, load_training_image, thumbnail
from ..looks.look import Look
from ..looks.painterly import render_brushwork
from .losses import lut_monotonicity, lut_range, lut_smoothness, rgb_to_lab, sliced_wasserstein
from .lut_torch import apply_lut_colours
from .natural import load_histogram, sample_colours
from .networks import LookGenerator
from .texture_adversary import FinishAdversary
from .finish_estimate import FinishReading, ReferenceTexture, estimate_finish, read_texture, remove_vignette
from ..looks.finishing import Finish
from .painterly_fit import BRUSHWORK_READ, LOSSES as BRUSHWORK_LOSSES, BrushworkFitSettings, fit_brushwork_report
from .certainty import read_certainty
from .prior import LookPrior, load_prior, reading_size
from .references import ReferenceReading, as_readings
from ..weights import WEIGHTS_DIR

ADVERSARIES = ("none", "texture")
STARTS = ("prior", "identity")
NOISE_SHARE = 0.35  # scales the references' half-against-half distance to the scene noise of the fine-tune's colour loss
# the most the anchor weight is multiplied by, for a start that explains the references (4-fold, 3 seeds, worst look
# against identity / mean: cap 2 +0.43..+0.59 / 3.94, cap 8 +0.23..+0.28 / 3.97, cap 32 +0.22 / 4.00; weights/README.md)
TRUST_CAP = 8.0


class FinetuneCancelled(Exception):
    """Raised by ``finetune`` when its ``cancel`` event is set; nothing is kept."""


@dataclass
class FinetuneSettings:
    """Settings of the fine-tune; the defaults are what the CLI and the app use."""

    steps: int = 200  # optimisation steps
    seed: int = 0  # everything random (colour samples, projections, the texture discriminators) follows this seed
    thumb_size: int = 128  # longer side of the training thumbnails, in pixels
    colour_samples: int = 4096  # colours per step in the colour-distribution loss
    natural_share: float = 0.7  # share of content colours drawn from the natural-photo pool
    learn_finish: bool = True  # learn the feed's grain and vignette (False: the look is colour only)
    # learn a painterly stage when the feed shows one (painterly_fit; photo feeds get none); "stats": judged by
    # texture statistics, "gan": by a patch discriminator, "both" (docs/experiments.md: the ablation)
    learn_brushwork: bool = True
    brushwork_loss: str = "stats"
    brushwork_fit: BrushworkFitSettings = field(default_factory=BrushworkFitSettings)  # the search (its loss: brushwork_loss)
    # "none": finishing read from the references directly (finish_estimate); "texture": learned by discriminators on
    # texture against the content photos (texture_adversary). The colour discriminators of earlier stops are gone
    # (no gain; docs/experiments.md). Default "none": on bench/finishbench.py the direct reading is the better.
    adversary: str = "none"
    start_from: str = "prior"  # "prior": the look prior's instant look (identity when none is shipped); "identity"
    anchor_weight: float = 0.5  # pull toward the starting look (prior's or caller's; never identity); 0.5: see weights/README.md
    adaptive_anchor: bool = True  # multiply anchor_weight by anchor_trust (0..TRUST_CAP); False: a fixed pull
    smoothness_weight: float = 0.5
    monotonicity_weight: float = 1.0
    generator_lr: float = 0.01
    certainty: bool = True  # estimate how close the look is (certainty.py; ~1 s) and store it in its metadata

    def __post_init__(self) -> None:
        if self.adversary not in ADVERSARIES:
            raise ValueError(f"adversary must be one of {', '.join(ADVERSARIES)}, got {self.adversary!r}")
        if self.start_from not in STARTS:
            raise ValueError(f"start_from must be one of {', '.join(STARTS)}, got {self.start_from!r}")
        if not 1 <= self.steps <= 5000:
            raise ValueError(f"steps must be within 1..5000, got {self.steps}")
        if self.brushwork_loss not in BRUSHWORK_LOSSES:
            raise ValueError(f"brushwork_loss must be one of {', '.join(BRUSHWORK_LOSSES)}, got {self.brushwork_loss!r}")
        if not 0.0 <= self.natural_share <= 1.0:
            raise ValueError(f"natural_share must be within 0..1, got {self.natural_share}")


@dataclass
class StepReport:
    """What ``finetune_steps`` yields after each step (and the callback of ``finetune`` gets)."""

    step: int  # 1-based
    steps: int
    losses: dict[str, float]  # this step's terms; "feed_distance": how far the look's colours are from the feed's (ΔE)
    elapsed: float  # seconds since the fine-tune started
    generator: LookGenerator = field(repr=False)
    result: Look | None = None  # the finished look, on the last step's report only

    def look(self) -> Look:
        """The look as it stands now (cheap: a 33³ table), e.g. for a live preview."""
        return self.result if self.result is not None else self.generator.to_look()


ImageSource = Image.Image | str
Callback = Callable[[StepReport], None]


def _load_images(images: Sequence[ImageSource], size: int) -> list[Image.Image]:
    """Load (if paths) and shrink images to at most ``size`` on the longer side, RGB; ImageError if unusable."""
    out = []
    for index, image in enumerate(images, 1):
        if isinstance(image, Image.Image):
            check_training_size(image.size, f"photo {index}")
        else:
            image = load_training_image(image, size)
        out.append(thumbnail(image.convert("RGB"), size))
    return out


def _painting_tiles(image: Image.Image) -> list[Image.Image]:
    """A painting's quarters, overlapping by a tenth: references for its colour."""
    w, h = image.size
    tw, th = round(w * 0.55), round(h * 0.55)
    return [image.crop((x, y, x + tw, y + th)) for y in (0, h - th) for x in (0, w - tw)]


def _short_side(image: Image.Image, side: int) -> Image.Image:
    """The image scaled so that its shorter side is ``side`` pixels (Lanczos)."""
    scale = side / min(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)


def _thumbnails(images: Sequence[Image.Image], size: int) -> list[torch.Tensor]:
    """Images shrunk to ``size`` on the longer side: list of (3, h, w) in 0..1."""
    return [image_to_tensor(thumbnail(image, size)) for image in images]


def _pixels(thumbs: list[torch.Tensor]) -> torch.Tensor:
    """All pixels of the thumbnails, each image weighing the same: (N, 3)."""
    per_image = min(t.shape[1] * t.shape[2] for t in thumbs)
    out = []
    for t in thumbs:
        flat = t.reshape(3, -1).T
        step = flat.shape[0] / per_image
        out.append(flat[(torch.arange(per_image) * step).long()])
    return torch.cat(out)


def _sample(pool: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    return pool[torch.randint(pool.shape[0], (count,), generator=generator)]


def _content_colours(content_pixels: torch.Tensor, histogram: torch.Tensor | None, count: int, natural_share: float,
                     generator: torch.Generator) -> torch.Tensor:
    """``count`` colours (count, 3) to map from: the user's photos' pixels mixed with the natural-photo pool."""
    natural = int(count * natural_share) if histogram is not None else 0
    parts = [_sample(content_pixels, count - natural, generator)]
    return torch.cat(parts + [sample_colours(histogram, natural, generator)] if natural else parts)


def scene_noise(ref_thumbs: list[torch.Tensor], generator: torch.Generator, projections: int = 8, splits: int = 256,
                per_image: int = 512, chunk: int = 32) -> float:
    """How far the references' colours differ by scene alone, in squared ΔE: the sliced Wasserstein distance
    between two random halves of the references (they share the true look and differ only in their scenes;
    ``per_image`` pixels of each), averaged over ``splits`` splits and scaled by NOISE_SHARE.

    Which photos land in which half matters far more than the projections (a few unlucky splits dominate a
    mean), so many splits of few projections each: with 16 splits of 128 the estimate varied 2.5× between seeds
    on one feed, with 256 of 8 by ±12 %. The splits are drawn ``chunk`` at a time (~0.5 s for 12 references)."""
    images = [rgb_to_lab(t.reshape(3, -1).T) / 100.0 for t in ref_thumbs]  # each (h·w, 3)
    half, total = len(images) // 2, 0.0
    for done in range(0, splits, chunk):
        count = min(chunk, splits - done)
        drawn = torch.stack([image[torch.randint(len(image), (count, per_image), generator=generator)] for image in images], 1)  # (C, n, per_image, 3)
        order = torch.rand(count, len(images), generator=generator).argsort(dim=1)  # (C, n): a random split of the photos per row
        drawn = drawn[torch.arange(count).unsqueeze(1), order]
        first, second = drawn[:, :half].flatten(1, 2), drawn[:, half:].flatten(1, 2)  # (C, half·per_image, 3), (C, rest, 3)
        total += float(sliced_wasserstein(first, second, projections, generator)) * count
    return total / splits * 1e4 * NOISE_SHARE


def anchor_trust(start_lut: torch.Tensor, ref_thumbs: list[torch.Tensor], colours: torch.Tensor, noise: float,
                 generator: torch.Generator, projections: int = 128) -> float:
    """How far to trust the starting look (33, 33, 33, 3): the factor on the anchor weight, 0..TRUST_CAP.

    gap: sliced Wasserstein distance (squared ΔE) between ``colours`` (N, 3) under the starting look and the
    references' pixels; noise: their ``scene_noise``. trust = (noise / (gap − noise))², at most TRUST_CAP.
    """
    ref_lab = rgb_to_lab(_pixels(ref_thumbs)) / 100.0  # (N_r, 3)
    generated = rgb_to_lab(apply_lut_colours(colours, start_lut).clamp(0.0, 1.0)) / 100.0
    gap = float(sliced_wasserstein(generated, _sample(ref_lab, len(colours), generator), projections, generator)) * 1e4
    excess = max(gap - noise, 1e-9)
    return min(TRUST_CAP, (noise / excess) ** 2)


@dataclass
class Feed:
    """A feed made ready to learn from (``read_feed``): its colours with its vignette undone, and its finish."""

    images: list[Image.Image]  # RGB, longer side ≤ LEARN_SIZE, the feed's vignette undone: what the colours are read from
    finish: Finish  # read from the references (none when settings.learn_finish is off or the texture adversary learns it)
    reading: FinishReading | None = None  # how the finish was read
    textures: list[ReferenceTexture] = field(default_factory=list, repr=False)  # for the texture adversary only
    painterly: list[Image.Image] = field(default_factory=list, repr=False)  # the references whole, shorter side ≤ 400: for painterly_fit
    short_side: int = 0  # the references' own shorter side (median), pixels
    references: int = 0  # how many references (1–2 paintings give 4 colour tiles each)

    def __len__(self) -> int:
        return len(self.images)


def read_feed(references: Sequence[ReferenceReading | ImageSource], settings: FinetuneSettings | None = None) -> Feed:
    """Read the references once (``references.read_reference``: paths, Pillow images or readings already made),
    their finish (``finish_estimate``) and their colours with the vignette undone. ``finetune_steps`` does this
    itself; a caller that shows the instant look first (the app) does it once and passes the Feed to both."""
    settings = settings or FinetuneSettings()
    if not 1 <= len(references) <= MAX_REFERENCES:
        raise ValueError(f"need {MIN_REFERENCES} to {MAX_REFERENCES} reference photos (or 1–{MIN_REFERENCES - 1} paintings), got {len(references)}")
    readings = as_readings(references)
    paintings = len(readings) < MIN_REFERENCES
    small = [i for i, r in enumerate(readings, 1) if r.short_side < PAINTING_SIDE]
    if paintings and small:
        raise ValueError(f"need {MIN_REFERENCES} to {MAX_REFERENCES} reference photos, or 1–{MIN_REFERENCES - 1} paintings of at least "
                         f"{PAINTING_SIDE} px on the shorter side (image {small[0]} is {readings[small[0] - 1].short_side} px)")
    finish, reading, textures = Finish(), None, []
    if settings.learn_finish:
        textures = [r.texture for r in readings]  # read at their own size (≤ 1600 px), through their JPEG tables
        if settings.adversary != "texture":
            reading = estimate_finish(textures)
            finish, textures = reading.finish, []
    images = [r.image for r in readings]
    if finish.vignette_amount:  # the references' colours as they were before the vignette
        images = [remove_vignette(image, finish.vignette_amount, finish.vignette_radius) for image in images]
    if paintings:  # "style from a painting": its quarters are the colour's references; the whole is the brushwork's
        images = [tile for image in images for tile in _painting_tiles(image)]
    painterly = [r.painterly for r in readings if r.painterly is not None]
    short = int(np.median([r.short_side for r in readings])) if readings and readings[0].short_side else 0
    return Feed(images, finish, reading, textures, painterly, short, len(readings))


def finetune_steps(
    references: Feed | Sequence[ReferenceReading | ImageSource],
    content: Sequence[ImageSource] | None = None,
    settings: FinetuneSettings | None = None,
    start: Look | None = None,
    name: str = "My look",
    prior: LookPrior | None = None,
) -> Iterator[StepReport]:
    """Learn a look from 3–50 reference photos (paths, Pillow images, ``references.ReferenceReading``s, or a
    ``read_feed`` Feed), one step at a time: yields a StepReport after every step; the last one carries the
    finished look in ``result``. Stop iterating to cancel.

    content: plain photos to learn the mapping from; the shipped examples serve when none are given.
    start: a look to start from (default: per ``settings.start_from``, the prior's instant look or identity);
    the fine-tune is pulled toward it by ``settings.anchor_weight``. prior: a LookPrior to use instead of the
    shipped one.
    """
    settings = settings or FinetuneSettings()
    if not content:
        content = default_content()
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)  # network initialisation

    feed = references if isinstance(references, Feed) else read_feed(references, settings)
    if not MIN_REFERENCES <= len(feed) <= MAX_REFERENCES * 4:
        raise ValueError(f"need {MIN_REFERENCES} to {MAX_REFERENCES} reference photos, got {len(feed)}")
    ref_images, finish, reading, adversary = feed.images, feed.finish, feed.reading, None
    brushwork, brushwork_fit = None, None
    if settings.learn_brushwork and feed.painterly:  # from the references whole (a painting too), near their own size
        brushwork_fit = fit_brushwork_report(feed.painterly, _load_images(content, BRUSHWORK_READ),
                                             replace(settings.brushwork_fit, loss=settings.brushwork_loss, seed=settings.seed),
                                             finish, own_short=feed.short_side)
        brushwork = brushwork_fit.brushwork
        if brushwork is not None:  # the feed's texture is the brushwork's: what read as grain was strokes or paper
            finish = Finish(vignette_amount=finish.vignette_amount, vignette_radius=finish.vignette_radius)
    if settings.learn_finish and settings.adversary == "texture" and brushwork is None:
        short = int(np.median([t.short_side for t in feed.textures]))
        content_textures = [read_texture(_short_side(image, short)) for image in _load_images(content, 2 * short)]
        adversary = FinishAdversary(feed.textures, content_textures, torch.Generator().manual_seed(settings.seed + 1))
    ref_thumbs = _thumbnails(ref_images, settings.thumb_size)
    content_images = _load_images(content, settings.thumb_size if brushwork is None else 4 * settings.thumb_size)
    if brushwork is not None:  # the stage runs before the LUT: the colour is learned on the brushwork's renders
        content_images = [Image.fromarray(render_brushwork(np.asarray(image), brushwork)) for image in content_images]
    content_thumbs = _thumbnails(content_images, settings.thumb_size)
    ref_lab = rgb_to_lab(_pixels(ref_thumbs)) / 100.0  # (N_r, 3)
    content_pixels = _pixels(content_thumbs)  # (N_c, 3)
    histogram = load_histogram()

    if start is None and settings.start_from == "prior":
        prior = prior or load_prior()
        start = prior.predict(ref_images) if prior is not None else None
    look_generator = LookGenerator(torch.from_numpy(start.lut) if start is not None else None, finish=finish)
    # pulled toward the starting look (the prior's, or the caller's) where the references say little; not toward identity
    anchor = look_generator.lut().detach() if start is not None and settings.anchor_weight else None  # (33, 33, 33, 3)
    trust, noise = 1.0, None
    if anchor is not None and settings.adaptive_anchor:
        trial = torch.Generator().manual_seed(settings.seed)  # its own stream: the loop's draws stay as they were
        noise = scene_noise(ref_thumbs, trial)
        trust = anchor_trust(anchor, ref_thumbs, _content_colours(content_pixels, histogram, 8192, settings.natural_share, trial), noise, trial)
    anchor_weight = settings.anchor_weight * trust
    g_optimizer = torch.optim.Adam(look_generator.parameters(), lr=settings.generator_lr, betas=(0.9, 0.99))

    for step in range(1, settings.steps + 1):
        losses: dict[str, float] = {}

        lut = look_generator.lut()
        colours = _content_colours(content_pixels, histogram, settings.colour_samples, settings.natural_share, generator)
        generated = rgb_to_lab(apply_lut_colours(colours, lut)) / 100.0
        target = _sample(ref_lab, settings.colour_samples, generator)
        distance = sliced_wasserstein(generated, target, generator=generator)
        colour_loss = distance * 100.0
        losses["feed_distance"] = (3.0 * float(distance.detach())) ** 0.5 * 100.0  # ΔE: 3 × the mean 1D share, in Lab units
        if anchor is not None:
            anchored = rgb_to_lab(apply_lut_colours(colours, anchor)) / 100.0
            anchor_loss = (generated - anchored).pow(2).sum(-1).mean() * 100.0  # same units: squared ΔE / 100
            colour_loss = colour_loss + anchor_weight * anchor_loss
        regularity = (
            settings.smoothness_weight * lut_smoothness(lut)
            + settings.monotonicity_weight * lut_monotonicity(lut)
            + 10.0 * lut_range(lut)
        )
        g_loss = colour_loss + regularity
        losses["colour"] = float(colour_loss.detach())
        losses["regularity"] = float(regularity.detach())
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        losses["total"] = float(g_loss.detach())
        if adversary is not None:
            losses.update(adversary.step())
            look_generator.finish = adversary.finish()

        report = StepReport(step, settings.steps, losses, time.perf_counter() - started, look_generator)
        if step == settings.steps:
            certainty = read_certainty(
                look_generator.lut().detach(), torch.from_numpy(start.lut) if start is not None else None,
                [reading_size(image) for image in ref_images], prior or load_prior(), noise, trust if noise is not None else None,
                losses["feed_distance"], settings.seed, content_thumbs,
                paintings=feed.references if 0 < feed.references < MIN_REFERENCES else 0) if settings.certainty else None
            metadata = {
                "references": feed.references or len(feed),
                **({"tiled_into": len(feed)} if feed.references and feed.references < MIN_REFERENCES else {}),
                **({"brushwork_fit": brushwork_fit.summary()} if brushwork_fit is not None else {}),
                "started_from": "prior" if start is not None and start.metadata.get("source") == "prior" else "look" if start else "identity",
                "content_photos": len(content),
                "anchor_weight": round(anchor_weight, 4) if anchor is not None else 0.0,
                **({"finish_reading": {"vignette_error": round(min(reading.vignette_error, 9.0), 4), "grain_energy": round(reading.grain_energy, 3),
                                       "tiles": reading.tiles, "jpeg_modelled": reading.jpeg_modelled,
                                       "grain_read": round(reading.grain_read, 3), "too_small": reading.too_small}} if reading is not None else {}),
                **({"certainty": certainty.to_metadata()} if certainty is not None else {}),
                "settings": asdict(settings),
                "seconds": round(time.perf_counter() - started, 2),
            }
            report.result = look_generator.to_look(name=name, metadata=metadata)
            report.result = replace(report.result, brushwork=brushwork)
        yield report


def finetune(
    references: Feed | Sequence[ReferenceReading | ImageSource],
    content: Sequence[ImageSource] | None = None,
    settings: FinetuneSettings | None = None,
    start: Look | None = None,
    callback: Callback | None = None,
    cancel: threading.Event | None = None,
    name: str = "My look",
    prior: LookPrior | None = None,
) -> Look:
    """Learn a look (see ``finetune_steps``) and return it. callback: called after every step with its StepReport;
    cancel: set it from another thread to stop after the current step (raises FinetuneCancelled)."""
    for report in finetune_steps(references, content, settings, start, name, prior):
        if callback is not None:
            callback(report)
        if cancel is not None and cancel.is_set():
            raise FinetuneCancelled("fine-tune cancelled")
    return report.result


def default_content() -> list[Image.Image]:
    """The neutral photos shipped in ``examples/content`` (used when the user gives no content photos)."""
    folder = WEIGHTS_DIR.parent / "examples" / "content"
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise FileNotFoundError(f"no content photos given and none found in {folder}")
    return [load_image(p) for p in paths]
