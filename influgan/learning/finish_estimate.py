"""Reading a feed's finishing (grain, vignette) straight from its photos, in NumPy and Pillow.

The references are of other scenes than the user's photos, so finishing is read from what scenes do not set:

- **Vignette**: in flat parts of a photo, the log-luminance barely changes from one 8×8 block to the next, in any
  direction; a vignette adds the same outward slope, d/dρ log(1 − a·f(ρ)), to every photo (ρ: distance from the
  centre over the half-diagonal). Per band of ρ, the median outward slope of block-mean log-luma over all the
  references, less what ordinary photos show (``natural_texture.safetensors``: lens falloff, composition), is
  fitted with the vignette's own curve (``finishing.radial_falloff``). Towards white, the same on log(255 − luma).
- **Grain**: in the flattest 32×32 tiles of each reference (chosen by their 8×8 block means, which grain hardly
  moves), the noise spectrum in five bands of frequency, scaled by the tone response the grain has at the tile's
  tone; the lower quartile over tiles (most photos have some tiles with no texture of their own). The same is
  measured on simulations: each tile's smooth part plus grain of a candidate amount and size (``finishing``'s own
  field and tone tables) under the vignette read above, through the reference's own JPEG quantisation when it
  is known (a feed saved from a social app is JPEG quality 70–85, which removes much of fine grain). The size
  whose spectrum fits best, with the amount that matches the energy, is the estimate.

``read_texture`` reduces a reference to what is needed (a few hundred KB); ``estimate_finish`` reads the finish.
"""
from __future__ import annotations

import argparse
import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file

from ..looks.finishing import Finish, grain_field, grain_tone_table, radial_falloff, vignette_falloff
from ..images import DECODE_ERRORS, ImageError, check_training_size, find_images, load_image, open_image, thumbnail
from ..weights import WEIGHTS_DIR, weights_path

NATURAL_TEXTURE = "natural_texture.safetensors"
TEXTURE_SIDE = 1600  # references are read at their own size up to this longer side (larger ones are shrunk to it)
TILE = 32  # side of the tiles the grain is read in (a multiple of JPEG's 8×8 blocks, aligned with them)
TILES = 576  # tiles read over all references (the flattest quarter of each, at most TILES / count)
GRAIN_QUANTILE = 25.0  # percentile of the tiles' tone-scaled noise energies
BLOCK = 8  # block size of the vignette's luma map (JPEG's: block means survive compression)
SLOPE_STEP = 2  # blocks each side in the slope's central difference
RADIAL_BINS = 16  # bands of ρ in 0..1
# grain below this RMS of L* at mid-grey is not visible (about one JND, on the finest scale); ordinary photos' own
# noise and fine detail read as 0.4–0.8 at 1080 px (bench/finishbench.py), so a reading below it is no grain
GRAIN_VISIBLE = 1.0
# references whose median shorter side is below this (thumbnails: 512 px photos read as 1–4 L* of "grain" and
# vignettes to 0.15 from scene detail alone, docs/experiments.md) show too little to read a finish from: none is
MIN_TEXTURE_SIDE = 400
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_UNIT_TONE = grain_tone_table(1.0, Finish.grain_luma)  # (256,) code values of grain per L* of amount, by tone
_GRAIN_SIZES = np.exp(np.linspace(math.log(0.0006), math.log(0.01), 9))  # candidate grain_size (fraction of short side)
_VIGNETTE_AMOUNTS = np.linspace(0.0, 0.9, 91)
_VIGNETTE_RADII = np.linspace(0.2, 0.85, 27)
_RADIAL_EDGES = np.linspace(0.0, 1.0, RADIAL_BINS + 1)
_RADIAL_CENTRES = 0.5 * (_RADIAL_EDGES[1:] + _RADIAL_EDGES[:-1])


@dataclass
class ReferenceTexture:
    """What the estimators need of one reference (read by ``read_texture``)."""

    tiles: np.ndarray  # (n, TILE, TILE) float32 luma (8-bit code values) of its flattest tiles
    tile_rho: np.ndarray  # (n,) distance of each tile's centre from the image centre, over the half-diagonal
    short_side: int  # the image's shorter side in pixels, as read (grain size is a fraction of it)
    qtable: tuple[int, ...] | None  # the luma quantisation table when the pixels are a JPEG's own, else None
    slopes: dict[str, np.ndarray] = field(default_factory=dict)  # "black", "white": (m,) block slopes at ρ "rho_black", "rho_white"


@dataclass
class FinishReading:
    """A finish read from a feed, with how it was read."""

    finish: Finish
    vignette_error: float  # the vignette reading's standard error over the references (a jackknife)
    grain_energy: float  # the feed's tone-scaled noise energy in flat tiles (code values², summed over bands)
    tiles: int  # flat tiles read
    jpeg_modelled: bool  # whether the references' JPEG quantisation was known and simulated
    grain_read: float = 0.0  # the grain amount read, before amounts under GRAIN_VISIBLE count as none
    too_small: bool = False  # the references were too small to read (MIN_TEXTURE_SIDE): no finish


# --- reading one reference ------------------------------------------------------------------------------------
def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ _LUMA


def read_texture(source: Image.Image | str | Path, max_tiles: int = 48) -> ReferenceTexture:
    """Read one reference (a path or a Pillow image) for ``estimate_finish``; ImageError if unusable.

    A JPEG at most TEXTURE_SIDE px on its longer side is read at its own size with its quantisation table; a
    larger photo is shrunk to TEXTURE_SIDE (its compression is then mostly averaged away, and not modelled).
    """
    return texture_of(*texture_image(source), max_tiles=max_tiles)


def texture_image(source: Image.Image | str | Path, name: str = "reference") -> tuple[Image.Image, tuple[int, ...] | None]:
    """A reference as the texture reading sees it: RGB, longer side ≤ TEXTURE_SIDE, and its JPEG luma
    quantisation table when the pixels are the JPEG's own (else None); ImageError if unusable (``name``: an
    image's name in the message; a file's is its own)."""
    if isinstance(source, Image.Image):
        check_training_size(source.size, name)
        qtable = _luma_qtable(source) if max(source.size) <= TEXTURE_SIDE else None
        image = source.convert("RGB") if source.mode != "RGB" else source
    else:
        try:
            with open_image(source) as header:
                check_training_size(header.size, Path(source).name)
                qtable = _luma_qtable(header) if max(header.size) <= TEXTURE_SIDE else None
                # only a JPEG's blocks matter; a PNG's EXIF may sit after its pixels (damage shows in load_image)
                upright = qtable is None or header.getexif().get(0x0112, 1) in (1, None)
        except ImageError:
            raise
        except DECODE_ERRORS as error:
            raise ImageError(f"{Path(source).name}: the image data is damaged or truncated ({str(error)[:80] or type(error).__name__})") from None
        image = load_image(source, draft_size=TEXTURE_SIDE if qtable is None else None)
        qtable = qtable if upright else None  # a rotated JPEG's blocks no longer sit on the tile grid
    if max(image.size) > TEXTURE_SIDE:
        image, qtable = thumbnail(image, TEXTURE_SIDE), None
    return image, qtable


def texture_of(image: Image.Image, qtable: tuple[int, ...] | None, max_tiles: int = 48) -> ReferenceTexture:
    """What ``estimate_finish`` needs of one reference, from ``texture_image``'s RGB image and JPEG table."""
    luma = _luma(np.asarray(image))
    tiles, rho = _flat_tiles(luma, max_tiles)
    return ReferenceTexture(tiles, rho, min(luma.shape), qtable, _radial_slopes(luma))


def _luma_qtable(image: Image.Image) -> tuple[int, ...] | None:
    """The luma quantisation table of a JPEG Pillow has just opened (64 entries), else None."""
    tables = getattr(image, "quantization", None) if image.format in ("JPEG", "MPO") else None
    table = tables.get(0) if isinstance(tables, dict) else None
    return tuple(int(v) for v in table) if table is not None and len(table) == 64 else None


def _flat_tiles(luma: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The flattest quarter (at most ``count``) of the TILE×TILE tiles whose tone carries grain well: (n, T, T), (n,).

    Flatness is the spread of the tile's 8×8 block means about a plane (grain barely moves block means; a scene's
    texture and edges do).
    """
    height, width = luma.shape
    rows, columns = height // TILE, width // TILE
    if not rows or not columns:
        return np.zeros((0, TILE, TILE), np.float32), np.zeros(0)
    tiles = luma[: rows * TILE, : columns * TILE].reshape(rows, TILE, columns, TILE).transpose(0, 2, 1, 3).reshape(-1, TILE, TILE)
    blocks = TILE // 8
    means = tiles.reshape(-1, blocks, 8, blocks, 8).mean((2, 4))
    flatness = _detrend(means).std((1, 2))
    tone = _UNIT_TONE[np.clip(np.rint(tiles.mean((1, 2))), 0, 255).astype(np.int64)]
    usable = tone > 0.4 * _UNIT_TONE.max()  # not near black or white, where grain fades
    keep = min(count, max(4, usable.sum() // 4))
    order = np.argsort(np.where(usable, flatness, np.inf))[:keep]
    order = order[usable[order]]
    ys, xs = np.divmod(order, columns)
    rho = np.hypot((ys + 0.5) * TILE - height / 2, (xs + 0.5) * TILE - width / 2) / (0.5 * math.hypot(height, width))
    return np.ascontiguousarray(tiles[order]), rho


def _detrend(tiles: np.ndarray) -> np.ndarray:
    """Square tiles (n, S, S) less their least-squares planes a + b·y + c·x (elementwise: no BLAS on a busy CPU)."""
    side = tiles.shape[-1]
    centred = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5  # zero mean: the plane's terms are orthogonal
    norm = float((centred**2).sum())
    rows, columns = tiles.mean(2), tiles.mean(1)  # (n, S) each
    b = (rows * centred).sum(1) / norm
    c = (columns * centred).sum(1) / norm
    plane = rows.mean(1)[:, None, None] + b[:, None, None] * centred[None, :, None] + c[:, None, None] * centred[None, None, :]
    return tiles - plane


def _radial_slopes(luma: np.ndarray) -> dict[str, np.ndarray]:
    """Outward slopes d/dρ of block-mean log(luma) ("black") and log(255 − luma) ("white"), per block: (m,) each."""
    height, width = luma.shape
    rows, columns = height // BLOCK, width // BLOCK
    means = luma[: rows * BLOCK, : columns * BLOCK].reshape(rows, BLOCK, columns, BLOCK).mean((1, 3), dtype=np.float64)
    ys, xs = (np.mgrid[0:rows, 0:columns] + 0.5) * BLOCK
    dy, dx = ys - height / 2, xs - width / 2
    half_diagonal = 0.5 * math.hypot(height, width)
    radius = np.hypot(dx, dy)
    rho = radius / half_diagonal
    inner = np.zeros((rows, columns), bool)
    s = SLOPE_STEP
    inner[s:-s, s:-s] = rho[s:-s, s:-s] > 0.05
    out = {}
    for name, level, (low, high) in (("black", means, (12.0, 245.0)), ("white", 255.0 - means, (10.0, 243.0))):
        fine = (level > low) & (level < high)
        valid = inner.copy()
        for shift in range(-s, s + 1):
            valid &= np.roll(fine, shift, 0) & np.roll(fine, shift, 1)
        logs = np.log(np.maximum(level, 1.0))
        gy, gx = np.zeros_like(logs), np.zeros_like(logs)
        gy[s:-s] = (logs[2 * s :] - logs[: -2 * s]) / (2 * s * BLOCK)
        gx[:, s:-s] = (logs[:, 2 * s :] - logs[:, : -2 * s]) / (2 * s * BLOCK)
        slope = (gx * dx + gy * dy) / np.maximum(radius, 1e-6) * half_diagonal
        out[name], out[f"rho_{name}"] = slope[valid], rho[valid]
    return out


# --- the vignette -----------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _slope_curves() -> np.ndarray:
    """(radii, amounts, bins): d/dρ log(1 − a·f(ρ)) at the bins' centres for every candidate (a, radius)."""
    curves = np.zeros((len(_VIGNETTE_RADII), len(_VIGNETTE_AMOUNTS), RADIAL_BINS))
    for i, radius in enumerate(_VIGNETTE_RADII):
        t = np.clip((_RADIAL_CENTRES - radius) / (1.0 - radius), 0.0, 1.0)
        f, slope = t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t) / (1.0 - radius)
        curves[i] = -_VIGNETTE_AMOUNTS[:, None] * slope / np.maximum(1.0 - _VIGNETTE_AMOUNTS[:, None] * f, 1e-3)
    return curves


def radial_slope_curve(rho: np.ndarray, slopes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median slope per band of ρ (RADIAL_BINS,) (NaN where fewer than 30 blocks) and the block counts."""
    band = np.clip(np.searchsorted(_RADIAL_EDGES, rho, side="right") - 1, 0, RADIAL_BINS - 1)
    medians, counts = np.full(RADIAL_BINS, np.nan), np.bincount(band, minlength=RADIAL_BINS).astype(np.float64)
    for index in np.flatnonzero(counts >= 30):
        medians[index] = np.median(slopes[band == index])
    return medians, counts


def _fit_vignette(medians: np.ndarray, counts: np.ndarray, natural: np.ndarray) -> tuple[float, float, float]:
    """(amount ≥ 0, radius, error reduction) of the vignette curve fitting ``medians − natural``."""
    usable = ~np.isnan(medians) & ~np.isnan(natural)
    if usable.sum() < 4:
        return 0.0, Finish.vignette_radius, 0.0
    residual = (medians - natural)[usable]
    errors = ((residual - _slope_curves()[..., usable]) ** 2 * counts[usable]).sum(-1)  # (radii, amounts)
    best = np.unravel_index(np.argmin(errors), errors.shape)
    return float(_VIGNETTE_AMOUNTS[best[1]]), float(_VIGNETTE_RADII[best[0]]), float(errors[:, 0].min() - errors[best])


VIGNETTE_T = 2.0  # a vignette is kept when its reading is this many standard errors (over the references) from 0


def _read_vignette(textures: Sequence[ReferenceTexture], natural: dict[str, np.ndarray]) -> tuple[float, float, float]:
    """(amount −1..1, radius, fit) of the best fitting vignette, towards black or towards white."""
    best = (0.0, Finish.vignette_radius, 0.0)
    for sign, name in ((1.0, "black"), (-1.0, "white")):
        rho = np.concatenate([t.slopes[f"rho_{name}"] for t in textures])
        slopes = np.concatenate([t.slopes[name] for t in textures])
        amount, radius, fit = _fit_vignette(*radial_slope_curve(rho, slopes), natural[name])
        if amount > 0 and fit > best[2]:
            best = (sign * amount, radius, fit)
    return best


def estimate_vignette(textures: Sequence[ReferenceTexture], groups: int = 12) -> tuple[float, float, float]:
    """(vignette_amount −1..1, vignette_radius, standard error) of a feed.

    Scenes darken towards the corners too, by as much as a mild vignette, and differently in every photo: the
    reading is repeated leaving out each of ``groups`` groups of references (a jackknife), and a vignette is kept
    only when it stands VIGNETTE_T standard errors from none; otherwise the feed shows no more than its scenes do.
    """
    natural = load_natural_texture()
    amount, radius, _ = _read_vignette(textures, natural)
    if len(textures) < 3:
        return 0.0, Finish.vignette_radius, float("inf")
    parts = np.array_split(np.arange(len(textures)), min(groups, len(textures)))
    left_out = np.array([_read_vignette([t for i, t in enumerate(textures) if i not in part], natural)[0] for part in parts])
    count = len(parts)
    error = float(np.sqrt((count - 1) / count * ((left_out - left_out.mean()) ** 2).sum()))
    if abs(amount) < VIGNETTE_T * error:
        return 0.0, Finish.vignette_radius, error
    return amount, radius, error


# --- the grain --------------------------------------------------------------------------------------------------
_BAND_EDGES = (0.06, 0.12, 0.2, 0.3, 0.42, 0.72)  # cycles per pixel


@lru_cache(maxsize=1)
def _band_members() -> list[tuple[np.ndarray, np.ndarray]]:
    """Per band of frequency: the flat indices of an rfft2 of a tile in it, and their weights (summing to 1)."""
    fy, fx = np.fft.fftfreq(TILE)[:, None], np.fft.rfftfreq(TILE)[None, :]
    frequency = np.hypot(fy, fx).ravel()
    twice = np.ones((TILE, TILE // 2 + 1))
    twice[:, 1:-1] = 2.0  # rfft: inner columns stand for two
    twice = twice.ravel()
    members = []
    for low, high in zip(_BAND_EDGES[:-1], _BAND_EDGES[1:]):
        index = np.flatnonzero((frequency >= low) & (frequency < high))
        members.append((index, (twice[index] / twice[index].sum()).astype(np.float32)))
    return members


def _band_energies(tiles: np.ndarray) -> np.ndarray:
    """(n, 5) noise power of tiles (n, T, T) about their planes, per band of frequency (code values²)."""
    detrended = _detrend(tiles.astype(np.float32, copy=False))
    spectrum = np.fft.rfft2(detrended).reshape(len(tiles), -1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32) / (TILE * TILE)
    return np.stack([(power[:, index] * weights).sum(1) for index, weights in _band_members()], 1)


def through_jpeg(tiles: np.ndarray, qtable: tuple[int, ...], columns: int = 24) -> np.ndarray:
    """Tiles (n, T, T) of 8-bit luma through a greyscale JPEG with ``qtable``, as a mosaic (blocks stay aligned)."""
    count = len(tiles)
    rows = -(-count // columns)
    padded = np.full((rows * columns, TILE, TILE), 128, np.uint8)
    padded[:count] = tiles
    mosaic = padded.reshape(rows, columns, TILE, TILE).transpose(0, 2, 1, 3).reshape(rows * TILE, columns * TILE)
    buffer = io.BytesIO()
    Image.fromarray(mosaic, "L").save(buffer, "JPEG", qtables=[list(qtable)])
    decoded = np.asarray(Image.open(buffer), dtype=np.float32)
    return decoded.reshape(rows, TILE, columns, TILE).transpose(0, 2, 1, 3).reshape(-1, TILE, TILE)[:count]


class _GrainSimulator:
    """The feed's flat tiles, their smooth parts, and simulations of them under candidate grain."""

    def __init__(self, textures: Sequence[ReferenceTexture], vignette: tuple[float, float]):
        amount, radius = vignette
        self.groups = []  # per reference: slice of its tiles, its short side, its qtable
        tiles, smooth, keep, before = [], [], [], []
        for texture in textures:
            flat = texture.tiles - _detrend(texture.tiles)  # the tiles' smooth parts
            left = (1.0 - abs(amount) * radial_falloff(texture.tile_rho, radius)).astype(np.float32)[:, None, None]  # what the vignette leaves
            seen = flat / left if amount >= 0 else 255.0 - (255.0 - flat) / left  # the tone the grain was added at
            tone = _UNIT_TONE[np.clip(np.rint(seen.mean((1, 2))), 0, 255).astype(np.int64)]
            usable = tone > 0.4 * _UNIT_TONE.max()  # not near black or white, where grain fades
            start = sum(len(t) for t in tiles)
            self.groups.append((slice(start, start + int(usable.sum())), texture.short_side, texture.qtable))
            for out, values in ((tiles, texture.tiles), (smooth, flat), (keep, left), (before, seen)):
                out.append(values[usable])
        self.tiles, self.smooth, self.keep, before = (np.concatenate(v) for v in (tiles, smooth, keep, before))
        self.tone_index = np.clip(np.rint(before), 0, 255).astype(np.int64)
        self.weights = 1.0 / (_UNIT_TONE[np.clip(np.rint(before.mean((1, 2))), 0, 255).astype(np.int64)] * self.keep[:, 0, 0]) ** 2
        self.by_qtable: dict[tuple[int, ...], np.ndarray] = {}  # tile indices per quantisation table (one JPEG each)
        for part, _, qtable in self.groups:
            if qtable is not None:
                self.by_qtable[qtable] = np.concatenate([self.by_qtable.get(qtable, np.zeros(0, np.int64)), np.arange(part.start, part.stop)])
        self.real = self.statistic(self.tiles) if len(self.tiles) else np.zeros(len(_BAND_EDGES) - 1)

    def statistic(self, tiles: np.ndarray) -> np.ndarray:
        """(5,) the lower quartile over tiles of their noise energy per band, scaled to grain amount 1."""
        return np.percentile(_band_energies(tiles) * self.weights[:, None], GRAIN_QUANTILE, axis=0)

    def field(self, size: float) -> np.ndarray:
        """Unit grain of ``size`` for every tile (n, T, T), each reference's at its own scale, seeded."""
        fields = []
        for index, (part, short, _) in enumerate(self.groups):
            count = part.stop - part.start
            if count:  # tiles stacked in a column: cells of size·short pixels, as in the whole photo
                fields.append(grain_field(TILE * count, TILE, size * short / TILE, seed=index).reshape(count, TILE, TILE))
        return np.concatenate(fields)

    def simulate(self, field: np.ndarray, amount: float) -> np.ndarray:
        """(5,) the statistic of the tiles' smooth parts with grain ``amount`` of ``field``, vignetted and JPEG'd."""
        grain = field * grain_tone_table(amount, Finish.grain_luma)[self.tone_index] * self.keep
        tiles = np.clip(np.rint(self.smooth + grain), 0, 255).astype(np.uint8)
        out = tiles.astype(np.float32)
        for qtable, index in self.by_qtable.items():  # one JPEG per quantisation table in the feed
            out[index] = through_jpeg(tiles[index], qtable)
        return self.statistic(out)


def _match_amount(simulator: _GrainSimulator, field: np.ndarray, target: float, floor: float, amount: float = 1.0,
                  rounds: int = 3) -> tuple[float, np.ndarray]:
    """The amount whose simulated energy matches ``target`` (energy above the floor grows about as amount²),
    from ``amount``, and the statistic at it."""
    high = Finish.RANGES["grain_amount"][1]
    for _ in range(rounds):
        statistic = simulator.simulate(field, amount)
        amount = min(high, amount * math.sqrt(max(target - floor, 1e-6) / max(float(statistic.sum()) - floor, 1e-6)))
    return amount, simulator.simulate(field, amount)


def estimate_grain(textures: Sequence[ReferenceTexture], vignette: tuple[float, float] = (0.0, 0.6)) -> tuple[float, float, float]:
    """(grain_amount, grain_size, energy) of a feed; amount 0 when its flat tiles hold no more than smooth tiles."""
    textures = [t for t in textures if len(t.tiles)]
    if not textures:
        return 0.0, Finish.grain_size, 0.0
    simulator = _GrainSimulator(textures, vignette)
    if len(simulator.tiles) < 8:
        return 0.0, Finish.grain_size, 0.0
    target = float(simulator.real.sum())
    floor = float(simulator.simulate(np.zeros_like(simulator.tiles), 0.0).sum())  # smooth tiles through JPEG
    if target <= 1.05 * floor:
        return 0.0, Finish.grain_size, target
    log_real = np.log(simulator.real + 1e-2)
    errors, amount = [], 1.0
    for size in _GRAIN_SIZES:  # each size from the amount of the last (neighbouring sizes need similar amounts)
        amount, statistic = _match_amount(simulator, simulator.field(size), target, floor, amount)
        errors.append(float(((log_real - np.log(statistic + 1e-2)) ** 2).sum()))
    best = int(np.argmin(errors))
    log_size = math.log(_GRAIN_SIZES[best])
    if 0 < best < len(_GRAIN_SIZES) - 1:  # the minimum of a parabola through the best size and its neighbours
        left, middle, right = errors[best - 1 : best + 2]
        curvature = left - 2 * middle + right
        step = math.log(_GRAIN_SIZES[1] / _GRAIN_SIZES[0])
        if curvature > 0:
            log_size += step * float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
    low, high = Finish.RANGES["grain_size"]
    size = float(np.clip(math.exp(log_size), low, high))
    amount, _ = _match_amount(simulator, simulator.field(size), target, floor, amount, rounds=4)
    return float(amount), size, target


def estimate_finish(textures: Sequence[ReferenceTexture]) -> FinishReading:
    """The feed's vignette, then its grain under that vignette (``read_texture`` for each reference); no finish
    from references too small to show one (``MIN_TEXTURE_SIDE``), no grain below ``GRAIN_VISIBLE``."""
    jpeg = any(t.qtable for t in textures)
    if not textures or float(np.median([t.short_side for t in textures])) < MIN_TEXTURE_SIDE:
        return FinishReading(Finish(), 0.0, 0.0, 0, jpeg, too_small=True)
    amount, radius, error = estimate_vignette(textures)
    grain, size, energy = estimate_grain(textures, (amount, radius))
    finish = Finish(
        grain_amount=min(grain, Finish.RANGES["grain_amount"][1]) if grain >= GRAIN_VISIBLE else 0.0,
        grain_size=size,
        vignette_amount=amount,
        vignette_radius=radius,
    )
    return FinishReading(finish, error, energy, sum(len(t.tiles) for t in textures), jpeg, grain_read=float(grain))


def remove_vignette(image: Image.Image, amount: float, radius: float) -> Image.Image:
    """Undo a vignette on an RGB image (its colours as they were before it), e.g. on a reference before its colours
    are read; clipped to 0..255."""
    if not amount:
        return image

    width, height = image.size
    keep = 1.0 - abs(amount) * vignette_falloff(height, width, radius, np.arange(height), np.arange(width))[..., None]
    pixels = np.asarray(image, dtype=np.float32)
    restored = pixels / keep if amount > 0 else 255.0 - (255.0 - pixels) / keep
    return Image.fromarray(np.clip(np.rint(restored), 0, 255).astype(np.uint8), "RGB")


# --- what ordinary photos show --------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def load_natural_texture(path: str | None = None) -> dict[str, np.ndarray]:
    """The radial slope curves of ordinary photos ("black", "white": (RADIAL_BINS,)); zeros when not shipped."""
    file = Path(path) if path else weights_path(NATURAL_TEXTURE)
    if not file.exists():
        return {"black": np.zeros(RADIAL_BINS), "white": np.zeros(RADIAL_BINS)}
    tensors = load_file(str(file))
    if any(tensors.get(k) is None or tensors[k].shape != (RADIAL_BINS,) for k in ("black", "white")):
        raise ValueError(f"{file}: not a natural texture file for {RADIAL_BINS} radial bands")
    return {k: tensors[k].astype(np.float64) for k in ("black", "white")}


def build_natural_texture(paths: Sequence[Path], side: int = 1080, quality: int = 80) -> dict[str, np.ndarray]:
    """The radial slope curves of ordinary photos, each read as a feed would show it (``side`` px, JPEG ``quality``)."""
    samples = {"black": ([], []), "white": ([], [])}
    for path in paths:
        try:
            image = load_image(path)
        except ImageError:
            continue
        scale = side / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        slopes = _radial_slopes(_luma(np.asarray(Image.open(buffer).convert("RGB"))))
        for name in samples:
            samples[name][0].append(slopes[f"rho_{name}"])
            samples[name][1].append(slopes[name])
    if not samples["black"][0]:
        raise ValueError("no readable photos to measure")
    return {name: radial_slope_curve(np.concatenate(rho), np.concatenate(slope))[0] for name, (rho, slope) in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure what ordinary photos show of a vignette (weights/natural_texture.safetensors)")
    parser.add_argument("photos", nargs="+", help="folders or files of ordinary photos")
    parser.add_argument("--out", default=str(WEIGHTS_DIR / NATURAL_TEXTURE))
    args = parser.parse_args()
    curves = build_natural_texture(sorted(find_images([Path(p) for p in args.photos])))
    save_file({k: v.astype(np.float32) for k, v in curves.items()}, args.out, metadata={"radial_bins": str(RADIAL_BINS)})
    print(f"wrote {args.out}: " + "; ".join(f"{k} {np.round(v, 3).tolist()}" for k, v in curves.items()))


if __name__ == "__main__":
    main()
