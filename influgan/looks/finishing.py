"""Finishing applied after the colour LUT: film grain and a vignette, in numpy and Pillow (no torch).

Grain is luminance only: one noise field, shaped by a film-like response over tone, is added equally to the
gamma-encoded R'G'B' of a pixel (so its Y'CbCr chroma is untouched). Its amount is the RMS of L* it adds to a
mid-grey (L* 50), seen at the grain's own scale; its size is a fraction of the image's shorter side. Each pixel
gets the grain averaged over its own area, so a 1024 px preview shows what the full-size render shows when
downscaled. The same seed gives the same grain. Photos are processed in strips, a few at a time in threads
(numpy and most of Pillow release the GIL); every finish at amount 0 is exactly the identity.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops

from .lut import map_strips

FINISH_VERSION = 2  # 1: grain_amount was a standard deviation in 0..1 code units (0..0.2); 2: RMS of L* at mid-grey
GRAIN_SLIDER_MAX = 8.0  # grain_amount at the app's 100 %: strong but plausible film (Tri-X pushed two stops)
_CELL_LEVELS = 32.0  # 8-bit levels per standard deviation of the grain cells
_VIGNETTE_STEP = 8  # pixels per sample of the vignette gain map (upsampled bilinearly; the gain is smooth)


def grain_from_slider(percent: float) -> float:
    """The grain amount (RMS of L*) at a grain slider's ``percent`` (0..100 → 0..GRAIN_SLIDER_MAX).

    A perceptual scale, not a linear one: the eye judges noise by ratio (a step from 1 to 2 L* shows as much as
    one from 4 to 8), so on a linear slider the visible change is all in its first third and 50 % is already
    heavy. The amount goes as the square of the slider: 25 % is faint grain (0.5 L*), 50 % moderate film (2),
    71 % strong (4), 100 % Tri-X pushed (8); continuous at 0, unlike a logarithm.
    """
    return GRAIN_SLIDER_MAX * (min(max(float(percent), 0.0), 100.0) / 100.0) ** 2


def slider_from_grain(amount: float) -> float:
    """The grain slider's percent for a grain ``amount`` (the inverse of ``grain_from_slider``; at most 100)."""
    return min(100.0, 100.0 * math.sqrt(max(float(amount), 0.0) / GRAIN_SLIDER_MAX))


@dataclass
class Finish:
    """Finishing parameters of a look; every field at its default leaves the image unchanged."""

    grain_amount: float = 0.0  # RMS of L* the grain adds to a mid-grey (L* 50) at the grain's own scale (0..12)
    grain_size: float = 0.0015  # grain feature size as a fraction of the image's shorter side (0.0005..0.01)
    grain_luma: float = 0.5  # 0: the same grain at every tone; 1: film's response (most in shadows and midtones)
    vignette_amount: float = 0.0  # how far the corners go towards black (0..1; -1..0: towards white)
    vignette_radius: float = 0.6  # distance from the centre, as a fraction of the half-diagonal, where falloff starts

    RANGES = {
        "grain_amount": (0.0, 1.5 * GRAIN_SLIDER_MAX),
        "grain_size": (0.0005, 0.01),
        "grain_luma": (0.0, 1.0),
        "vignette_amount": (-1.0, 1.0),
        "vignette_radius": (0.0, 1.0),
    }
    VERSION_1_GRAIN_RANGE = (0.0, 0.2)

    def __post_init__(self) -> None:
        for name, (low, high) in self.RANGES.items():
            value = float(getattr(self, name))
            if not low <= value <= high:  # NaN fails too
                raise ValueError(f"{name} must be within {low:g}..{high:g}, got {value}")
            setattr(self, name, value)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Finish":
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in values.items() if k in known})

    @classmethod
    def from_version(cls, values: dict, version: int) -> "Finish":
        """A finish stored by a look file of finish ``version`` (1 or 2), converted to the current units."""
        values = {k: float(v) for k, v in values.items()}
        if version < 2 and "grain_amount" in values:
            low, high = cls.VERSION_1_GRAIN_RANGE
            old = values["grain_amount"]
            if not low <= old <= high:
                raise ValueError(f"grain_amount must be within {low:g}..{high:g} in a version 1 look, got {old}")
            # version 1 added a standard deviation ``old`` (0..1 code units) to a mid-grey: in L* that is old·dL*/dv
            values["grain_amount"] = min(old * _MID_GREY_SLOPE, cls.RANGES["grain_amount"][1])
        return cls.from_dict(values)

    def scaled(self, strength: float) -> "Finish":
        """The same finish with its amounts times ``strength`` (clamped to their ranges)."""
        low_g, high_g = self.RANGES["grain_amount"]
        low_v, high_v = self.RANGES["vignette_amount"]
        return Finish(
            grain_amount=min(max(self.grain_amount * strength, low_g), high_g),
            grain_size=self.grain_size,
            grain_luma=self.grain_luma,
            vignette_amount=min(max(self.vignette_amount * strength, low_v), high_v),
            vignette_radius=self.vignette_radius,
        )


# --- tone: how much grain each luma level gets --------------------------------------------------------------
def lstar_of_code(values: np.ndarray) -> np.ndarray:
    """CIE L* of a grey whose sRGB-encoded value is ``values`` (0..1)."""
    values = np.asarray(values, dtype=np.float64)
    linear = np.where(values <= 0.04045, values / 12.92, ((np.maximum(values, 0.04045) + 0.055) / 1.055) ** 2.4)
    return np.where(linear > 216 / 24389, 116.0 * np.cbrt(linear) - 16.0, linear * 24389 / 27)


def _lstar_slope(values: np.ndarray) -> np.ndarray:
    """dL*/dv of a grey at encoded value v (0..1): L* units per unit of v."""
    step = 1e-4
    return (lstar_of_code(np.asarray(values) + step) - lstar_of_code(np.asarray(values) - step)) / (2 * step)


_MID_GREY_CODE = 0.46633  # sRGB-encoded value of L* 50
_MID_GREY_SLOPE = float(_lstar_slope(_MID_GREY_CODE))  # ≈ 101 L* per unit of encoded value


def _film_response(lstar: np.ndarray) -> np.ndarray:
    """Relative grain RMS of film over print lightness: none in black and white, most near L* 40."""
    u = np.clip(lstar / 100.0, 0.0, 1.0) ** (math.log(0.5) / math.log(0.4))  # u = 1/2 at L* 40
    return 4.0 * u * (1.0 - u)


def _even_response(lstar: np.ndarray) -> np.ndarray:
    """The same grain at every tone, fading out in the last 6 L* before clipped black and white."""
    t = np.clip(np.minimum(lstar, 100.0 - lstar) / 6.0, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@lru_cache(maxsize=1)
def grain_tone_tables() -> tuple[np.ndarray, np.ndarray]:
    """(even, film): for each 8-bit luma level (256,), the grain in 8-bit code values per L* of ``grain_amount``.

    Both give exactly ``grain_amount`` RMS of L* on a mid-grey; a finish mixes them by ``grain_luma``.
    """
    codes = np.arange(256) / 255.0
    lstar, per_lstar = lstar_of_code(codes), 255.0 / _lstar_slope(codes)  # code values per L* at each level
    tables = []
    for response in (_even_response, _film_response):
        tables.append((response(lstar) / response(np.array(50.0)) * per_lstar).astype(np.float32))
    return tables[0], tables[1]


def grain_tone_table(amount: float, grain_luma: float) -> np.ndarray:
    """(256,) float32: the grain RMS in 8-bit code values at each luma level for a unit-variance field."""
    even, film = grain_tone_tables()
    return (amount * ((1.0 - grain_luma) * even + grain_luma * film)).astype(np.float32)


# --- the grain field ----------------------------------------------------------------------------------------
def _bicubic(x: np.ndarray) -> np.ndarray:
    """Pillow's bicubic kernel (a = -0.5)."""
    x = np.abs(x)
    return np.where(x < 1, (1.5 * x - 2.5) * x * x + 1, np.where(x < 2, (((x - 5) * x + 8) * x - 4) * -0.5, 0.0))


def _resampling_gain(size_in: int, size_out: int) -> np.ndarray:
    """(size_out,) 1/‖weights‖ of Pillow's bicubic resampling ``size_in`` → ``size_out`` (its own coefficients).

    Resampled white noise is weaker between samples than on them; times this gain it has unit variance
    everywhere (no grid pattern in the grain).
    """
    scale = size_in / size_out
    stretch = max(scale, 1.0)  # Pillow widens the kernel when reducing
    support = 2.0 * stretch
    centre = (np.arange(size_out) + 0.5) * scale
    first = np.maximum((centre - support + 0.5).astype(np.int64), 0)  # C's (int) truncates toward zero, as here
    end = np.minimum((centre + support + 0.5).astype(np.int64), size_in)
    taps = first[:, None] + np.arange(int(math.ceil(support)) * 2 + 1)[None, :]  # (size_out, taps)
    weights = np.where(taps < end[:, None], _bicubic((taps - centre[:, None] + 0.5) / stretch), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    return (1.0 / np.sqrt((weights**2).sum(axis=1))).astype(np.float32)


@lru_cache(maxsize=256)
def _pixel_average_variance(box: float) -> float:
    """Variance of the unit field averaged along one axis over ``box`` grain cells, relative to a point sample.

    The field is unit-variance white noise on a grid of cells, interpolated bicubically with ``_resampling_gain``;
    the average is over boxes at every phase. Beyond 8 cells it falls as 1/box.
    """
    span = min(box, 8.0)
    phases, per_box = 32, 128
    x = np.arange(phases)[:, None] / phases + (np.arange(per_box)[None, :] + 0.5) / per_box * span  # (P, M)
    base = np.floor(x).astype(np.int64)
    taps = base[..., None] + np.arange(-1, 3)  # cell centres at k + 0.5: the four cells around x
    weights = _bicubic(taps + 0.5 - x[..., None])
    weights /= np.sqrt((weights**2).sum(-1, keepdims=True))
    cells = np.arange(taps.min(), taps.max() + 1)
    coefficient = np.zeros((phases, cells.size))  # each cell's mean weight over the box, per phase
    for tap in range(4):
        np.add.at(coefficient, (np.arange(phases)[:, None], taps[..., tap] - cells[0]), weights[..., tap] / per_box)
    variance = float((coefficient**2).sum(1).mean())
    return variance * span / box


def _grain_grid(height: int, width: int, size: float) -> tuple[int, int, float]:
    """(rows, columns) of grain cells for an image, and the std of a pixel's grain relative to a point sample.

    Cells of at least half a pixel are resampled to the image (bicubic; Pillow averages them when reducing);
    finer ones are represented by one white noise sample per pixel, carrying their average.
    """
    cell = size * min(height, width)  # pixels per grain cell
    if cell < 0.5:
        return height, width, _pixel_average_variance(1.0 / cell)
    return max(1, round(height / cell)), max(1, round(width / cell)), _pixel_average_variance(1.0 / cell)


_NOISE_BAND_SAMPLES = 1 << 20  # float32 noise drawn at a time (4 MB)


def grain_cells(height: int, width: int, size: float, seed: int = 0) -> Image.Image:
    """The grain's seeded white noise, one sample per cell (per pixel when cells are much smaller), as an 8-bit image.

    A sample is 128 + ``_CELL_LEVELS`` · N(0, 1), rounded and clipped (at ±4 std): fine enough for noise, and Pillow
    upsamples 8-bit images fast.
    Drawn a band of rows at a time (the same samples as one draw): a 100 MP photo with grain finer than its pixels
    holds 100 MB of cells, never 400 MB of float noise beside them.
    """
    rows, columns, _ = _grain_grid(height, width, size)
    generator = np.random.default_rng(seed)
    cells = np.empty((rows, columns), np.uint8)
    band = max(1, _NOISE_BAND_SAMPLES // columns)
    for first in range(0, rows, band):
        noise = generator.standard_normal((min(band, rows - first), columns), dtype=np.float32)
        noise *= _CELL_LEVELS
        noise += 128.5
        cells[first : first + noise.shape[0]] = np.clip(noise, 0.0, 255.0, out=noise)  # truncated, as astype does
    return Image.fromarray(cells, "L")


def _grain_levels(height: int, width: int, cells: Image.Image, first: int, end: int) -> np.ndarray:
    """Rows first..end of the grain cells resampled to the image (bicubic): uint8 (rows, W) around 128."""
    if cells.size == (width, height):
        return np.asarray(cells.crop((0, first, width, end)))
    scale = cells.height / height
    box = (0.0, first * scale, float(cells.width), end * scale)
    return np.asarray(cells.resize((width, end - first), Image.Resampling.BICUBIC, box=box))


def _grain_gains(height: int, width: int, size: float, cells: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (W,) and per-row (H,) gains that turn resampled cell levels into the unit grain field."""
    _, _, std = _grain_grid(height, width, size)
    if cells.size == (width, height):
        columns, rows = np.ones(width, np.float32), np.ones(height, np.float32)
    else:
        columns, rows = _resampling_gain(cells.width, width), _resampling_gain(cells.height, height)
    return columns * np.float32(std / _CELL_LEVELS), rows


_CENTRED_LEVELS = np.arange(256, dtype=np.float32) - 128.0


def grain_field(
    height: int, width: int, size: float, seed: int = 0, rows: tuple[int, int] | None = None, cells: Image.Image | None = None
) -> np.ndarray:
    """The grain of an (H, W) image as each pixel sees it: float32 (rows, W), unit variance at the grain's scale.

    rows: (first, end) to make only those rows (strip-wise processing gives the same field as the whole).
    cells: ``grain_cells(height, width, size, seed)``, if already made.
    """
    first, end = rows or (0, height)
    cells = cells if cells is not None else grain_cells(height, width, size, seed)
    column_gain, row_gain = _grain_gains(height, width, size, cells)
    field = _CENTRED_LEVELS[_grain_levels(height, width, cells, first, end)]
    field *= column_gain
    field *= row_gain[first:end, None]
    return field


# --- the vignette -------------------------------------------------------------------------------------------
def vignette_falloff(height: int, width: int, radius: float, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The vignette's falloff at pixel rows ``ys`` (N,) × columns ``xs`` (M,) of an (H, W) image: (N, M) in 0..1.

    0 inside ``radius`` (a fraction of the half-diagonal, clamped to 0..0.95), rising smoothly (smoothstep) to 1 in
    the corners. Positions are pixel indices, fractional ones allowed (pixel centres are at index + 0.5). A vignette
    of amount a mixes each pixel towards black (a > 0) or white (a < 0) by |a| · falloff.
    """
    half_diagonal = 0.5 * math.hypot(height, width)
    dy = (np.asarray(ys, dtype=np.float64) + 0.5 - height / 2)[:, None]
    dx = (np.asarray(xs, dtype=np.float64) + 0.5 - width / 2)[None, :]
    return radial_falloff(np.sqrt(dx * dx + dy * dy) / half_diagonal, radius)


def radial_falloff(rho: np.ndarray, radius: float) -> np.ndarray:
    """The vignette's falloff at ``rho`` (distance from the centre over the half-diagonal, any shape): 0 inside
    ``radius`` (clamped to 0..0.95), rising smoothly (smoothstep) to 1 at ρ = 1."""
    radius = min(max(float(radius), 0.0), 0.95)
    t = np.clip((rho - radius) / (1.0 - radius), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _vignette_map(height: int, width: int, amount: float, radius: float) -> Image.Image:
    """The vignette as an 8-bit mask, |amount| · falloff × 255, one sample per ``_VIGNETTE_STEP`` pixels or fewer
    from the first pixel to the last (see ``_map_box``). Pasting black (amount > 0) or white through it gives the vignette.
    """
    falloff_width = (1.0 - min(max(float(radius), 0.0), 0.95)) * 0.5 * math.hypot(height, width)  # in pixels
    step = int(min(max(falloff_width / 16, 1), _VIGNETTE_STEP))  # at least 16 samples across the falloff
    ys = np.linspace(0, height - 1, math.ceil((height - 1) / step) + 1)
    xs = np.linspace(0, width - 1, math.ceil((width - 1) / step) + 1)
    mix = abs(amount) * vignette_falloff(height, width, radius, ys, xs)
    return Image.fromarray((np.clip(mix, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "L")


def _map_box(start: int, stop: int, size: int, samples: int) -> tuple[float, float]:
    """The source interval Pillow's resize needs so that pixels start..stop of ``size`` land on a map of ``samples``
    samples whose first and last sit on the first and last pixel."""
    spacing = (samples - 1) / (size - 1) if size > 1 else 1.0  # map samples per pixel
    origin = 0.5 - 0.5 * spacing  # pixel y's centre maps to origin + (y + 0.5)·spacing = 0.5 + y·spacing
    return origin + start * spacing, origin + stop * spacing


def _vignette_columns(height: int, width: int, radius: float, first: int, end: int) -> list[tuple[int, int]]:
    """Column ranges of rows first..end that the vignette touches: all but a band wholly inside its radius."""
    inner = min(max(float(radius), 0.0), 0.95) * 0.5 * math.hypot(height, width)  # in pixels
    dy = max(abs(first - height / 2), abs(end - height / 2))
    if dy >= inner:
        return [(0, width)]
    half = math.sqrt(inner * inner - dy * dy) - 2 * _VIGNETTE_STEP  # margin: the reach of the small map's samples
    left, right = max(0, math.ceil(width / 2 - half)), min(width, math.floor(width / 2 + half))
    return [(0, width)] if left >= right else [(0, left), (right, width)]


# --- applying -----------------------------------------------------------------------------------------------
class Finisher:
    """A finish made ready for one image size and seed; ``strip`` finishes any band of rows on its own.

    Whole images, strips of them in threads, and the colour LUT and finish fused strip by strip (``Look.apply``)
    all give the same result: the grain's noise and the vignette's map belong to the whole image.
    """

    def __init__(self, size: tuple[int, int], finish: Finish, seed: int = 0):
        self.width, self.height = size
        self.finish = finish
        self.active = bool(finish.grain_amount or finish.vignette_amount)
        if finish.grain_amount:
            self.cells = grain_cells(self.height, self.width, finish.grain_size, seed)
            column_gain, self.row_gain = _grain_gains(self.height, self.width, finish.grain_size, self.cells)
            tone = grain_tone_table(finish.grain_amount, finish.grain_luma)
            # the tone table as 8-bit levels of its peak (Pillow maps luma through it in one pass); the peak goes
            # into the column gain, so a pixel's grain is (level − 128) · column gain · row gain · tone level
            peak = max(float(tone.max()), 1e-12)
            self.tone_levels = np.round(tone / peak * 255.0).astype(np.uint8).tolist()
            self.column_gain = (column_gain * np.float32(peak / 255.0)).astype(np.float32)
            # the largest grain a pixel can get, in code values: within ±127 the sum needs no clipping
            self.clip = 128.0 * float(self.column_gain.max()) * float(self.row_gain.max()) * max(self.tone_levels) > 127.0
        if finish.vignette_amount:
            self.vignette = _vignette_map(self.height, self.width, finish.vignette_amount, finish.vignette_radius)
            self.colour = (0, 0, 0) if finish.vignette_amount > 0 else (255, 255, 255)

    def strip(self, strip: Image.Image, first: int) -> Image.Image:
        """Rows first..first + strip.height of the image (an RGB strip as wide as it), finished: grain, then the
        vignette over it. Returns a new strip, or ``strip`` itself when the finish does nothing."""
        if not self.active:
            return strip
        end = first + strip.height
        if self.finish.grain_amount:
            levels = _grain_levels(self.height, self.width, self.cells, first, end)  # (rows, W) uint8 around 128
            delta = np.subtract(levels, np.float32(128.0), dtype=np.float32)
            delta *= self.column_gain
            delta *= self.row_gain[first:end, None]
            delta *= np.asarray(strip.convert("L").point(self.tone_levels))  # by the tone of each pixel (Rec. 601 luma)
            delta += 128.5
            if self.clip:
                np.clip(delta, 0.0, 255.0, out=delta)
            grain = Image.fromarray(delta.astype(np.uint8), "L")  # 128 + grain in code values, rounded
            strip = ImageChops.add(strip, grain.convert("RGB"), 1.0, -128)  # the same Δ in R', G', B'
        elif self.finish.vignette_amount:
            strip = strip.copy()  # the caller's strip is never changed
        if self.finish.vignette_amount:
            top, bottom = _map_box(first, end, self.height, self.vignette.height)
            for left, right in _vignette_columns(self.height, self.width, self.finish.vignette_radius, first, end):
                if right <= left:
                    continue
                x_start, x_stop = _map_box(left, right, self.width, self.vignette.width)
                mask = self.vignette.resize((right - left, end - first), Image.Resampling.BILINEAR, box=(x_start, top, x_stop, bottom))
                strip.paste(self.colour, (left, 0, right, end - first), mask)
        return strip


def finish_image(image: Image.Image, finish: Finish, seed: int = 0, strip_rows: int = 0, threads: int = 0) -> Image.Image:
    """Apply a finish to an 8-bit RGB image of any size: grain, then the vignette over it (as a print's corners are
    burnt in). Returns ``image`` itself when both amounts are 0, a new image otherwise; same seed, same grain.

    Made in strips of ``strip_rows`` rows (0: about a megapixel each), ``threads`` at a time (0: one per CPU, at most
    4); the result depends on neither.
    """
    if image.mode != "RGB":
        raise ValueError(f"finish_image needs an RGB image, got mode {image.mode}")
    finisher = Finisher(image.size, finish, seed)
    if not finisher.active:
        return image
    return map_strips(image, finisher.strip, Image.new("RGB", image.size), strip_rows, threads)
