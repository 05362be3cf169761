"""The GAN fine-tune: learn a look from a feed of reference photos, on small thumbnails, in seconds on a CPU.

The generator (a LUT) starts from the look prior's instant look (``prior.py``) and maps plain content photos
toward the references. Its signals:
- colour distribution: sliced Wasserstein distance in CIELAB between the generator's output colours and the
  references' colours, where the content colours are the user's photos mixed with a large pool of ordinary
  colours (``natural.py``), since a few photos are a poor sample of what the feed's scenes looked like;
- anchor: a pull toward the starting look, so that what the references do not say stays as the prior said,
  weighted by how well that look already explains the references (``anchor_trust``): a start that matches them
  to within their own scene-to-scene noise keeps its pull; one that leaves a gap far beyond it (a look unlike
  any the prior learned) lets the references move the look far;
- adversarial (``adversary``): "feed", a discriminator (patches at two scales + colour statistics) tells
  generated thumbnails from the references; "natural", an inverse look L⁻¹ un-styles the references into what
  the pre-trained naturalness discriminator (``naturalness.py``) takes for ordinary photos, tied to the look by
  a cycle loss; "both";
- regularity: LUT smoothness, monotone luminance, entries within 0..1.
Augmentation is geometric only (crops, flips, scale): colours are never altered.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from .images import MAX_REFERENCES, MIN_REFERENCES, check_training_size, image_to_tensor, load_image, load_training_image, thumbnail
from .look import Look
from .losses import (
    hinge_discriminator_loss,
    hinge_generator_loss,
    lut_monotonicity,
    lut_range,
    lut_smoothness,
    rgb_to_lab,
    sliced_wasserstein,
)
from .lut_torch import apply_lut_colours
from .natural import load_histogram, sample_colours
from .naturalness import load_naturalness
from .networks import Discriminator, LookGenerator
from .prior import READ_SIZE, LookPrior, load_prior
from .weights import WEIGHTS_DIR

ADVERSARIES = ("none", "feed", "natural", "both")
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

    steps: int = 200  # optimisation steps (each: one discriminator and one generator update)
    seed: int = 0  # everything random (crops, flips, colour samples, projections) follows this seed
    thumb_size: int = 128  # longer side of the training thumbnails, in pixels
    crop_size: int = 64  # side of the square crops the discriminator sees
    batch_size: int = 4  # crops per step, for references and for content alike
    colour_samples: int = 4096  # colours per step in the colour-distribution loss
    natural_share: float = 0.7  # share of content colours drawn from the natural-photo pool
    # "none": colour losses only; "feed": plus the per-feed discriminator; "natural": plus an inverse look that
    # must un-style the references into what the naturalness discriminator takes for ordinary photos; "both".
    # Default "none": on the feed benchmark neither adversary changed the error by more than ~0.1 ΔE (see
    # weights/README.md), at 2–3× the time.
    adversary: str = "none"
    adversarial_weight: float = 0.05
    natural_weight: float = 0.1  # weight of fooling the naturalness discriminator
    cycle_weight: float = 1.0  # weight of L(L⁻¹(x)) ≈ x and L⁻¹(L(x)) ≈ x
    start_from: str = "prior"  # "prior": the look prior's instant look (identity when none is shipped); "identity"
    anchor_weight: float = 0.5  # pull toward the starting look (prior's or caller's; never identity); 0.5: see weights/README.md
    adaptive_anchor: bool = True  # multiply anchor_weight by anchor_trust (0..TRUST_CAP); False: a fixed pull
    smoothness_weight: float = 0.5
    monotonicity_weight: float = 1.0
    generator_lr: float = 0.01
    discriminator_lr: float = 0.002

    def __post_init__(self) -> None:
        if self.adversary not in ADVERSARIES:
            raise ValueError(f"adversary must be one of {', '.join(ADVERSARIES)}, got {self.adversary!r}")
        if self.start_from not in STARTS:
            raise ValueError(f"start_from must be one of {', '.join(STARTS)}, got {self.start_from!r}")
        if not 1 <= self.steps <= 5000:
            raise ValueError(f"steps must be within 1..5000, got {self.steps}")
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


def _thumbnails(images: Sequence[Image.Image], size: int) -> list[torch.Tensor]:
    """Images shrunk to ``size`` on the longer side: list of (3, h, w) in 0..1."""
    return [image_to_tensor(thumbnail(image, size)) for image in images]


def _random_crops(thumbs: list[torch.Tensor], count: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """Geometric augmentation only: random image, scale, crop and horizontal flip → (count, 3, size, size)."""
    crops = []
    for _ in range(count):
        image = thumbs[int(torch.randint(len(thumbs), (1,), generator=generator))]
        _, height, width = image.shape
        side = min(height, width)
        scale = 0.6 + 0.4 * float(torch.rand((), generator=generator))
        crop = max(8, int(side * scale))
        top = int(torch.randint(height - crop + 1, (1,), generator=generator))
        left = int(torch.randint(width - crop + 1, (1,), generator=generator))
        patch = image[:, top : top + crop, left : left + crop].unsqueeze(0)
        patch = F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        if float(torch.rand((), generator=generator)) < 0.5:
            patch = patch.flip(-1)
        crops.append(patch)
    return torch.cat(crops).clamp(0.0, 1.0)


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


def _inversion_losses(lut, inverse: LookGenerator, naturalness, ref_flat, colours, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The un-styled feed must look ordinary, and L, L⁻¹ must undo each other.

    natural: L⁻¹(each reference) scored by the naturalness discriminator (softplus(-logit), low when fooled);
    cycle: L(L⁻¹(r)) ≈ r on reference pixels and L⁻¹(L(x)) ≈ x on content colours, in squared ΔE / 100; plus
    the inverse LUT's own regularity.
    """
    inverse_lut = inverse.lut()
    sets = torch.stack([_sample(flat, 1024, generator) for flat in ref_flat])  # (n, 1024, 3)
    unstyled = apply_lut_colours(sets.reshape(-1, 3), inverse_lut).clamp(0.0, 1.0)  # (n·1024, 3)
    natural = F.softplus(-naturalness(unstyled.reshape(sets.shape))).mean()
    restyled = apply_lut_colours(unstyled, lut)
    returned = apply_lut_colours(apply_lut_colours(colours, lut).clamp(0.0, 1.0), inverse_lut)

    def squared_delta_e(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (rgb_to_lab(a) - rgb_to_lab(b)).pow(2).sum(-1).mean() / 100.0

    cycle = squared_delta_e(restyled, sets.reshape(-1, 3)) + squared_delta_e(returned, colours)
    cycle = cycle + 0.5 * lut_smoothness(inverse_lut) + 10.0 * lut_range(inverse_lut)
    return natural, cycle


def finetune_steps(
    references: Sequence[ImageSource],
    content: Sequence[ImageSource] | None = None,
    settings: FinetuneSettings | None = None,
    start: Look | None = None,
    name: str = "My look",
    prior: LookPrior | None = None,
) -> Iterator[StepReport]:
    """Learn a look from 3–50 reference photos (Pillow images or paths), one step at a time: yields a StepReport
    after every step; the last one carries the finished look in ``result``. Stop iterating to cancel.

    content: plain photos to learn the mapping from; the shipped examples serve when none are given.
    start: a look to start from (default: per ``settings.start_from``, the prior's instant look or identity);
    the fine-tune is pulled toward it by ``settings.anchor_weight``. prior: a LookPrior to use instead of the
    shipped one.
    """
    settings = settings or FinetuneSettings()
    if not MIN_REFERENCES <= len(references) <= MAX_REFERENCES:
        raise ValueError(f"need {MIN_REFERENCES} to {MAX_REFERENCES} reference photos, got {len(references)}")
    if not content:
        content = default_content()
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)  # network initialisation

    ref_images = _load_images(references, max(settings.thumb_size, READ_SIZE))  # the prior reads them at READ_SIZE
    ref_thumbs = _thumbnails(ref_images, settings.thumb_size)
    content_thumbs = _thumbnails(_load_images(content, settings.thumb_size), settings.thumb_size)
    ref_lab = rgb_to_lab(_pixels(ref_thumbs)) / 100.0  # (N_r, 3)
    content_pixels = _pixels(content_thumbs)  # (N_c, 3)
    histogram = load_histogram()

    if start is None and settings.start_from == "prior":
        prior = prior or load_prior()
        start = prior.predict(ref_images) if prior is not None else None
    look_generator = LookGenerator(torch.from_numpy(start.lut) if start is not None else None)
    # pulled toward the starting look (the prior's, or the caller's) where the references say little; not toward identity
    anchor = look_generator.lut().detach() if start is not None and settings.anchor_weight else None  # (33, 33, 33, 3)
    trust = 1.0
    if anchor is not None and settings.adaptive_anchor:
        trial = torch.Generator().manual_seed(settings.seed)  # its own stream: the loop's draws stay as they were
        noise = scene_noise(ref_thumbs, trial)
        trust = anchor_trust(anchor, ref_thumbs, _content_colours(content_pixels, histogram, 8192, settings.natural_share, trial), noise, trial)
    anchor_weight = settings.anchor_weight * trust
    discriminator = Discriminator() if settings.adversary in ("feed", "both") else None
    naturalness = inverse = None
    if settings.adversary in ("natural", "both"):
        naturalness = load_naturalness()
        if naturalness is None:
            raise ValueError(f"--adversary {settings.adversary} needs weights/naturalness.safetensors (python -m influgan.pretrain --model naturalness)")
        naturalness.requires_grad_(False)
        inverse = LookGenerator()  # L⁻¹: un-styles the references
    ref_flat = [t.reshape(3, -1).T for t in ref_thumbs]  # per reference (h·w, 3)
    trained = list(look_generator.parameters()) + (list(inverse.parameters()) if inverse is not None else [])
    g_optimizer = torch.optim.Adam(trained, lr=settings.generator_lr, betas=(0.9, 0.99))
    d_optimizer = (
        torch.optim.Adam(discriminator.parameters(), lr=settings.discriminator_lr, betas=(0.5, 0.99)) if discriminator else None
    )

    for step in range(1, settings.steps + 1):
        losses: dict[str, float] = {}

        fake_crops = real_crops = None
        if discriminator is not None:
            content_crops = _random_crops(content_thumbs, settings.batch_size, settings.crop_size, generator)
            real_crops = _random_crops(ref_thumbs, settings.batch_size, settings.crop_size, generator)
            with torch.no_grad():
                fake_crops = look_generator(content_crops)
            d_loss = hinge_discriminator_loss(discriminator(real_crops), discriminator(fake_crops))
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimizer.step()
            losses["discriminator"] = float(d_loss.detach())

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
        if inverse is not None:
            natural_loss, cycle_loss = _inversion_losses(lut, inverse, naturalness, ref_flat, colours, generator)
            g_loss = g_loss + settings.natural_weight * natural_loss + settings.cycle_weight * cycle_loss
            losses["natural"], losses["cycle"] = float(natural_loss.detach()), float(cycle_loss.detach())
        losses["colour"] = float(colour_loss.detach())
        losses["regularity"] = float(regularity.detach())
        if discriminator is not None:
            for parameter in discriminator.parameters():
                parameter.requires_grad_(False)
            adversarial = hinge_generator_loss(discriminator(look_generator(content_crops)))
            for parameter in discriminator.parameters():
                parameter.requires_grad_(True)
            g_loss = g_loss + settings.adversarial_weight * adversarial
            losses["adversarial"] = float(adversarial.detach())
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        losses["total"] = float(g_loss.detach())

        report = StepReport(step, settings.steps, losses, time.perf_counter() - started, look_generator)
        if step == settings.steps:
            metadata = {
                "references": len(references),
                "started_from": "prior" if start is not None and start.metadata.get("source") == "prior" else "look" if start else "identity",
                "content_photos": len(content),
                "anchor_weight": round(anchor_weight, 4) if anchor is not None else 0.0,
                "settings": asdict(settings),
                "seconds": round(report.elapsed, 2),
            }
            report.result = look_generator.to_look(name=name, metadata=metadata)
        yield report


def finetune(
    references: Sequence[ImageSource],
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
