"""Painterly brushwork: oil, watercolour, ink/pencil, cartoon and halftone renderers (NumPy + Pillow, never torch).

A ``Brushwork`` is a look's optional painterly stage: a style, a handful of named parameters with physical meaning
and whether it runs before or after the colour LUT. ``render_brushwork`` renders it on an 8-bit photo.

Every renderer is written once, against a small set of array operations (``ops``: blur, correlation with a
kernel, gradients, elementwise maths), and runs on NumPy here and on torch in ``learning/painterly_torch.py``
(differentiable, for fitting the parameters), so the two match by construction.

Sizes are fractions of the photo's shorter side, so a 1024 px preview looks like the full-size render scaled
down. A renderer has two parts:
- ``core``: the structure (edge-preserving smoothing, stroke flow, tone, ink amounts), computed on the whole photo
  at a working size of at most ``WORK_SIDE`` px on the shorter side (its features are strokes and washes, several
  working pixels wide);
- ``detail`` (optional): what must be crisp at full size (ink lines, halftone dots, hatching), computed at the
  photo's own size in strips of rows with an overlap wider than its filters, so strips join without seams.
Noise (paper, granulation, bristles, hatching) is anchored to the photo's position: a field of seeded cells at a
size relative to the shorter side, resampled to each strip. The same photo and seed give the same render; a static
video scene gives identical frames.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
import scipy.fft
import scipy.ndimage
from PIL import Image

from .lut import for_each_strip

WORK_SIDE = 1080  # the core of a render works at most at this many pixels on the shorter side
STRIP_PIXELS = 500_000  # pixels per strip of the full-size detail pass
MAX_AMOUNT = 1.5
ORDERS = ("before", "after")
STROKE_ANGLES = 6  # orientations of the stroke filters, blended per pixel (steered)
MIN_LINE_PX = 1.0  # a line's Gaussian scale is at least a pixel: thinner, sensor noise would draw flickering lines
_TRUNCATE = 3.0  # Gaussian kernels reach 3 σ (scipy's truncate; the torch twin builds the same kernels)
_LUMA = (0.299, 0.587, 0.114)


# --- styles and their parameters ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A renderer's parameter: its default, its valid range and what it means."""

    default: float
    low: float
    high: float
    doc: str


@dataclass(frozen=True)
class Style:
    """A renderer: its parameters, its core (working size) and its optional full-size detail pass."""

    name: str
    doc: str
    params: dict[str, Param]
    core: Callable  # core(ops, rgb (…, 3, H, W) 0..1, params, ctx) → channels (…, C, H, W) 0..1
    detail: Callable | None = None  # detail(ops, core channels, rgb, params, ctx) → (…, 3, H, W) 0..1
    reach: Callable[[dict, float], float] = lambda params, short: 0.0  # detail's filter reach in pixels, given the shorter side

    def defaults(self) -> dict[str, float]:
        return {name: p.default for name, p in self.params.items()}


@dataclass
class Context:
    """Where a renderer is working: the photo's full size, the region's size and its place in the photo.

    ``short`` is the shorter side of the image being processed (pixels), ``top`` the region's first row in it.
    noise(key, cell, …) gives position-anchored noise for the region (see ``noise_field``).
    """

    full_size: tuple[int, int]  # (H, W) of the photo at full size
    size: tuple[int, int]  # (H, W) of the image being processed (the working size or the full size)
    top: int = 0  # first row of the region within ``size``
    rows: int = 0  # rows of the region (0: all)
    seed: int = 0
    wrap: Callable = staticmethod(lambda array: array)  # numpy array → the backend's array

    @property
    def short(self) -> float:
        return float(min(self.size))

    def noise(self, key: str, cell: float, aspect: float = 1.0, angle: float = 0.0, channels: int = 1):
        cell = float(cell.detach()) if hasattr(cell, "detach") else float(cell)  # the noise is a constant to a twin
        rows = self.rows or self.size[0]
        field = noise_field(self.full_size, self.size, self.top, rows, key, cell, aspect, angle, self.seed, channels)
        return self.wrap(field)


_NOISE_LEVELS = 32.0  # 8-bit levels per standard deviation of a noise cell (Pillow resamples 8-bit images fast)


def noise_field(full_size, size, top, rows, key, cell, aspect=1.0, angle=0.0, seed=0, channels=1) -> np.ndarray:
    """Seeded noise anchored to the photo: float32 (channels, rows, W) for rows top..top+rows of an image of ``size``.

    Unit-variance white noise on cells of ``cell`` × the shorter side (``aspect`` times longer along ``angle``
    degrees, counter-clockwise from the x axis), resampled bicubically. The cells depend on the photo's full size,
    key and seed only, so every strip, the working size and the full size see the same field.
    """
    full_h, full_w = full_size
    height, width = size
    cells, (along, across, u0, v0) = _noise_cells(full_h, full_w, key, float(cell), float(aspect), float(angle), seed, channels)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    # Pillow's affine transform samples the cells at (u, v) = A · (x + 0.5, y + 0.5) + b for output pixel (x, y);
    # cell i's centre is at i + 0.5. Full-size position X = (x + 0.5)·sx, Y = (y + top + 0.5)·sy, and the cell
    # coordinates u = (X c + Y s)/along − u0, v = (−X s + Y c)/across − v0.
    sx, sy = full_w / width, full_h / height
    # cells at least 3 pixels across are sampled on a grid of every 2nd pixel and row (anchored to even rows of
    # the image, so strips agree) and upsampled: a rotated bicubic transform costs 4× a separable resize
    step = 2 if across / max(sx, sy) >= 3.0 else 1
    first = top - top % step  # the strip's rows on the coarse grid: first..first + step·n
    n_rows, n_cols = -(-(top + rows - first) // step), -(-width // step)
    a = (c * sx / along * step, s * sy / along * step)
    b = (-s * sx / across * step, c * sy / across * step)
    # a coarse pixel (x', y') stands for image pixel centre (step·(x' + 0.5), first + step·(y' + 0.5))
    coeffs = (a[0], a[1], a[1] * first / step - u0, b[0], b[1], b[1] * first / step - v0)
    out = np.empty((channels, rows, width), np.float32)
    for i, image in enumerate(cells):
        coarse = image.transform((n_cols, n_rows), Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC)
        if step > 1:  # image pixel (x, y) centre ↔ coarse coordinate ((x + 0.5)/step, (y − first + 0.5)/step)
            box = (0.0, (top - first) / step, width / step, (top - first + rows) / step)
            coarse = coarse.resize((width, rows), Image.Resampling.BILINEAR, box=box)
        np.subtract(np.asarray(coarse), np.float32(128.0), out=out[i], dtype=np.float32)
    out *= np.float32(1.0 / _NOISE_LEVELS)
    return out


@lru_cache(maxsize=16)
def _noise_cells(full_h: int, full_w: int, key: str, cell: float, aspect: float, angle: float, seed: int, channels: int):
    """The seeded cells of a noise field as 8-bit images (128 + 32·N(0, 1)), and the frame they live in."""
    cell_px = max(cell * min(full_h, full_w), 0.5)  # cell size in full-size pixels (at least half a pixel)
    along, across = cell_px * aspect, cell_px
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    corners = np.array([[0, 0], [full_w, 0], [0, full_h], [full_w, full_h]], dtype=np.float64)
    u = (corners[:, 0] * c + corners[:, 1] * s) / along
    v = (-corners[:, 0] * s + corners[:, 1] * c) / across
    u0, v0 = math.floor(u.min()) - 2, math.floor(v.min()) - 2
    nu, nv = math.ceil(u.max()) + 3 - u0, math.ceil(v.max()) + 3 - v0
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    noise = rng.standard_normal((channels, nv, nu), dtype=np.float32) * _NOISE_LEVELS + 128.5
    images = tuple(Image.fromarray(np.clip(n, 0.0, 255.0).astype(np.uint8), "L") for n in noise)
    return images, (along, across, u0, v0)


# --- the NumPy operations the renderers are written against ----------------------------------------------
def gaussian_kernel1d(sigma: float) -> tuple[int, np.ndarray]:
    """(radius, weights) of scipy's Gaussian at ``_TRUNCATE``: weights (2r+1,) summing to 1."""
    radius = int(_TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * x * x / (float(sigma) ** 2))
    return radius, (weights / weights.sum()).astype(np.float32)


class NumpyOps:
    """Array operations on NumPy float32 arrays laid out (…, C, H, W); edges repeat the border pixel."""

    lib = np

    def blur(self, x: np.ndarray, sigma) -> np.ndarray:
        """Gaussian blur of the last two axes, ``sigma`` in pixels (< 0.2: unchanged)."""
        sigma = float(sigma)
        if sigma < 0.2:
            return x
        return scipy.ndimage.gaussian_filter(x, [0] * (x.ndim - 2) + [sigma, sigma], mode="nearest", truncate=_TRUNCATE)

    def correlator(self, x: np.ndarray, radius: int) -> Callable[[np.ndarray], np.ndarray]:
        """A function kernel (2r+1, 2r+1) → the correlation of x (C, H, W) with it, borders repeated (torch's conv2d).

        The padded image is transformed once (FFT); each kernel then costs one inverse transform of C channels.
        """
        channels, height, width = x.shape
        padded = np.pad(x, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
        shape = (scipy.fft.next_fast_len(padded.shape[1], True), scipy.fft.next_fast_len(padded.shape[2], True))
        spectrum = scipy.fft.rfft2(padded, s=shape, workers=-1)

        def correlate(kernel: np.ndarray) -> np.ndarray:
            size = kernel.shape[0]
            flipped = np.zeros(shape, np.float32)
            flipped[:size, :size] = kernel[::-1, ::-1]  # correlation = convolution with the flipped kernel
            out = scipy.fft.irfft2(spectrum * scipy.fft.rfft2(flipped), s=shape, workers=-1)
            # the full convolution's sample [i + 2r] is the padded image's window centred on pixel i
            return out[:, 2 * radius : 2 * radius + height, 2 * radius : 2 * radius + width].astype(np.float32)

        return correlate

    def grid(self, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """(ys, xs): pixel offsets of a (2r+1, 2r+1) kernel."""
        r = np.arange(-radius, radius + 1, dtype=np.float32)
        return np.meshgrid(r, r, indexing="ij")

    def gradient(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Central differences (gy, gx) of the last two axes, borders repeated."""
        padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
        gy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
        gx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
        return gy, gx

    def stack(self, arrays, axis: int = -3):
        return np.stack(arrays, axis=axis)

    def clip(self, x, low, high):
        return np.clip(x, low, high)

    def maximum(self, x, y):
        return np.maximum(x, y)

    def minimum(self, x, y):
        return np.minimum(x, y)

    def where(self, condition, x, y):
        return np.where(condition, x, y)

    def atan2(self, y, x):
        return np.arctan2(y, x)

    def power(self, x, exponent):
        """x ** exponent; a whole exponent by repeated squaring (NumPy's float power is ~20× slower)."""
        exponent = float(exponent)
        if not (exponent.is_integer() and 1 <= exponent <= 64):
            return np.power(x, np.float32(exponent))
        result, base, n = None, x, int(exponent)
        while n:
            if n & 1:
                result = base if result is None else result * base
            n >>= 1
            if n:
                base = base * base
        return result

    def to_float(self, value) -> float:
        return float(value)

    def scalar(self, value):
        """A scalar that keeps float32 arrays float32 (a NumPy float64 scalar would promote them)."""
        return np.float32(value)


# --- shared building blocks (written once for NumPy and torch) ----------------------------------------------
def luma(rgb):
    """Rec. 601 luma (…, H, W) of (…, 3, H, W)."""
    return _LUMA[0] * rgb[..., 0, :, :] + _LUMA[1] * rgb[..., 1, :, :] + _LUMA[2] * rgb[..., 2, :, :]


def smoothstep(ops, x):
    t = ops.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def sector_kernels(ops, radius_px, count: int = 8):
    """The generalised Kuwahara's ``count`` sector kernels (Papari et al.): Gaussian in distance, smooth lobes in
    angle; each sums to 1. Returns a list of (2r+1, 2r+1) arrays."""
    r = max(1, int(math.ceil(ops.to_float(radius_px))))
    ys, xs = ops.grid(r)
    sigma = radius_px * 0.5
    radial = ops.lib.exp(-(xs * xs + ys * ys) / (2.0 * sigma * sigma)) * (xs * xs + ys * ys <= (r + 0.5) ** 2)
    angle = ops.atan2(ys, xs)
    centre = (xs == 0) & (ys == 0)
    kernels = []
    for i in range(count):
        lobe = ((1.0 + ops.lib.cos(angle - 2.0 * math.pi * i / count)) * 0.5) ** 8
        lobe = ops.where(centre, 1.0 / count + 0.0 * lobe, lobe)
        weights = radial * lobe
        kernels.append(weights / weights.sum())
    return r, kernels


def kuwahara(ops, rgb, radius_px, sharpness):
    """Generalised Kuwahara filter: each pixel takes the mean colour of its least varied of 8 sectors (weighted
    softly by ``sharpness``, the exponent q); flat areas with crisp edges, like paint. rgb (…, 3, H, W)."""
    r, kernels = sector_kernels(ops, radius_px)
    lum = luma(rgb)
    stack = ops.stack([rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :], lum * lum])
    correlate = ops.correlator(stack, r)
    total, weight_sum = 0.0, 0.0
    for kernel in kernels:
        sums = correlate(kernel)
        mean = sums[..., :3, :, :]
        variance = ops.maximum(sums[..., 3, :, :] - luma(mean) ** 2, 0.0)
        # weight 1 / (1 + (σ / σ0)^q): σ0 = 2/255 keeps (σ/σ0)^q within float32 for q ≤ 16
        weight = 1.0 / (1.0 + ops.power(variance * (1.0 / (2.0 / 255.0) ** 2), sharpness * 0.5))
        total = total + mean * weight[..., None, :, :]
        weight_sum = weight_sum + weight
    return total / weight_sum[..., None, :, :]


def flow_angle(ops, lum, scale_px):
    """Orientation of the strokes: the local edge tangent (radians, (…, H, W)) from the structure tensor of luma,
    smoothed over ``scale_px``; and its coherence 0..1 (1: a clear direction)."""
    gy, gx = ops.gradient(ops.blur(lum, 1.0))
    jxx = ops.blur(gx * gx, scale_px)
    jxy = ops.blur(gx * gy, scale_px)
    jyy = ops.blur(gy * gy, scale_px)
    gradient_angle = 0.5 * ops.atan2(2.0 * jxy, jxx - jyy)
    coherence = ops.lib.sqrt((jxx - jyy) ** 2 + 4.0 * jxy * jxy + 1e-12) / (jxx + jyy + 1e-6)
    return gradient_angle + 0.5 * math.pi, ops.clip(coherence, 0.0, 1.0)


def oriented_kernels(ops, length_px, width_px, count: int = STROKE_ANGLES):
    """``count`` elongated Gaussians (σ ``length_px`` along, ``width_px`` across) at angles π·k/count, unnormalised
    (all have the same sum and sum of squares: divide by them for an average or a unit-variance noise)."""
    r = max(1, int(math.ceil(_TRUNCATE * ops.to_float(length_px))))
    ys, xs = ops.grid(r)
    kernels = []
    for k in range(count):
        theta = math.pi * k / count
        along = xs * math.cos(theta) + ys * math.sin(theta)
        across = -xs * math.sin(theta) + ys * math.cos(theta)
        kernels.append(ops.lib.exp(-0.5 * (along / length_px) ** 2 - 0.5 * (across / width_px) ** 2))
    return r, kernels


def steer(ops, responses, angle, count: int = STROKE_ANGLES):
    """Blend the responses of ``oriented_kernels`` by each pixel's ``angle``: weights cos²ⁿ of the angle between,
    normalised, so the result follows the angle smoothly."""
    # weights cos²ⁿ(a − θk) = ((1 + cos(2a − 2θk)) / 2)ⁿ, n = 2·count/3 (narrow enough to follow the angle, wide
    # enough to leave no gaps between filters), period π (an orientation, not a direction); cos(2a − 2θk) from cos 2a
    # and sin 2a made once
    cos2, sin2 = ops.lib.cos(2.0 * angle), ops.lib.sin(2.0 * angle)
    total, weight_sum = 0.0, 0.0
    for k, response in enumerate(responses):
        theta = 2.0 * math.pi * k / count
        weight = ops.power(0.5 + 0.5 * (cos2 * math.cos(theta) + sin2 * math.sin(theta)), 2 * count // 3)
        total = total + weight * response
        weight_sum = weight_sum + weight
    return total / weight_sum


def xdog_lines(ops, lum, width_px, strength, smoothing_px=0.0):
    """Ink lines by the extended difference of Gaussians (Winnemöller et al.): 0 on paper, up to 1 on a line.

    A line is drawn on the dark side of an edge, ``width_px`` its Gaussian scale; ``strength`` 0..1 lowers the
    contrast an edge needs to draw (0: no lines). smoothing_px: the luma is first blurred by that much (folded into
    the two blurs: Gaussians compose)."""
    fine = ops.blur(lum, (width_px**2 + smoothing_px**2) ** 0.5)
    coarse = ops.blur(lum, ((1.6 * width_px) ** 2 + smoothing_px**2) ** 0.5)
    difference = coarse - fine  # > 0 on the dark side of an edge
    threshold = 0.045 * (1.05 - strength)  # luma difference that starts a line
    darkness = 0.5 + 0.5 * ops.lib.tanh((difference - threshold) / (0.35 * threshold + 0.004))
    return darkness * (strength > 0)


PAPER = np.array([0.98, 0.965, 0.93], np.float32)  # a warm white paper


def paper_colour(ctx):
    """The paper's colour, (3, 1, 1): broadcasts against (…, 3, H, W)."""
    return ctx.wrap(PAPER[:, None, None])


# --- oil ------------------------------------------------------------------------------------------------------
def _oil_core(ops, rgb, p, ctx):
    brush = p["brush"] * ctx.short  # Kuwahara radius in pixels
    paint = kuwahara(ops, rgb, brush, p["sharpness"])
    angle, coherence = flow_angle(ops, luma(paint), 0.75 * brush)
    # strokes along the flow: the paint smeared and bristle noise drawn out along the local edge direction,
    # ``length`` brush widths long (one bank of elongated Gaussians, steered per pixel; it makes the flat
    # Kuwahara strokes follow the edges as the anisotropic Kuwahara's do)
    noise = ctx.noise("oil.bristles", 0.25 * p["brush"])[..., 0, :, :]
    r, kernels = oriented_kernels(ops, 0.5 * p["length"] * brush, 0.2 * brush)
    energy = ops.lib.sqrt((kernels[0] * kernels[0]).sum())  # the same for every angle: one kernel turned
    total = kernels[0].sum()
    correlate = ops.correlator(ops.stack([paint[..., 0, :, :], paint[..., 1, :, :], paint[..., 2, :, :], noise]), r)
    strokes = steer(ops, [correlate(k) for k in kernels], angle[..., None, :, :])
    smeared = strokes[..., :3, :, :] * (1.0 / total)
    height = strokes[..., 3, :, :] * (1.0 / energy)  # unit variance
    paint = paint + p["smear"] * (smeared - paint)
    # impasto: the paint's relief lit from the top left (slope of the height field across a brush width)
    gy, gx = ops.gradient(height)
    relief = -(gx + gy) * (0.7071 * brush / 2.0)
    relief = ops.lib.tanh(relief * 0.5)
    out = paint + (0.12 * p["impasto"]) * relief[..., None, :, :]
    return ops.clip(out, 0.0, 1.0)


# --- watercolour ----------------------------------------------------------------------------------------------
def _watercolour_core(ops, rgb, p, ctx):
    wash = p["wash"] * ctx.short
    colour = kuwahara(ops, rgb, wash, 6.0)  # washes: flat areas of one colour, crisp where the photo has edges
    colour = ops.blur(colour, 0.15 * wash)  # soft inside
    # lighter and more transparent than the photo: the paper shows through the pigment
    colour = 1.0 - (1.0 - colour) * (1.0 - 0.45 * p["transparency"])
    # pigment density: flow turbulence (large), granulation in the paper's valleys (more in dark washes), and
    # pigment carried to the edges of washes as they dry (edge darkening, Bousseau et al. 2006)
    turbulence = ctx.noise("watercolour.turbulence", 0.05)[..., 0, :, :]
    paper = ctx.noise("watercolour.paper", 0.004)[..., 0, :, :]
    granules = ctx.noise("watercolour.granulation", 0.0015)[..., 0, :, :]
    lum = luma(colour)
    surround = ops.blur(colour, 0.6 * wash)
    edges = ((colour - surround) ** 2).sum(-3)
    edges = ops.lib.tanh(40.0 * edges)  # ≈ 1 along the boundaries between washes
    darkness = 1.0 - lum
    density = (
        1.0
        + 0.9 * p["edge_darkening"] * edges
        + 0.25 * p["bleed"] * turbulence
        + p["granulation"] * (0.25 * ops.clip(-paper, 0.0, 3.0) + 0.15 * granules) * (0.3 + darkness)
    )
    # Bousseau's pigment density: C' = C − (C − C²)(d − 1): d > 1 darkens, d < 1 lightens
    out = colour - (colour - colour * colour) * (density[..., None, :, :] - 1.0)
    out = out * (1.0 + 0.04 * p["paper"] * ops.clip(paper, -2.0, 2.0))[..., None, :, :]  # the paper's tooth
    return ops.clip(out * paper_colour(ctx), 0.0, 1.0)


# --- ink / pencil ---------------------------------------------------------------------------------------------
def _ink_core(ops, rgb, p, ctx):
    """Tone and a soft colour wash at the working size: (…, 4, H, W) = colour RGB, tone."""
    soft = ops.blur(rgb, 0.004 * ctx.short)
    return ops.stack([soft[..., 0, :, :], soft[..., 1, :, :], soft[..., 2, :, :], luma(soft)])


def _ink_detail(ops, core, rgb, p, ctx):
    lum = luma(rgb)
    width = ops.maximum(p["line_width"] * ctx.short, MIN_LINE_PX)
    lines = xdog_lines(ops, lum, width, p["line_strength"], smoothing_px=0.5 * width)  # no line for sensor noise
    tone = core[..., 3, :, :]
    darkness = ops.clip(1.0 - tone, 0.0, 1.0) ** 2 * p["hatching"]
    # graphite hatching: strokes at 60° everywhere tone asks for it, crossed at −30° in the darks
    first = ctx.noise("ink.hatch1", 0.0012, aspect=12.0, angle=60.0)[..., 0, :, :]
    second = ctx.noise("ink.hatch2", 0.0012, aspect=12.0, angle=-30.0)[..., 0, :, :]
    hatch = smoothstep(ops, (darkness * 2.2 - 0.6 + 0.35 * first)) * 0.75
    hatch = hatch + smoothstep(ops, (darkness * 2.2 - 1.4 + 0.35 * second)) * 0.5
    paper = ctx.noise("ink.paper", 0.0015)[..., 0, :, :]
    grey = 1.0 - ops.clip(hatch + 0.9 * lines, 0.0, 1.0) * (0.92 + 0.05 * paper)
    grey = grey * (1.0 - 0.03 * p["paper"] * ops.clip(paper, -2.0, 2.0))
    # colour pencil: the photo's colours, lightened, under the graphite
    wash = 1.0 - (1.0 - core[..., :3, :, :]) * 0.75
    tint = 1.0 + p["colour"] * (wash - 1.0)
    return ops.clip(grey[..., None, :, :] * tint * paper_colour(ctx), 0.0, 1.0)


def _ink_reach(p, short):
    return _TRUNCATE * math.hypot(1.6, 0.5) * max(p["line_width"] * short, MIN_LINE_PX)


# --- cartoon --------------------------------------------------------------------------------------------------
def _cartoon_core(ops, rgb, p, ctx):
    flat = kuwahara(ops, rgb, p["smoothing"] * ctx.short, 10.0)
    lum = luma(flat)
    levels = p["levels"]
    # soft quantisation of luma (Winnemöller et al. 2006): flat bands joined by a short ramp
    nearest = ops.lib.floor(lum * levels + 0.5) / levels
    quantised = nearest + (0.5 / levels) * ops.lib.tanh(12.0 * levels * (lum - nearest))
    return ops.clip(flat + (quantised - lum)[..., None, :, :], 0.0, 1.0)


def _cartoon_detail(ops, core, rgb, p, ctx):
    # outlines of shapes, not of texture: edges of the photo smoothed at the line scale
    width = ops.maximum(p["line_width"] * ctx.short, MIN_LINE_PX)
    lines = xdog_lines(ops, luma(rgb), width, p["line_strength"], smoothing_px=width)
    return core * (1.0 - 0.95 * lines)[..., None, :, :]


def _cartoon_reach(p, short):
    return _TRUNCATE * math.hypot(1.6, 1.0) * max(p["line_width"] * short, MIN_LINE_PX)


# --- halftone -------------------------------------------------------------------------------------------------
_SCREEN_ANGLES = (15.0, 75.0, 0.0, 45.0)  # C, M, Y, K: the classic offset screens (no moiré between them)


def _halftone_core(ops, rgb, p, ctx):
    """Ink amounts C, M, Y, K (…, 4, H, W), averaged over a screen cell."""
    soft = ops.blur(rgb, 0.3 * p["dot_size"] * ctx.short)
    k = 1.0 - ops.maximum(ops.maximum(soft[..., 0, :, :], soft[..., 1, :, :]), soft[..., 2, :, :])
    keep = ops.maximum(1.0 - k, 1e-4)
    cmy = [(1.0 - soft[..., i, :, :] - k) / keep for i in range(3)]
    mono = 1.0 - luma(soft)
    colour = p["colour"]
    inks = [c * colour for c in cmy] + [k * colour + mono * (1.0 - colour)]
    return ops.clip(ops.stack(inks), 0.0, 1.0)


def _halftone_detail(ops, core, rgb, p, ctx):
    height, width = core.shape[-2], core.shape[-1]
    period = p["dot_size"] * ctx.short  # pixels from dot to dot
    y = ctx.wrap(np.arange(ctx.top, ctx.top + height, dtype=np.float32)[:, None] + 0.5)
    x = ctx.wrap(np.arange(width, dtype=np.float32)[None, :] + 0.5)
    softness = 0.5 / period + 0.25 * p["softness"]  # a pixel's reach in screen units, plus the chosen blur
    paper = paper_colour(ctx)
    ink_colours = ((0.0, 0.62, 0.88), (0.89, 0.0, 0.45), (1.0, 0.93, 0.0), (0.1, 0.1, 0.12))  # process C, M, Y, K
    out = paper
    for i, base in enumerate(_SCREEN_ANGLES):
        amount = core[..., i, :, :]
        theta = (base + p["angle"]) * (math.pi / 180.0)
        cos = ops.scalar(ops.lib.cos(theta) * (2.0 * math.pi / period))
        sin = ops.scalar(ops.lib.sin(theta) * (2.0 * math.pi / period))
        # the classic Euclidean dot, 0.5 − (cos u + cos v)/4 with u, v the rotated position in dot periods: each
        # cosine of a sum split into products of a row's and a column's (two multiplies a pixel instead of a cosine)
        cos_u = ops.lib.cos(x * cos) * ops.lib.cos(y * sin) - ops.lib.sin(x * cos) * ops.lib.sin(y * sin)
        cos_v = ops.lib.cos(x * sin) * ops.lib.cos(y * cos) + ops.lib.sin(x * sin) * ops.lib.sin(y * cos)
        spot = 0.5 - 0.25 * (cos_u + cos_v)
        ink = smoothstep(ops, (amount - spot) / (2.0 * softness * 2.0) + 0.5)
        # each ink filters the light: the paper times (1 − ink·(1 − ink colour))
        filt = ops.stack([1.0 - ink * (1.0 - base_c) for base_c in ink_colours[i]])
        out = out * filt
    return ops.clip(out, 0.0, 1.0)


def _halftone_reach(p, short):
    return 0.0


STYLES: dict[str, Style] = {
    style.name: style
    for style in (
        Style(
            "oil",
            "oil paint: flat strokes with crisp edges (generalised Kuwahara), bristle strokes along the edges, lit relief",
            {
                "brush": Param(0.008, 0.002, 0.03, "brush radius, a fraction of the shorter side"),
                "sharpness": Param(8.0, 2.0, 16.0, "how strictly a stroke keeps to one side of an edge (Kuwahara q)"),
                "length": Param(3.0, 1.0, 8.0, "stroke length in brush widths"),
                "impasto": Param(0.5, 0.0, 1.0, "relief of the paint, lit from the top left"),
                "smear": Param(0.6, 0.0, 1.0, "how far the paint is dragged along the strokes"),
            },
            _oil_core,
        ),
        Style(
            "watercolour",
            "watercolour: soft washes, darker wash edges, pigment granulation and turbulence, paper",
            {
                "wash": Param(0.008, 0.002, 0.03, "wash size, a fraction of the shorter side"),
                "edge_darkening": Param(0.5, 0.0, 1.0, "pigment gathered at the edges of washes"),
                "granulation": Param(0.4, 0.0, 1.0, "pigment settling in grains, most in dark washes"),
                "bleed": Param(0.4, 0.0, 1.0, "uneven density of a wash (wet-in-wet turbulence)"),
                "paper": Param(0.4, 0.0, 1.0, "paper texture"),
                "transparency": Param(0.4, 0.0, 1.0, "how much paper shows through the washes"),
            },
            _watercolour_core,
        ),
        Style(
            "ink",
            "ink or pencil: XDoG lines, graphite hatching by tone, paper; mono or over a colour wash",
            {
                "line_width": Param(0.0012, 0.0004, 0.005, "line width (Gaussian scale), a fraction of the shorter side"),
                "line_strength": Param(0.7, 0.0, 1.0, "how faint an edge still draws a line"),
                "hatching": Param(0.6, 0.0, 1.0, "how much tone is shaded by hatching"),
                "colour": Param(0.0, 0.0, 1.0, "0: graphite on white; 1: over the photo's colours"),
                "paper": Param(0.4, 0.0, 1.0, "paper texture"),
            },
            _ink_core,
            _ink_detail,
            _ink_reach,
        ),
        Style(
            "cartoon",
            "cartoon: flat colour bands (quantised luma over edge-preserving smoothing) and ink outlines",
            {
                "smoothing": Param(0.008, 0.002, 0.02, "size of the flattened areas, a fraction of the shorter side"),
                "levels": Param(6.0, 2.0, 12.0, "number of tone bands"),
                "line_width": Param(0.0015, 0.0004, 0.005, "outline width (Gaussian scale), a fraction of the shorter side"),
                "line_strength": Param(0.85, 0.0, 1.0, "how faint an edge still draws an outline"),
            },
            _cartoon_core,
            _cartoon_detail,
            _cartoon_reach,
        ),
        Style(
            "halftone",
            "halftone print: rotated screens of dots, CMYK or mono",
            {
                "dot_size": Param(0.008, 0.003, 0.03, "dot spacing, a fraction of the shorter side"),
                "angle": Param(0.0, 0.0, 90.0, "screen angle added to the classic C 15°, M 75°, Y 0°, K 45° (degrees)"),
                "colour": Param(1.0, 0.0, 1.0, "0: black dots only; 1: four-colour process"),
                "softness": Param(0.1, 0.0, 1.0, "blur of the dots' edges"),
            },
            _halftone_core,
            _halftone_detail,
            _halftone_reach,
        ),
    )
}


# --- the stage a look carries ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Brushwork:
    """A look's painterly stage: ``style`` (a key of ``STYLES``), its ``params`` (missing ones take defaults) and
    ``order``: "before" or "after" the colour LUT; ``amount``: how much of the render the look itself mixes in (1: all
    of it; a look saved with the Brushwork slider at 60 % carries 0.6). Invalid values raise a one-line ValueError."""

    style: str
    params: dict[str, float] = field(default_factory=dict)
    order: str = "after"
    amount: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, (int, float)) or not 0.0 < self.amount <= MAX_AMOUNT:
            raise ValueError(f"brushwork amount must be within 0..{MAX_AMOUNT:g} (above 0), got {str(self.amount)[:40]}")
        object.__setattr__(self, "amount", float(self.amount))
        if not isinstance(self.style, str) or self.style not in STYLES:
            raise ValueError(f"unknown brushwork style {str(self.style)[:40]!r}; known: {', '.join(STYLES)}")
        if self.order not in ORDERS:
            raise ValueError(f"brushwork order must be 'before' or 'after', got {str(self.order)[:40]!r}")
        if not isinstance(self.params, dict):
            raise ValueError("brushwork params must be a mapping of names to numbers")
        spec = STYLES[self.style].params
        values = {}
        for name, value in self.params.items():
            if name not in spec:
                raise ValueError(f"{self.style} brushwork has no parameter {str(name)[:40]!r}; known: {', '.join(spec)}")
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise ValueError(f"{self.style} brushwork {name} must be a number, got {str(value)[:40]!r}")
            value = float(value)
            if not spec[name].low <= value <= spec[name].high:  # NaN fails too
                raise ValueError(f"{self.style} brushwork {name} must be within {spec[name].low:g}..{spec[name].high:g}, got {value:g}")
            values[name] = value
        object.__setattr__(self, "params", {**STYLES[self.style].defaults(), **values})

    def to_dict(self) -> dict:
        values = {"style": self.style, "params": dict(self.params), "order": self.order}
        return values if self.amount == 1.0 else {**values, "amount": self.amount}  # files without it read as 1

    def at(self, amount: float) -> "Brushwork | None":
        """This stage with ``amount`` (the Brushwork slider, 0..1.5) baked in; None at 0: no stage."""
        if not 0.0 <= amount <= MAX_AMOUNT:  # NaN fails too
            raise ValueError(f"brushwork amount must be within 0..{MAX_AMOUNT:g}, got {amount}")
        return None if amount == 0.0 else Brushwork(self.style, self.params, self.order, min(MAX_AMOUNT, self.amount * amount))

    @classmethod
    def from_dict(cls, values) -> "Brushwork":
        if not isinstance(values, dict):
            raise ValueError("brushwork must be a mapping with style, params and order")
        unknown = set(values) - {"style", "params", "order", "amount"}
        if unknown:
            raise ValueError(f"brushwork has unknown field {sorted(unknown)[0][:40]!r}")
        return cls(values.get("style"), values.get("params", {}), values.get("order", "after"), values.get("amount", 1.0))


# --- rendering --------------------------------------------------------------------------------------------------
_OPS = NumpyOps()


def render_native(rgb: np.ndarray, style: str, params: dict, seed: int = 0, ops=_OPS, wrap=None):
    """A style at the image's own size in one piece, without the working-size shortcut: the definition that the
    product render approximates at large sizes and the torch twin reproduces. rgb (…, 3, H, W) 0..1."""
    spec = STYLES[style]
    height, width = rgb.shape[-2], rgb.shape[-1]
    ctx = Context((height, width), (height, width), seed=seed, wrap=wrap or (lambda a: a))
    core = spec.core(ops, rgb, params, ctx)
    return spec.detail(ops, core, rgb, params, ctx) if spec.detail else core


def _to_float(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) * np.float32(1 / 255)


def _to_uint8(chw: np.ndarray) -> np.ndarray:
    return (np.clip(chw, 0.0, 1.0).transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)


_CORE_MODES = {1: "L", 3: "RGB", 4: "CMYK"}  # 8-bit containers for the core's channels (resized channel by channel)


def render_brushwork(rgb: np.ndarray, brushwork: Brushwork, amount: float = 1.0, seed: int = 0, strip_pixels: int = STRIP_PIXELS,
                     threads: int = 0) -> np.ndarray:
    """Render ``brushwork`` on an 8-bit photo: rgb (H, W, 3) uint8 → (H, W, 3) uint8.

    amount: 0 returns the photo unchanged, 1 the brushwork as learned, up to 1.5 exaggerates it (the render is
    mixed with the photo). Deterministic for a seed. Photos larger than ``WORK_SIDE`` on the shorter side: the core
    at the working size, the detail at full size in strips of about ``strip_pixels`` (the result does not depend on
    the strip size), ``threads`` at a time (0: up to 2).
    """
    if not isinstance(brushwork, Brushwork):
        raise ValueError("render_brushwork needs a Brushwork")
    if not 0.0 <= amount <= MAX_AMOUNT:  # NaN fails too
        raise ValueError(f"brushwork amount must be within 0..{MAX_AMOUNT:g}, got {amount}")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"render_brushwork needs an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    if amount == 0.0:
        return rgb.copy()
    height, width = rgb.shape[:2]
    spec, params = STYLES[brushwork.style], brushwork.params
    if min(height, width) <= WORK_SIDE:
        out = _to_uint8(render_native(_to_float(rgb), brushwork.style, params, seed))
        return _mix(rgb, out, amount)
    # the core at the working size
    scale = WORK_SIDE / min(height, width)
    work_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(rgb).resize(work_size, Image.Resampling.BOX if scale < 0.5 else Image.Resampling.BILINEAR, reducing_gap=None))
    ctx = Context((height, width), (work_size[1], work_size[0]), seed=seed)
    core = spec.core(_OPS, _to_float(small), params, ctx)
    core_image = _core_image(core)
    del core, small
    out = np.empty_like(rgb)
    strip_rows = max(8, strip_pixels // width)
    reach = int(math.ceil(spec.reach(params, min(height, width)))) + 2
    firsts = range(0, height, strip_rows)

    def one(first: int) -> None:
        end = min(first + strip_rows, height)
        top, bottom = max(0, first - reach), min(height, end + reach)
        box = (0.0, top * core_image.height / height, float(core_image.width), bottom * core_image.height / height)
        channels = np.asarray(core_image.resize((width, bottom - top), Image.Resampling.BICUBIC, box=box))
        channels = channels.reshape(bottom - top, width, -1)
        if spec.detail is None:
            rendered = channels
        else:
            strip_ctx = Context((height, width), (height, width), top=top, rows=bottom - top, seed=seed)
            result = spec.detail(_OPS, _to_float(channels), _to_float(rgb[top:bottom]), params, strip_ctx)
            rendered = _to_uint8(result)
        rendered = rendered[first - top : end - top]
        out[first:end] = _mix(rgb[first:end], rendered, amount)

    for_each_strip(one, firsts, max(1, min(threads or 2, len(firsts))))
    return out


def _core_image(core: np.ndarray) -> Image.Image:
    channels = core.shape[0]
    data = _to_uint8(core)
    if channels == 1:
        return Image.fromarray(data[..., 0], "L")
    if channels == 3:
        return Image.fromarray(data, "RGB")
    if channels == 4:
        return Image.frombytes("CMYK", (data.shape[1], data.shape[0]), data.tobytes())
    raise ValueError(f"a renderer's core has 1, 3 or 4 channels, got {channels}")


def _mix(photo: np.ndarray, rendered: np.ndarray, amount: float) -> np.ndarray:
    """photo + amount · (rendered − photo), rounded; amount 1 is the render itself."""
    if amount == 1.0:
        return rendered
    mixed = photo.astype(np.float32)
    mixed += np.float32(amount) * (rendered.astype(np.float32) - mixed)
    return (np.clip(mixed, 0.0, 255.0) + 0.5).astype(np.uint8)
