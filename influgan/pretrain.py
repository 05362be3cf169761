"""Pre-training on synthetic tasks: the look prior (photos under a random look → the look) and the naturalness
discriminator (ordinary photos vs the same under random looks).

Each task draws 3–24 reference photos and 4 held-out photos of the same collection, varies the scenes (random
crops and exposure; the features do not see position, so flips would change nothing), picks a random look —
a procedural one (``procedural.py``: exposure, tone curves, mixers, split toning, gradient maps, hue, saturation,
fades, black and white, cross-processing; compositions of two; strong per-channel curves) or, when ``.cube``
looks are given, one of those at a random strength, blended with another, topped with a mild procedural grade,
or varied (``vary_look``: shot at another exposure or white balance, turned about the grey axis, its channels
swapped) — and styles the references with it, rounded to 8 bits. The prior sees the references and is scored
on the true look applied to the held-out photos (plus random colours, so that the LUT stays sensible
everywhere): mean CIE76 ΔE in CIELAB.

Tasks are drawn a batch at a time on the training device (the photos live there in one padded tensor); the
looks are drawn on the CPU, in ``--workers`` background processes when asked, so a GPU is kept busy.

    python -m influgan.pretrain --photos ../shared/data/photos --looks ../shared/data/looks   # ~23 min on 2 CPU cores
    python -m influgan.pretrain --photos ../shared/data/photos --looks ../shared/data/looks --steps 1900 \
        --tasks 256 --repeats 4 --threads 1 --device cuda --workers 2      # the shipped prior (weights/README.md)
    python -m influgan.pretrain --model naturalness --photos ../shared/data/photos --steps 2000 --seed 0

Seeded and reproducible for a given device, thread count and worker count; ``--exclude`` and ``--fold`` leave
looks out (for honest evaluation).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .cube import load_cube
from .images import find_images, load_image
from .losses import rgb_to_lab
from .lut_torch import apply_lut_colours, blend_lut, identity_lut, resample_lut
from .naturalness import NATURALNESS_FILE, NaturalnessDiscriminator
from .prior import FEATURE_PIXELS, PRIOR_FILE, READ_SIZE, LookPrior, PhotoBank, crop_pixels, pixel_features, reading_size
from .procedural import build_lut, hue_rotation_matrix, random_recipe
from .weights import WEIGHTS_DIR

LOOK_SIZE = 33  # every look is handed to training at this size (procedural ones are built at 17: 33 refines it exactly)
MAX_REFERENCES, HELD_OUT, HELD_OUT_PIXELS, RANDOM_COLOURS = 24, 4, 1024, 512


def load_photos(paths: list[Path]) -> list[torch.Tensor]:
    """The training photos as (3, h, w) tensors in 0..1, at the size the prior reads photos (``reading_size``)."""
    return [reading_size(load_image(path, draft_size=READ_SIZE)) for path in paths]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _chance(generator: torch.Generator, p: float) -> bool:
    return float(torch.rand((), generator=generator)) < p


def compose(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The LUT of ``second`` applied after ``first`` (on ``first``'s grid), within 0..1."""
    return apply_lut_colours(first.reshape(-1, 3), second).reshape(first.shape).clamp(0.0, 1.0)


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


def shot_differently(lut: torch.Tensor, stops: float, temperature: float, tint: float) -> torch.Tensor:
    """The look (S, S, S, 3) on a scene shot at another exposure and white balance: a grade before it."""
    before = build_lut([("exposure", {"stops": stops}), ("white_balance", {"temperature": temperature, "tint": tint})], lut.shape[0])
    return compose(before, lut)


def turned(lut: torch.Tensor, degrees: float) -> torch.Tensor:
    """The look (S, S, S, 3) turned about the grey axis: hue-rotated in and rotated back out, so its character
    lands on other hues (colours the rotation takes out of gamut are clipped)."""
    rotation = hue_rotation_matrix(degrees)
    into = (identity_lut(lut.shape[0]) @ rotation.T).clamp(0.0, 1.0)
    return (compose(into, lut) @ rotation).clamp(0.0, 1.0)  # rotation⁻¹ = rotationᵀ


def channels_swapped(lut: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """The look (S, S, S, 3) with the input's channels reordered by ``order`` (3,) and the output's put back."""
    return compose(identity_lut(lut.shape[0])[..., order], lut)[..., torch.argsort(order)]


def vary_look(lut: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random relative of a look that no collection holds, so that the prior learns looks, not a list of them:
    shot at another exposure (±1 stop) and white balance, turned by up to ±35°, or (rarely) its channels swapped."""
    kind = float(torch.rand((), generator=generator))
    if kind < 0.45:
        return shot_differently(lut, _uniform(generator, -1.0, 1.0), _uniform(generator, -0.5, 0.5), _uniform(generator, -0.25, 0.25))
    if kind < 0.85:
        return turned(lut, _uniform(generator, -35.0, 35.0))
    return channels_swapped(lut, torch.randperm(3, generator=generator))


def sample_look(generator: torch.Generator, cubes: list[torch.Tensor], cube_share: float, vary: float = 0.0) -> torch.Tensor:
    """A random look for one task: identity now and then, a (varied) .cube look, or a procedural one.

    vary: the chance that a .cube look is replaced by a relative (``vary_look``)."""
    if _chance(generator, 0.04):
        return identity_lut(17)
    if cubes and _chance(generator, cube_share):
        lut = cubes[int(torch.randint(len(cubes), (1,), generator=generator))]
        if _chance(generator, 0.3):
            other = cubes[int(torch.randint(len(cubes), (1,), generator=generator))]
            lut = torch.lerp(lut, other, _uniform(generator, 0.0, 1.0))
        if vary and _chance(generator, vary):
            lut = vary_look(lut, generator)
        lut = blend_lut(lut, _uniform(generator, 0.4, 1.2))
        if _chance(generator, 0.3):
            lut = compose(lut, build_lut(random_recipe(generator, 0.3), 17))
        return lut
    return blend_lut(procedural_look(generator), _uniform(generator, 0.6, 1.4))


class LookStream(IterableDataset):
    """Endless batches of ``count`` random looks, (count, LOOK_SIZE, LOOK_SIZE, LOOK_SIZE, 3), drawn on the CPU;
    each distinct look fills ``repeats`` neighbouring places (it will style as many tasks, each with its own photos).

    In DataLoader workers each worker draws from its own seeded stream (``seed``, worker index)."""

    def __init__(self, cubes: list[torch.Tensor], count: int, cube_share: float, vary: float, seed: int, repeats: int = 1):
        if count % repeats:
            raise ValueError(f"{count} looks per batch is not a multiple of {repeats} repeats")
        self.cubes, self.count, self.cube_share, self.vary, self.seed, self.repeats = cubes, count, cube_share, vary, seed, repeats

    def __iter__(self):
        worker = get_worker_info()
        generator = torch.Generator().manual_seed(self.seed * 1009 + (worker.id if worker else 0))
        while True:
            looks = [sample_look(generator, self.cubes, self.cube_share, self.vary) for _ in range(self.count // self.repeats)]
            yield torch.stack([resample_lut(look, LOOK_SIZE) for look in looks]).repeat_interleave(self.repeats, dim=0)


def looks_of(stream: LookStream, workers: int):
    """An iterator over the stream's batches, drawn in ``workers`` background processes (0: in this one)."""
    return iter(DataLoader(stream, batch_size=None, num_workers=workers, prefetch_factor=4 if workers else None))


def _rand(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=generator, device=generator.device)


def scene_pixels(bank: PhotoBank, index: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``crop_pixels`` of each photo ``index`` (B,), each photo at its own random exposure: (B, count, 3).
    ``generator`` lives on the bank's device."""
    pixels = crop_pixels(bank, index, count, generator)
    exposure = 2.0 ** (1.4 * _rand(generator, len(index), 1, 1) - 0.7)  # ±0.7 stops, in (approximately) linear light
    return ((pixels.clamp_min(0.0) ** 2.2 * exposure).clamp(0.0, 1.0)) ** (1 / 2.2)


@dataclass
class TaskBatch:
    """T synthetic tasks: what the prior sees and what it is scored on."""

    references: torch.Tensor  # (M, FEATURE_PIXELS, 3): every task's styled references, rounded to 8 bits
    sets: torch.Tensor  # (M,): the task of each reference
    colours: torch.Tensor  # (T, N, 3): held-out photos' pixels, then RANDOM_COLOURS random colours
    truth: torch.Tensor  # (T, N, 3): the colours under the task's true look


def sample_tasks(bank: PhotoBank, looks: torch.Tensor, generator: torch.Generator, max_references: int = MAX_REFERENCES) -> TaskBatch:
    """One task per look (T, S, S, S, 3): 3–``max_references`` references (fewer when the bank is small) and
    HELD_OUT held-out photos, all different photos of the bank."""
    tasks, device = len(looks), bank.pixels.device
    max_references = min(max_references, len(bank) - HELD_OUT)
    if max_references < 3:
        raise ValueError(f"tasks need at least {3 + HELD_OUT} photos, got {len(bank)}")
    counts = torch.randint(3, max_references + 1, (tasks,), generator=generator, device=device)
    chosen = _rand(generator, tasks, len(bank)).argsort(dim=1)[:, : max_references + HELD_OUT]  # distinct photos per task
    slots = scene_pixels(bank, chosen[:, :max_references].reshape(-1), FEATURE_PIXELS, generator)  # (T·R, P, 3)
    styled = apply_lut_colours(slots.reshape(tasks, -1, 3), looks).reshape(tasks, max_references, FEATURE_PIXELS, 3)
    used = torch.arange(max_references, device=device) < counts.unsqueeze(1)  # (T, R): the first count slots
    held_out = scene_pixels(bank, chosen[:, max_references:].reshape(-1), HELD_OUT_PIXELS, generator)
    colours = torch.cat([held_out.reshape(tasks, -1, 3), _rand(generator, tasks, RANDOM_COLOURS, 3)], dim=1)
    return TaskBatch(
        references=(styled[used] * 255.0).round() / 255.0,
        sets=torch.arange(tasks, device=device).repeat_interleave(counts),
        colours=colours,
        truth=apply_lut_colours(colours, looks),
    )


def prediction_error(controls: torch.Tensor, colours: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean CIE76 ΔE of predicted LUTs (T, c, c, c, 3) on colours (T, N, 3) against the truth (T, N, 3), per task
    (T,); the last RANDOM_COLOURS colours weigh 1/4."""
    delta = (rgb_to_lab(apply_lut_colours(colours, controls)) - rgb_to_lab(truth)).pow(2).sum(-1).add(1e-6).sqrt()  # (T, N)
    weights = torch.ones(colours.shape[1], device=colours.device)
    weights[-RANDOM_COLOURS:] = 0.25
    return (delta * weights).sum(1) / weights.sum()


def train(
    photos: list[torch.Tensor],
    cubes: list[torch.Tensor],
    steps: int,
    seed: int = 0,
    tasks_per_step: int = 32,
    cube_share: float = 0.5,
    vary: float = 0.5,
    repeats: int = 2,
    lr: float = 2e-3,
    hidden: int = 256,
    basis: int = 64,
    device: str = "cpu",
    workers: int = 0,
    log_every: int = 100,
) -> LookPrior:
    """Train a LookPrior for ``steps`` steps of ``tasks_per_step`` tasks each (AdamW, cosine learning rate); each
    random look styles ``repeats`` of a step's tasks (drawing looks costs CPU time; photos are cheap)."""
    looks = looks_of(LookStream(cubes, tasks_per_step, cube_share, vary, seed, repeats), workers)  # workers fork before CUDA starts
    torch.manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    bank = PhotoBank(photos, device)
    prior = LookPrior(basis=basis, hidden=hidden).to(device)
    optimizer = torch.optim.AdamW(prior.parameters(), lr=lr, weight_decay=1e-4)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1.0 + math.cos(math.pi * i / steps))
    )
    started, running = time.perf_counter(), 0.0
    for step in range(1, steps + 1):
        batch = sample_tasks(bank, next(looks).to(device), generator)
        controls = prior(pixel_features(batch.references), batch.sets)  # (T, c, c, c, 3)
        loss = prediction_error(controls, batch.colours, batch.truth).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        running += float(loss.detach())
        if step % log_every == 0 or step == steps:
            done = log_every if step % log_every == 0 else step % log_every
            print(f"step {step:6d}/{steps}  ΔE76 {running / done:6.2f}  {time.perf_counter() - started:7.1f} s", flush=True)
            running = 0.0
    return prior.cpu().eval()


def train_naturalness(
    photos: list[torch.Tensor], cubes: list[torch.Tensor], steps: int, seed: int = 0, batch: int = 32, log_every: int = 100
) -> NaturalnessDiscriminator:
    """Train the naturalness discriminator: crops of ordinary photos (at random exposures) against crops under
    random looks at random strengths (logistic loss)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    bank = PhotoBank(photos)
    model = NaturalnessDiscriminator()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.99))
    started, running, correct = time.perf_counter(), 0.0, 0.0
    for step in range(1, steps + 1):
        pixels = scene_pixels(bank, torch.randint(len(bank), (2 * batch,), generator=generator), 1024, generator)  # (2B, P, 3)
        looks = torch.stack([
            resample_lut(blend_lut(sample_look(generator, cubes, 0.5), _uniform(generator, 0.3, 1.0)), LOOK_SIZE) for _ in range(batch)
        ])
        pixels = torch.cat([pixels[:batch], apply_lut_colours(pixels[batch:], looks)])
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
    parser.add_argument("--tasks", type=int, default=32, help="tasks per step")
    parser.add_argument("--repeats", type=int, default=2, help="tasks each random look styles (divides --tasks)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--vary", type=float, default=0.5, help="chance that a .cube look is varied (vary_look)")
    parser.add_argument("--hidden", type=int, default=256, help="the prior's width")
    parser.add_argument("--basis", type=int, default=64, help="the prior's number of basis LUTs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where the prior trains (the naturalness discriminator trains on the CPU)")
    parser.add_argument("--workers", type=int, default=0, help="background processes drawing looks (0: none)")
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
    cubes = [resample_lut(torch.from_numpy(load_cube(p)[0]).clamp(0.0, 1.0), LOOK_SIZE) for p in cube_paths]
    photos = load_photos(find_images(args.photos))
    print(f"{len(photos)} photos, {len(cubes)} .cube looks ({', '.join(p.stem for p in cube_paths) or 'procedural only'})")

    if args.model == "prior":
        model = train(photos, cubes, args.steps, args.seed, args.tasks, vary=args.vary, repeats=args.repeats, lr=args.lr, hidden=args.hidden,
                      basis=args.basis, device=args.device, workers=args.workers)
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
