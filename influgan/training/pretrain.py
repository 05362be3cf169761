"""Pre-training on synthetic tasks: the look prior (photos under a random look → the look).

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

    python -m influgan.training.pretrain --photos ../shared/data/photos --looks ../shared/data/looks   # ~23 min on 2 CPU cores
    python -m influgan.training.pretrain --photos ../shared/data/photos --looks ../shared/data/looks --steps 1900 \
        --tasks 256 --repeats 4 --threads 1 --device cuda --workers 2      # the shipped prior (weights/README.md)

Seeded and reproducible for a given device, thread count and worker count; ``--exclude`` and ``--fold`` leave
looks out (for honest evaluation).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from safetensors import safe_open
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..looks.cube import load_cube
from ..images import find_images, load_image, thumbnail
from ..learning.losses import rgb_to_lab
from ..learning.lut_torch import apply_lut_colours, blend_lut, identity_lut, resample_lut
from ..looks.lut import pillow_lut
from ..learning.prior import FEATURE_PIXELS, PRIOR_FILE, READ_SIZE, LookPrior, PhotoBank, crop_pixels, pixel_features, reading_size
from .procedural import build_lut, hue_rotation_matrix, random_recipe
from ..weights import WEIGHTS_DIR

LOOK_SIZE = 33  # every look is handed to training at this size (procedural ones are built at 17: 33 refines it exactly)
MAX_REFERENCES, HELD_OUT, HELD_OUT_PIXELS, RANDOM_COLOURS = 24, 4, 1024, 512
# feeds as creators have them: photos saved from a social app as JPEG of a quality within FEED_QUALITY (4:2:0
# chroma), sometimes a little sharpened (SHARPEN_CHANCE), at FEED_SIDE px on the longer side: apps post 1080 px,
# which the prior, reading at 192 px, sees nearly clean; the smaller size carries more of the JPEG into the reading
FEED_SIDE, FEED_QUALITY, SHARPEN_CHANCE = 512, (70, 85), 0.3
FEED_REFERENCES, FEEDS_KEPT = 16, 16  # photos a posted feed holds; the most recent feeds that tasks draw from


# a name's last parts that mark a variant of one film stock: another exposure (_1 .. _9), an alternative or
# high-contrast scan, a colder or warmer rendering, the generic profile, the peel-apart negative
VARIANT_PARTS = {"alt", "hc", "cold", "cool", "warm", "generic", "negative", "early"}
# looks that are another family's under another name, found by comparing every pair of the 217 film looks
# (docs/experiments.md): ilford_hps_800 is ilford_hp5_plus_400's LUT, nightfromday all but moonlight's; and HP5 Plus
# is HP5
FAMILY_ALIASES = {"ilford_hps_800": "ilford_hp5", "ilford_hp5_plus_400": "ilford_hp5", "nightfromday": "moonlight"}


def look_family(name: str) -> str:
    """The film family of a look's name: the stock with its variant parts stripped, so that honest folds leave
    out a stock with all its exposures and renderings (``fuji_fp_100c_cool_3`` → ``fuji_fp_100c``,
    ``bleachbypass2`` → ``bleachbypass``, ``kodak_tmax_3200_3_alt`` → ``kodak_tmax_3200``)."""
    if name in FAMILY_ALIASES:
        return FAMILY_ALIASES[name]
    parts = name.split("_")
    while len(parts) > 1 and (parts[-1] in VARIANT_PARTS or re.fullmatch(r"[1-9]", parts[-1])):
        parts.pop()
    # one word: a trailing digit numbers the variant (tealorange2); in a stock's name it stays (ilford_hp5)
    stock = re.sub(r"(?<=[a-z])[1-9]$", "", parts[0]) if len(parts) == 1 else "_".join(parts)
    return FAMILY_ALIASES.get(stock, stock)


def family_fold(name: str, folds: int) -> int:
    """The fold (0 .. folds − 1) of a look's family: a hash of the family, so that every script agrees on it
    whichever looks it was given."""
    return int(hashlib.sha256(look_family(name).encode()).hexdigest()[:8], 16) % folds


def parse_fold(text: str) -> tuple[int, int]:
    """``"K/N"`` → (K, N), with 0 ≤ K < N."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--fold takes K/N, e.g. 0/4, got {text!r}") from None
    if not 0 <= k < n:
        raise ValueError(f"--fold {text}: K must be within 0..N-1")
    return k, n


def find_looks(items: list[str]) -> list[Path]:
    """The look files named by ``items``: ``.cube`` and ``.npz`` files, and the ``.cube`` files of folders."""
    paths = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths += sorted(path.glob("*.cube"))
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"{item}: no such look file or folder")
    return paths


def load_looks(paths: list[Path]) -> list[tuple[str, torch.Tensor]]:
    """(name, LUT at LOOK_SIZE) for every look of ``paths`` in order: a ``.cube`` file holds one, named by its
    stem; an ``.npz`` library holds many (``luts`` float [K, S, S, S, 3] indexed [b, g, r], ``names``). A name
    met twice keeps its first LUT."""
    looks: dict[str, torch.Tensor] = {}
    for path in paths:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as library:
                for name, lut in zip(library["names"], library["luts"]):
                    looks.setdefault(str(name), resample_lut(torch.from_numpy(lut.astype(np.float32)), LOOK_SIZE))
        else:
            looks.setdefault(path.stem, resample_lut(torch.from_numpy(load_cube(path)[0]).clamp(0.0, 1.0), LOOK_SIZE))
    return list(looks.items())


def data_manifest(paths: list[Path]) -> str:
    """``sha256sum`` lines (digest, two spaces, path as given) for every file a run reads, sorted by path."""
    return "".join(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path}\n" for path in sorted(set(paths)))


def source_commit() -> str:
    """The git commit of the code that runs, with " (uncommitted changes)" when the worktree differs from it."""
    root = Path(__file__).resolve().parents[2]  # the checkout: influgan/training/pretrain.py
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (uncommitted changes)" if dirty.strip() else "")


def init_provenance(path: Path) -> dict:
    """What a run that starts from the prior at ``path`` records of it: its digest, command and commit."""
    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata() or {}
    return {"init_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            **{f"init_{key}": metadata[key] for key in ("command", "commit", "final_loss") if key in metadata}}


def load_photos(paths: list[Path]) -> list[torch.Tensor]:
    """The training photos as (3, h, w) tensors in 0..1, at the size the prior reads photos (``reading_size``)."""
    return [reading_size(load_image(path, draft_size=READ_SIZE)) for path in paths]


def load_feed_photos(paths: list[Path]) -> list[Image.Image]:
    """The training photos as Pillow images at most FEED_SIDE px on the longer side, for posted feeds."""
    return [thumbnail(load_image(path, draft_size=FEED_SIDE), FEED_SIDE) for path in paths]


def posted(photo: Image.Image, look: torch.Tensor, draws: list[float]) -> torch.Tensor:
    """A photo (Pillow) as a creator's feed shows it: shot at another exposure (±0.7 stops), styled with ``look``
    (S, S, S, 3), sometimes a little sharpened, saved as JPEG and read back, then reduced to the size the prior
    reads: (3, h, w) in 0..1. ``draws``: four numbers in 0..1 that pick the exposure, quality and sharpening."""
    exposure, quality, sharpen, amount = draws
    gain = 2.0 ** (1.4 * exposure - 0.7)
    curve = [round(255.0 * min(1.0, (v / 255.0) ** 2.2 * gain) ** (1 / 2.2)) for v in range(256)]
    image = photo.point(curve * 3).filter(pillow_lut(look.cpu().numpy()))
    if sharpen < SHARPEN_CHANCE:  # x + a·(x − box blur), a in 0.2..0.6
        a = 0.2 + 0.4 * amount
        image = image.filter(ImageFilter.Kernel((3, 3), [-a / 9] * 4 + [1 + a - a / 9] + [-a / 9] * 4, scale=1))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=round(FEED_QUALITY[0] + quality * (FEED_QUALITY[1] - FEED_QUALITY[0])))
    return reading_size(Image.open(buffer).convert("RGB"))


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


class PostedFeeds:
    """A rolling store of feeds as posted (``posted``): each a look and FEED_REFERENCES photos under it as a social
    app shows them, at the prior's reading size. Rendering them (Pillow, at FEED_SIDE px) costs far more than the
    rest of a task, so each training step adds one feed and tasks draw from the last FEEDS_KEPT: each feed serves
    several tasks, each with its own subset of the references, crops and held-out photos."""

    def __init__(self, photos: list[Image.Image]):
        self.photos, self.feeds = photos, []  # feeds: (look (S, S, S, 3), photo indices (n,), PhotoBank of the n reads)

    def __len__(self) -> int:
        return len(self.feeds)

    def add(self, look: torch.Tensor, generator: torch.Generator, device: str | torch.device = "cpu") -> None:
        """Post a feed of ``look`` on random photos; the oldest feed goes once FEEDS_KEPT are kept."""
        count = min(FEED_REFERENCES, len(self.photos) - HELD_OUT)
        indices = torch.randperm(len(self.photos), generator=generator)[:count]
        draws = torch.rand(count, 4, generator=generator).tolist()
        reads = [posted(self.photos[int(i)], look, d) for i, d in zip(indices, draws)]
        self.feeds = (self.feeds + [(look.to(device), indices.to(device), PhotoBank(reads, device))])[-FEEDS_KEPT:]


def sample_tasks(bank: PhotoBank, looks: torch.Tensor, generator: torch.Generator, max_references: int = MAX_REFERENCES,
                 feeds: PostedFeeds | None = None, feed_share: float = 0.0) -> TaskBatch:
    """One task per look (T, S, S, S, 3): 3–``max_references`` references (fewer when the bank is small) and
    HELD_OUT held-out photos, all different photos of the bank. A ``feed_share`` of the tasks instead show a feed
    of ``feeds`` as posted: its look, 3 to all of its references, and held-out photos from outside the feed."""
    tasks, device = len(looks), bank.pixels.device
    max_references = min(max_references, len(bank) - HELD_OUT)
    if max_references < 3:
        raise ValueError(f"tasks need at least {3 + HELD_OUT} photos, got {len(bank)}")
    counts = torch.randint(3, max_references + 1, (tasks,), generator=generator, device=device)
    order = _rand(generator, tasks, len(bank))
    shown = {}  # task → (feed, positions of its references in the feed)
    if feeds is not None and len(feeds) and feed_share > 0.0:
        looks = looks.clone()
        for task in (_rand(generator, tasks) < feed_share).nonzero().flatten().tolist():
            feed = feeds.feeds[int(torch.randint(len(feeds), (1,), generator=generator, device=device))]
            looks[task], size = feed[0], len(feed[1])
            counts[task] = torch.randint(3, size + 1, (1,), generator=generator, device=device)
            shown[task] = (feed, _rand(generator, size).argsort()[: int(counts[task])])
            order[task, feed[1]] = 2.0  # held-out photos come from outside the feed
    chosen = order.argsort(dim=1)  # distinct photos per task: references first, then held out
    held_out = chosen[:, max_references : max_references + HELD_OUT].clone()
    for task in shown:  # a shown feed's photos come last: the held-out photos are the first of the rest
        held_out[task] = chosen[task, :HELD_OUT]
    plain = [task for task in range(tasks) if task not in shown]
    plain_counts = counts[plain].tolist()
    used = torch.arange(max_references, device=device) < counts[plain].unsqueeze(1)  # (T', R): the first count slots
    pixels = scene_pixels(bank, chosen[plain, :max_references][used], FEATURE_PIXELS, generator).split(plain_counts)
    references = dict(zip(plain, [apply_lut_colours(part, looks[task]) for part, task in zip(pixels, plain)]))
    for task, (feed, positions) in shown.items():
        references[task] = crop_pixels(feed[2], positions, FEATURE_PIXELS, generator)
    colours = scene_pixels(bank, held_out.reshape(-1), HELD_OUT_PIXELS, generator).reshape(tasks, -1, 3)
    colours = torch.cat([colours, _rand(generator, tasks, RANDOM_COLOURS, 3)], dim=1)
    return TaskBatch(
        references=(torch.cat([references[task] for task in range(tasks)]) * 255.0).round() / 255.0,
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
    feed_photos: list[Image.Image] | None = None,
    feed_share: float = 0.0,
    history: list | None = None,
    init: LookPrior | None = None,
) -> LookPrior:
    """Train a LookPrior for ``steps`` steps of ``tasks_per_step`` tasks each (AdamW, cosine learning rate); each
    random look styles ``repeats`` of a step's tasks (drawing looks costs CPU time; photos are cheap); ``history``
    gets (step, mean loss) at each log line. With
    ``feed_photos`` (the photos as Pillow images, ``load_feed_photos``), a ``feed_share`` of the tasks show feeds
    as posted from a social app (``PostedFeeds``; each step posts one of its looks). ``init``: a prior to start
    from (its own width and basis), e.g. one trained on procedural looks only."""
    looks = looks_of(LookStream(cubes, tasks_per_step, cube_share, vary, seed, repeats), workers)  # workers fork before CUDA starts
    torch.manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    bank = PhotoBank(photos, device)
    feeds = PostedFeeds(feed_photos) if feed_photos and feed_share > 0.0 else None
    feed_generator = torch.Generator().manual_seed(seed + 1)
    prior = (init if init is not None else LookPrior(basis=basis, hidden=hidden)).train().to(device)
    optimizer = torch.optim.AdamW(prior.parameters(), lr=lr, weight_decay=1e-4)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1.0 + math.cos(math.pi * i / steps))
    )
    started, running = time.perf_counter(), 0.0
    for step in range(1, steps + 1):
        drawn = next(looks)
        if feeds is not None:
            feeds.add(drawn[0], feed_generator, device)
        batch = sample_tasks(bank, drawn.to(device), generator, feeds=feeds, feed_share=feed_share)
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
            if history is not None:
                history.append((step, running / done))
            running = 0.0
    return prior.cpu().eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m influgan.training.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--photos", nargs="+", required=True, help="folders of ordinary photos")
    parser.add_argument("--looks", nargs="*", default=[], help=".cube files or folders, .npz look libraries (none: procedural looks only)")
    parser.add_argument("--exclude", default="", help="comma-separated look names to leave out")
    parser.add_argument("--fold", default="", help="K/N: leave out every look whose family (look_family) is in fold K of N")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--tasks", type=int, default=32, help="tasks per step")
    parser.add_argument("--repeats", type=int, default=2, help="tasks each random look styles (divides --tasks)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--vary", type=float, default=0.5, help="chance that a .cube look is varied (vary_look)")
    parser.add_argument("--cube-share", type=float, default=0.5, help="share of tasks whose look is a film look (the rest procedural)")
    parser.add_argument("--feed-share", type=float, default=0.25, help="share of tasks that show a feed as posted (PostedFeeds)")
    parser.add_argument("--init", help="prior weights to start from (keeps their width and basis), e.g. a run on procedural looks only")
    parser.add_argument("--hidden", type=int, default=256, help="the prior's width")
    parser.add_argument("--basis", type=int, default=64, help="the prior's number of basis LUTs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where the prior trains")
    parser.add_argument("--workers", type=int, default=0, help="background processes drawing looks (0: none)")
    parser.add_argument("--out", help="weights file (default: weights/prior.safetensors)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    looks = load_looks(find_looks(args.looks))
    excluded = {name for name in args.exclude.split(",") if name}
    if args.fold:
        k, n = parse_fold(args.fold)
        excluded |= {name for name, _ in looks if family_fold(name, n) == k}
    looks = [(name, lut) for name, lut in looks if name not in excluded]
    cubes = [lut for _, lut in looks]
    photo_paths = find_images(args.photos)
    photos = load_photos(photo_paths)
    names = [name for name, _ in looks]
    print(f"{len(photos)} photos, {len(cubes)} film looks in {len({look_family(n) for n in names})} families"
          f" ({', '.join(names[:8]) + (', ...' if len(names) > 8 else '') if names else 'procedural only'})", flush=True)

    out = Path(args.out or WEIGHTS_DIR / PRIOR_FILE)
    manifest = data_manifest(find_looks(args.looks) + photo_paths + ([Path(args.init)] if args.init else []))
    commit, started, history = source_commit(), time.perf_counter(), []  # the commit of the code as it starts
    feed_photos = load_feed_photos(photo_paths) if args.feed_share > 0.0 else None
    model = train(photos, cubes, args.steps, args.seed, args.tasks, cube_share=args.cube_share, vary=args.vary, repeats=args.repeats,
                  lr=args.lr, hidden=args.hidden, basis=args.basis, device=args.device, workers=args.workers,
                  feed_photos=feed_photos, feed_share=args.feed_share, history=history,
                  init=LookPrior.load(args.init) if args.init else None)
    metadata = {
        "command": "python -m influgan.training.pretrain " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit,
        "data_sha256": hashlib.sha256(manifest.encode()).hexdigest(),
        "steps": args.steps,
        "seed": args.seed,
        "photos": len(photos),
        "looks": ",".join(name for name, _ in looks),
        "minutes": f"{(time.perf_counter() - started) / 60:.1f}",
        **({"final_loss": f"{history[-1][1]:.3f}"} if history else {}),
        **(init_provenance(Path(args.init)) if args.init else {}),
    }
    model.save(out, metadata)
    out.with_suffix(".data.sha256").write_text(manifest)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and the manifest of the data it read, {out.with_suffix('.data.sha256')}")


if __name__ == "__main__":
    main()
