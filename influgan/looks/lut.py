"""3D colour lookup tables in NumPy: identity, trilinear lookup of colours, resampling, strength blend, and the
fast 8-bit apply through Pillow. No torch: applying a look needs none (the differentiable versions used in
training are in ``lut_torch.py``).

A LUT is a float32 array of shape (S, S, S, 3) indexed ``lut[b, g, r]``, so that ``lut.reshape(-1, 3)`` lists
the entries with red varying fastest, as in ``.cube`` files, Hald CLUTs and Pillow's ``Color3DLUT`` table.
Entries are output colours, 0..1 for those InfluGAN makes; an imported LUT may hold entries a little outside
(within ENTRY_MIN..ENTRY_MAX), and results are clamped to 0..1 after interpolation, as OpenColorIO and ffmpeg do.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageFilter

LUT_SIZE = 33  # the size InfluGAN learns and predicts looks at
MIN_LUT_SIZE = 2
MAX_LUT_SIZE = 65  # Pillow's Color3DLUT's largest
MAX_STRENGTH = 1.5
ENTRY_MIN, ENTRY_MAX = -1.0, 2.0  # entries are kept within this range (Pillow's table holds about ±2)
CHUNK_COLOURS = 65536  # colours per chunk in apply_lut_colours (a few MB of temporaries)
STRIP_PIXELS = 1_000_000  # pixels per strip in a full-resolution apply: a few strips in flight, whatever the width


def identity_lut(size: int = LUT_SIZE, dtype: np.dtype = np.float32) -> np.ndarray:
    """The LUT that maps every colour to itself. Returns (size, size, size, 3)."""
    if size < MIN_LUT_SIZE:
        raise ValueError(f"LUT size must be at least {MIN_LUT_SIZE}, got {size}")
    axis = np.linspace(0.0, 1.0, size)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([r, g, b], axis=-1).astype(dtype)


def check_lut(lut) -> int:
    """Raise ValueError unless ``lut`` (a NumPy array or a torch tensor) is (S, S, S, 3), S ≥ 2, with finite
    values; return S."""
    shape = tuple(lut.shape)
    if len(shape) != 4 or shape[-1] != 3 or not (shape[0] == shape[1] == shape[2]):
        raise ValueError(f"a LUT must have shape (S, S, S, 3), got {shape}")
    if shape[0] < MIN_LUT_SIZE:
        raise ValueError(f"LUT size must be at least {MIN_LUT_SIZE}, got {shape[0]}")
    biggest = abs(lut).max()  # NaN propagates through max
    if not math.isfinite(float(biggest.detach() if hasattr(biggest, "detach") else biggest)):
        raise ValueError("LUT holds NaN or infinite values")
    return shape[0]


def apply_lut_colours(colours: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Trilinear lookup of colours (..., 3) in 0..1 (clamped) through a LUT (S, S, S, 3) of any dtype.

    Returns float64 (..., 3), unclamped: the exact reference for every float use (resampling, domains, shapers).
    Works through the colours in chunks: memory stays a few MB beyond input and output.
    """
    colours = np.asarray(colours, dtype=np.float64)
    flat_in = colours.reshape(-1, 3)
    out = np.empty(flat_in.shape, dtype=np.float64)
    for start in range(0, len(flat_in), CHUNK_COLOURS):
        out[start : start + CHUNK_COLOURS] = _trilinear(flat_in[start : start + CHUNK_COLOURS], lut)
    return out.reshape(colours.shape)


def _trilinear(colours: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """apply_lut_colours on (N, 3)."""
    size = lut.shape[0]
    position = np.clip(colours, 0.0, 1.0) * (size - 1)
    low = np.minimum(position.astype(np.intp), size - 2)  # floor (positions are ≥ 0); the top edge uses the last cell
    frac = position - low
    base = (low[:, 2] * size + low[:, 1]) * size + low[:, 0]  # flat index of the cell's (0, 0, 0) corner
    flat = lut.reshape(-1, 3)
    out = np.zeros(colours.shape, dtype=np.float64)
    for db in (0, 1):
        for dg in (0, 1):
            for dr in (0, 1):
                weight = (
                    (frac[:, 0] if dr else 1.0 - frac[:, 0])
                    * (frac[:, 1] if dg else 1.0 - frac[:, 1])
                    * (frac[:, 2] if db else 1.0 - frac[:, 2])
                )
                out += weight[:, None] * flat[base + (db * size + dg) * size + dr]
    return out


def resample_lut(lut: np.ndarray, size: int) -> np.ndarray:
    """The same LUT at ``size`` points per axis (trilinear interpolation). Returns float32 (size, size, size, 3)."""
    if lut.shape[0] == size:
        return np.array(lut, dtype=np.float32)
    return apply_lut_colours(identity_lut(size, np.float64), lut).astype(np.float32)


def blend_lut(lut: np.ndarray, strength: float) -> np.ndarray:
    """Blend identity (strength 0) with ``lut`` (strength 1); up to 1.5 extrapolates. Returns float32."""
    if not 0.0 <= strength <= MAX_STRENGTH:  # NaN fails too
        raise ValueError(f"strength must be within 0..{MAX_STRENGTH}, got {strength}")
    if strength == 1.0:
        return np.array(lut, dtype=np.float32)
    identity = identity_lut(lut.shape[0])
    return np.clip(identity + np.float32(strength) * (lut - identity), ENTRY_MIN, ENTRY_MAX).astype(np.float32)


def pillow_lut(lut: np.ndarray) -> ImageFilter.Color3DLUT:
    """The same LUT as a Pillow filter (C code, for 8-bit images at full resolution; clamps after interpolating)."""
    size = check_lut(lut)
    if size > MAX_LUT_SIZE:
        raise ValueError(f"Pillow applies LUTs of at most {MAX_LUT_SIZE}³, got {size}³")
    table = np.clip(lut, ENTRY_MIN, ENTRY_MAX).astype(np.float32).reshape(-1)
    return ImageFilter.Color3DLUT(size, table, channels=3, _copy_table=False)


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def map_strips(image: Image.Image, work, out: Image.Image, strip_rows: int = 0, threads: int = 0) -> Image.Image:
    """``out`` (an image the size of ``image``, or ``image`` itself) with each band of ``strip_rows`` rows replaced
    by ``work(band of image, first row)``, ``threads`` bands at a time (0: one per CPU, at most 4). Memory beyond
    ``image`` and ``out``: a few strips. Bands are disjoint, so ``out`` may be ``image``: then it is done in place."""
    width, height = image.size
    image.load()  # decoded before the threads crop it: a lazily loaded file is not safe to load from several
    strip_rows = max(1, strip_rows or STRIP_PIXELS // max(1, width))
    firsts = range(0, height, strip_rows)
    threads = max(1, min(threads or min(_cpu_count(), 4), len(firsts)))

    def one(first: int) -> None:
        box = (0, first, width, min(first + strip_rows, height))
        out.paste(work(image.crop(box), first), box[:2])

    for_each_strip(one, firsts, threads)
    return out


def for_each_strip(one, firsts: range, threads: int) -> None:
    """``one(first)`` for every strip's first row: in order here when ``threads`` is 1, else on that many threads
    (the strips write disjoint rows of one output, and Pillow and NumPy release the GIL while they work)."""
    if threads == 1:
        for first in firsts:
            one(first)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, firsts))


def apply_lut_image(image: Image.Image, lut: np.ndarray, threads: int = 0) -> Image.Image:
    """Apply a LUT to an 8-bit RGB image at full resolution, in strips of about STRIP_PIXELS, ``threads`` at a time
    (0: one per CPU; Pillow releases the GIL): the memory beyond input and output stays a few strips."""
    if image.mode != "RGB":
        raise ValueError(f"apply_lut_image needs an RGB image, got mode {image.mode}")
    lut_filter = pillow_lut(lut)
    small = image.width * image.height < 1_000_000
    return map_strips(image, lambda strip, _: strip.filter(lut_filter), Image.new("RGB", image.size), threads=1 if small else threads)
