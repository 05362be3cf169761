"""Pre-training on synthetic tasks: the look prior (photos under a random look → the look) and the naturalness
discriminator (ordinary photos vs the same under random looks).

Each task draws 3–24 reference photos and 4 held-out photos of the same collection, varies the scenes (random
crops and exposure; the features do not see position, so flips would change nothing), picks a random look —
a procedural one (``procedural.py``: exposure, tone curves, mixers, split toning, gradient maps, hue, saturation,
fades, black and white, cross-processing; compositions of two; strong per-channel curves) or, when ``.cube``
looks are given, one of those at a random strength, blended with another or topped with a mild procedural
grade — and styles the references with it, rounded to 8 bits. The prior sees the references and is scored
on the true look applied to the held-out photos (plus random colours, so that the LUT stays sensible
everywhere): mean CIE76 ΔE in CIELAB.

    python -m influgan.pretrain --photos ../shared/data/photos --looks ../shared/data/looks --steps 6000 --seed 0
    python -m influgan.pretrain --model naturalness --photos ../shared/data/photos --steps 2000 --seed 0

Seeded and reproducible for a given thread count; ``--exclude`` leaves looks out (for honest evaluation).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from .cube import load_cube
from .images import find_images, image_to_tensor, load_image, thumbnail
from .losses import rgb_to_lab
from .lut import apply_lut_colours, blend_lut, identity_lut, resample_lut
from .naturalness import NATURALNESS_FILE, NaturalnessDiscriminator
from .prior import FEATURE_PIXELS, PRIOR_FILE, LookPrior, pixel_features
from .procedural import build_lut, random_recipe
from .weights import WEIGHTS_DIR

LOOK_SIZE = 33  # .cube looks are resampled to this; procedural looks are built at 17 (they are smooth)
HELD_OUT, HELD_OUT_PIXELS, RANDOM_COLOURS = 4, 1024, 512


def load_photos(paths: list[Path], size: int = 192) -> list[torch.Tensor]:
    """The training photos as (3, h, w) tensors in 0..1, reduced to ``size`` on the longer side."""
    return [image_to_tensor(thumbnail(load_image(path, draft_size=size), size)) for path in paths]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _chance(generator: torch.Generator, p: float) -> bool:
    return float(torch.rand((), generator=generator)) < p


def compose(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The LUT of ``second`` applied after ``first`` (on ``first``'s grid)."""
    return apply_lut_colours(first.reshape(-1, 3), second).reshape(first.shape)


def channel_curves(lut: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random per-channel curves ``offset + gain · x^gamma``: strong casts that differ in shadows and highlights."""
    gamma = 2.0 ** (torch.rand(3, generator=generator) * 1.6 - 0.8)
    gain = 0.55 + 0.5 * torch.rand(3, generator=generator)
    offset = 0.2 * torch.rand(3, generator=generator) ** 2
    return (offset + gain * lut.clamp(0.0, 1.0) ** gamma).clamp(0.0, 1.0)


def procedural_look(generator: torch.Generator) -> torch.Tensor:
    """A random procedural look (17³); sometimes two composed, or strong per-channel curves, for stranger looks."""
    lut = build_lut(random_recipe(generator, _uniform(generator, 0.2, 1.0)), 17)
    if _chance(generator, 0.3):
        lut = compose(lut, build_lut(random_recipe(generator, _uniform(generator, 0.3, 1.0)), 17))
    if _chance(generator, 0.35):
        lut = channel_curves(lut, generator)
    return lut


def sample_look(generator: torch.Generator, cubes: list[torch.Tensor], cube_share: float) -> torch.Tensor:
    """A random look for one task: identity now and then, a (varied) .cube look, or a procedural one."""
    if _chance(generator, 0.04):
        return identity_lut(17)
    if cubes and _chance(generator, cube_share):
        lut = cubes[int(torch.randint(len(cubes), (1,), generator=generator))]
        if _chance(generator, 0.3):
            other = cubes[int(torch.randint(len(cubes), (1,), generator=generator))]
            lut = torch.lerp(lut, other, _uniform(generator, 0.0, 1.0))
        lut = blend_lut(lut, _uniform(generator, 0.4, 1.2))
        if _chance(generator, 0.3):
            lut = compose(lut, build_lut(random_recipe(generator, 0.3), 17))
        return lut
    return blend_lut(procedural_look(generator), _uniform(generator, 0.6, 1.4))


def scene_pixels(photo: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random pixels (count, 3) of a random crop (40–100 % of the area) of ``photo``, at a random exposure."""
    _, height, width = photo.shape
    scale = math.sqrt(_uniform(generator, 0.4, 1.0))
    crop_h, crop_w = max(1, int(height * scale)), max(1, int(width * scale))
    top = int(torch.randint(height - crop_h + 1, (1,), generator=generator))
    left = int(torch.randint(width - crop_w + 1, (1,), generator=generator))
    rows = top + torch.randint(crop_h, (count,), generator=generator)
    cols = left + torch.randint(crop_w, (count,), generator=generator)
    pixels = photo[:, rows, cols].T  # (count, 3)
    exposure = 2.0 ** _uniform(generator, -0.7, 0.7)  # stops, applied in (approximately) linear light
    return ((pixels.clamp_min(0.0) ** 2.2 * exposure).clamp(0.0, 1.0)) ** (1 / 2.2)


def sample_task(photos: list[torch.Tensor], look: torch.Tensor, generator: torch.Generator, max_references: int = 24):
    """One task: styled reference pixels (n, P, 3) rounded to 8 bits, held-out colours (N, 3) and their truth (N, 3)."""
    count = int(torch.randint(3, max_references + 1, (1,), generator=generator))
    chosen = torch.randperm(len(photos), generator=generator)[: count + HELD_OUT].tolist()
    references = torch.stack([scene_pixels(photos[i], FEATURE_PIXELS, generator) for i in chosen[:count]])
    references = (apply_lut_colours(references.reshape(-1, 3), look).reshape(references.shape) * 255.0).round() / 255.0
    held_out = torch.cat(
        [scene_pixels(photos[i], HELD_OUT_PIXELS, generator) for i in chosen[count:]]
        + [torch.rand(RANDOM_COLOURS, 3, generator=generator)]
    )
    return references, held_out, apply_lut_colours(held_out, look)


def prediction_error(control: torch.Tensor, colours: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean CIE76 ΔE of a predicted LUT on colours (N, 3) against the truth (N, 3); random colours weigh 1/4."""
    delta = (rgb_to_lab(apply_lut_colours(colours, control)) - rgb_to_lab(truth)).pow(2).sum(-1).add(1e-6).sqrt()
    weights = torch.ones(len(colours))
    weights[-RANDOM_COLOURS:] = 0.25
    return (delta * weights).sum() / weights.sum()


def train(
    photos: list[torch.Tensor],
    cubes: list[torch.Tensor],
    steps: int,
    seed: int = 0,
    tasks_per_step: int = 16,
    cube_share: float = 0.5,
    lr: float = 2e-3,
    log_every: int = 100,
) -> LookPrior:
    """Train a LookPrior for ``steps`` steps of ``tasks_per_step`` tasks each (Adam, cosine learning rate)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    prior = LookPrior()
    optimizer = torch.optim.AdamW(prior.parameters(), lr=lr, weight_decay=1e-4)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1.0 + math.cos(math.pi * i / steps))
    )
    started, running = time.perf_counter(), 0.0
    for step in range(1, steps + 1):
        tasks = [sample_task(photos, sample_look(generator, cubes, cube_share), generator) for _ in range(tasks_per_step)]
        references = torch.cat([t[0] for t in tasks])  # (M, P, 3)
        sets = torch.cat([torch.full((len(t[0]),), i) for i, t in enumerate(tasks)])
        controls = prior(pixel_features(references), sets)  # (T, c, c, c, 3)
        loss = torch.stack([prediction_error(controls[i], t[1], t[2]) for i, t in enumerate(tasks)]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        running += float(loss.detach())
        if step % log_every == 0 or step == steps:
            done = log_every if step % log_every == 0 else step % log_every
            print(f"step {step:6d}/{steps}  ΔE76 {running / done:6.2f}  {time.perf_counter() - started:7.0f} s", flush=True)
            running = 0.0
    return prior.eval()


def train_naturalness(
    photos: list[torch.Tensor], cubes: list[torch.Tensor], steps: int, seed: int = 0, batch: int = 32, log_every: int = 100
) -> NaturalnessDiscriminator:
    """Train the naturalness discriminator: crops of ordinary photos (at random exposures) against crops under
    random looks at random strengths (logistic loss)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = NaturalnessDiscriminator()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.99))
    started, running, correct = time.perf_counter(), 0.0, 0.0
    for step in range(1, steps + 1):
        pick = torch.randint(len(photos), (2 * batch,), generator=generator).tolist()
        pixels = torch.stack([scene_pixels(photos[i], 1024, generator) for i in pick])  # (2B, P, 3)
        styled = []
        for i in range(batch, 2 * batch):
            look = blend_lut(sample_look(generator, cubes, 0.5), _uniform(generator, 0.3, 1.0))
            styled.append(apply_lut_colours(pixels[i], look))
        pixels = torch.cat([pixels[:batch], torch.stack(styled)])
        pixels = (pixels * 255.0).round() / 255.0
        labels = torch.cat([torch.ones(batch), torch.zeros(batch)])
        logits = model(pixels)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += float(loss.detach())
        correct += float(((logits > 0).float() == labels).float().mean())
        if step % log_every == 0 or step == steps:
            done = log_every if step % log_every == 0 else step % log_every
            print(f"step {step:6d}/{steps}  loss {running / done:.3f}  accuracy {correct / done:.3f}  {time.perf_counter() - started:5.0f} s", flush=True)
            running, correct = 0.0, 0.0
    return model.eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m influgan.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--photos", nargs="+", required=True, help="folders of ordinary photos")
    parser.add_argument("--looks", nargs="*", default=[], help=".cube files or folders (none: procedural looks only)")
    parser.add_argument("--exclude", default="", help="comma-separated look stems to leave out")
    parser.add_argument("--fold", default="", help="K/N: leave out every look whose index (sorted) is K mod N")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", choices=("prior", "naturalness"), default="prior", help="what to train")
    parser.add_argument("--out", help="weights file (default: weights/prior.safetensors or weights/naturalness.safetensors)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    cube_paths = sorted(p for item in args.looks for p in ([Path(item)] if Path(item).is_file() else Path(item).glob("*.cube")))
    excluded = {name for name in args.exclude.split(",") if name}
    if args.fold:
        k, n = (int(v) for v in args.fold.split("/"))
        excluded |= {p.stem for i, p in enumerate(cube_paths) if i % n == k}
    cube_paths = [p for p in cube_paths if p.stem not in excluded]
    cubes = [resample_lut(load_cube(p)[0], LOOK_SIZE) for p in cube_paths]
    photos = load_photos(find_images(args.photos))
    print(f"{len(photos)} photos, {len(cubes)} .cube looks ({', '.join(p.stem for p in cube_paths) or 'procedural only'})")

    if args.model == "prior":
        model = train(photos, cubes, args.steps, args.seed)
    else:
        model = train_naturalness(photos, cubes, args.steps, args.seed)
    out = args.out or str(WEIGHTS_DIR / (PRIOR_FILE if args.model == "prior" else NATURALNESS_FILE))
    metadata = {
        "steps": args.steps,
        "seed": args.seed,
        "photos": len(photos),
        "looks": ",".join(p.stem for p in cube_paths),
        "command": "python -m influgan.pretrain " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    model.save(out, metadata)
    print(f"wrote {out} ({Path(out).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
