"""Read and write Hald CLUTs: a 3D LUT stored as a square image, as darktable, RawTherapee and G'MIC trade them.

A Hald of level L holds a cube of L² points per axis in an L³ × L³ image, red varying fastest, then green, then
blue, row by row: level 8 is 64³ points in 512×512 pixels, level 12 is 144³ in 1728×1728. Reading accepts
levels 2..16 (8×8 to 4096×4096 pixels); a cube of more than 65 points per axis (level 9 and up) is resampled to
65³ by trilinear interpolation, which is what applying the full Hald does. Entries are 8-bit. A Hald carries
colour only: a look's grain and vignette are not in it.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from ..images import DECODE_ERRORS, read_capped
from .lut import MAX_LUT_SIZE, apply_lut_colours, check_lut, identity_lut

HALD_LEVELS = range(2, 17)
HALD_SIDES = {level**3: level for level in HALD_LEVELS}  # 8, 27, 64, 125, ..., 4096 px
DEFAULT_LEVEL = 8
MAX_HALD_BYTES = 64 * 1024 * 1024  # a level-16 PNG (4096×4096) is at most about 50 MB


class HaldError(ValueError):
    """An image that cannot be read as a Hald CLUT; the message says why."""


def _sides() -> str:
    return ", ".join(str(side) for side in HALD_SIDES)


def hald_to_lut(image: Image.Image, name: str = "Hald CLUT") -> np.ndarray:
    """A Hald CLUT image → LUT (S, S, S, 3) float32 in 0..1, S = level² (at most 65: larger cubes are resampled)."""
    width, height = image.size
    if width != height or width not in HALD_SIDES:
        raise HaldError(f"{name} is {width}×{height} px: a Hald CLUT is a square of {_sides()} px (levels 2..16)")
    size = HALD_SIDES[width] ** 2
    table = np.asarray(image.convert("RGB")).reshape(size, size, size, 3)  # [b, g, r]: red fastest, row by row
    if size <= MAX_LUT_SIZE:
        return (table / np.float32(255.0)).astype(np.float32)
    return (apply_lut_colours(identity_lut(MAX_LUT_SIZE, np.float64), table) / 255.0).astype(np.float32)


def load_hald(path: str | os.PathLike) -> np.ndarray:
    """Read a Hald CLUT PNG. Returns a LUT (S, S, S, 3); raises HaldError with a one-line reason."""
    path = Path(path)
    try:
        data = read_capped(path, MAX_HALD_BYTES)
    except OSError as error:
        raise HaldError(f"cannot read {path.name}: {error.strerror or error}") from None
    if len(data) > MAX_HALD_BYTES:
        raise HaldError(f"{path.name} is over {MAX_HALD_BYTES // 2**20} MB: a Hald CLUT PNG is smaller")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked before decoding
            with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
                return hald_to_lut(image, path.name)
    except HaldError:
        raise
    except Image.DecompressionBombError:
        raise HaldError(f"{path.name} has far too many pixels for a Hald CLUT (at most 4096×4096)") from None
    except DECODE_ERRORS as error:
        raise HaldError(f"{path.name} is not a readable PNG image ({str(error)[:80] or type(error).__name__})") from None


def lut_to_hald(lut: np.ndarray, level: int = DEFAULT_LEVEL) -> Image.Image:
    """A LUT (S, S, S, 3) as a Hald CLUT image of ``level`` (8: 512×512; 12: 1728×1728), entries clamped to 0..1."""
    check_lut(lut)
    if level not in HALD_LEVELS:
        raise ValueError(f"Hald level must be within {HALD_LEVELS.start}..{HALD_LEVELS.stop - 1}, got {level}")
    size = level**2
    colours = apply_lut_colours(identity_lut(size, np.float64), np.asarray(lut, dtype=np.float64))
    pixels = (np.clip(colours, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(pixels.reshape(level**3, level**3, 3), "RGB")


def save_hald(path: str | os.PathLike, lut: np.ndarray, level: int = DEFAULT_LEVEL) -> None:
    """Write a LUT as a Hald CLUT PNG (colour only)."""
    lut_to_hald(lut, level).save(path, format="PNG")
