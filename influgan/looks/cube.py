"""Read and write ``.cube`` LUT files: the Adobe/IRIDAS form and the Resolve form, as OpenColorIO reads them.

Reading accepts keywords in any case; ``TITLE "..."`` quoted (a ``#`` inside is part of it) or unquoted;
``#`` comments; ``LUT_3D_SIZE`` 2..65 with N³ rows of ``R G B``, red varying fastest; the input domain as
``DOMAIN_MIN`` / ``DOMAIN_MAX`` or ``LUT_3D_INPUT_RANGE``; and a 1D shaper before the 3D table (``LUT_1D_SIZE``,
``LUT_1D_INPUT_RANGE``, its rows first), the Resolve form OpenColorIO's baker and colour-science write: the shaper
is applied, then the 3D table. A 1D-only file (per-channel curves) reads too.

The result is a LUT on the unit cube: the file's own table (its own size) when its domain is 0..1; resampled
onto the unit cube at the same size otherwise; a shaper and its table composed into one 65³ table. Entries stay
as written (within lut.ENTRY_MIN..ENTRY_MAX): results are clamped after interpolation, not before.

The file is read line by line (lines of at most MAX_LINE_CHARS, at most MAX_CUBE_BYTES in all, counted as read):
memory and time stay bounded whatever the file, even ``/dev/zero``.
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import numpy as np

from .lut import ENTRY_MAX, ENTRY_MIN, MAX_LUT_SIZE, MIN_LUT_SIZE, apply_lut_colours, check_lut, identity_lut, resample_lut

MIN_CUBE_SIZE = MIN_LUT_SIZE
MAX_CUBE_SIZE = MAX_LUT_SIZE
MAX_SHAPER_SIZE = 65536  # the .cube specification's largest 1D LUT
MAX_CUBE_BYTES = 32 * 1024 * 1024  # a 65³ file is about 9 MB; anything far larger is not a LUT
MAX_CUBE_LINES = MAX_CUBE_SIZE**3 + 100_000  # every data row of a 65³ LUT plus generous room for comments
MAX_LINE_CHARS = 4096  # a data row is about 30 characters; a longer line is not a .cube line
MAX_TITLE_CHARS = 200
COMPOSED_SIZE = MAX_CUBE_SIZE  # a shaper and its 3D table become one table of this size
_UNIT = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


class CubeError(ValueError):
    """A ``.cube`` file that cannot be read; the message says what and where."""


def _parse_floats(parts: list[str], line_no: int, what: str, count: int = 3) -> list[float]:
    if len(parts) != count:
        raise CubeError(f"line {line_no}: {what} needs {count} numbers, got {len(parts)}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise CubeError(f"line {line_no}: {what} holds something that is not a number: {' '.join(parts)[:60]!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise CubeError(f"line {line_no}: {what} holds NaN or infinite values")
    return values


def _parse_size(rest: str, line_no: int, keyword: str, low: int, high: int) -> int:
    try:
        size = int(rest)
    except ValueError:
        raise CubeError(f"line {line_no}: {keyword} must be a whole number, got {rest[:30]!r}") from None
    if not low <= size <= high:
        raise CubeError(f"line {line_no}: {keyword} {size} is outside {low}..{high}")
    return size


def _parse_title(rest: str, line_no: int) -> str:
    """``"Summer #2"`` (quoted: everything between the first and the last quote, quotes inside kept) or
    ``Film look`` (unquoted: up to a comment)."""
    if rest.startswith('"'):
        end = rest.rfind('"')
        if end <= 0:
            raise CubeError(f'line {line_no}: TITLE must be quoted on both sides, like TITLE "My look"')
        title = rest[1:end]
    else:
        title = rest.split("#", 1)[0]
    return " ".join(title.split())[:MAX_TITLE_CHARS]  # no tabs or control whitespace; a sane length


def _lines(stream: TextIO) -> Iterator[str]:
    """Lines of a text stream, each at most MAX_LINE_CHARS, at most MAX_CUBE_BYTES characters in all."""
    total = 0
    for line_no in range(1, MAX_CUBE_LINES + 2):
        line = stream.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if line_no > MAX_CUBE_LINES:
            raise CubeError(f"more than {MAX_CUBE_LINES} lines: this is not a .cube LUT")
        total += len(line)
        if total > MAX_CUBE_BYTES:
            raise CubeError(f"more than {MAX_CUBE_BYTES // 2**20} MB of text: this is not a .cube LUT")
        if len(line) > MAX_LINE_CHARS:
            raise CubeError(f"line {line_no} is longer than {MAX_LINE_CHARS} characters: this is not a .cube LUT")
        yield line


def read_cube(lines: Iterable[str]) -> tuple[np.ndarray, str]:
    """Parse ``.cube`` lines (see the module docstring). Returns (lut (S, S, S, 3) float32 on the unit cube, title)."""
    title = ""
    size_3d = size_1d = None
    table_3d = table_1d = None
    domain = domain_1d = domain_3d = None  # ((min r, g, b), (max r, g, b)) as written, or None
    rows = 0
    for line_no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        head = line.split(None, 1)[0]
        if head[0].isdigit() or head[0] in "+-.":
            shaper_rows = size_1d or 0
            expected = shaper_rows + (size_3d**3 if size_3d else 0)
            if not expected:
                raise CubeError(f"line {line_no}: data row before LUT_3D_SIZE")
            if rows >= expected:
                what = f"{size_3d}³ = {expected}" if not shaper_rows else f"{expected}"
                raise CubeError(f"line {line_no}: more than {what} data rows")
            values = _parse_floats(line.split("#", 1)[0].split(), line_no, "data row")
            if rows < shaper_rows:
                table_1d[rows] = values
            else:
                table_3d[rows - shaper_rows] = values
            rows += 1
            continue
        if rows:
            raise CubeError(f"line {line_no}: keyword {head[:30]!r} after the data rows")
        keyword = head.upper()
        rest = line[len(head):].strip()
        if keyword == "TITLE":
            title = _parse_title(rest, line_no)
            continue
        rest = rest.split("#", 1)[0].strip()
        if keyword == "LUT_3D_SIZE":
            if size_3d is not None:
                raise CubeError(f"line {line_no}: a second LUT_3D_SIZE")
            size_3d = _parse_size(rest, line_no, keyword, MIN_CUBE_SIZE, MAX_CUBE_SIZE)
            table_3d = np.empty((size_3d**3, 3), dtype=np.float64)
        elif keyword == "LUT_1D_SIZE":
            if size_1d is not None:
                raise CubeError(f"line {line_no}: a second LUT_1D_SIZE")
            size_1d = _parse_size(rest, line_no, keyword, 2, MAX_SHAPER_SIZE)
            table_1d = np.empty((size_1d, 3), dtype=np.float64)
        elif keyword in ("DOMAIN_MIN", "DOMAIN_MAX"):
            values = tuple(_parse_floats(rest.split(), line_no, keyword))
            low, high = domain or _UNIT
            domain = (values, high) if keyword == "DOMAIN_MIN" else (low, values)
        elif keyword in ("LUT_3D_INPUT_RANGE", "LUT_1D_INPUT_RANGE"):
            low, high = _parse_floats(rest.split(), line_no, keyword, count=2)
            if keyword == "LUT_3D_INPUT_RANGE":
                domain_3d = ((low,) * 3, (high,) * 3)
            else:
                domain_1d = ((low,) * 3, (high,) * 3)
        else:
            raise CubeError(f"line {line_no}: unknown keyword {head[:30]!r}")
    if size_3d is None and size_1d is None:
        raise CubeError("no LUT_3D_SIZE or LUT_1D_SIZE line: this is not a .cube LUT")
    expected = (size_1d or 0) + (size_3d**3 if size_3d else 0)
    if rows != expected:
        what = f"{size_3d}³ = {expected}" if size_1d is None else f"{expected}"
        raise CubeError(f"expected {what} data rows, found {rows}")
    # DOMAIN_MIN/MAX (the Adobe form) is the domain of the file's first table
    if size_1d is not None:
        domain_1d = domain_1d or domain
    else:
        domain_3d = domain_3d or domain
    for low, high in (domain_1d or _UNIT, domain_3d or _UNIT):
        if any(hi <= lo for lo, hi in zip(low, high)):
            raise CubeError(f"the input range maximum {list(high)} must exceed its minimum {list(low)}")
    # absurd entries (1e300) are limited first: they would overflow float32 and turn inf·0 into NaN when interpolated
    table_3d = None if table_3d is None else np.clip(table_3d, -1e6, 1e6).reshape(size_3d, size_3d, size_3d, 3)
    table_1d = None if table_1d is None else np.clip(table_1d, -1e6, 1e6)
    lut = _compose(table_1d, domain_1d or _UNIT, table_3d, domain_3d or _UNIT)
    return np.clip(lut, ENTRY_MIN, ENTRY_MAX).astype(np.float32), title


def _position(values: np.ndarray, domain) -> np.ndarray:
    """Where values sit within a per-channel domain (min, max), as 0..1 (clamped), in float64."""
    low, high = (np.asarray(bound, dtype=np.float64) for bound in domain)
    with np.errstate(over="ignore", invalid="ignore"):  # a domain as wide as ±1e308: positions stay finite
        position = (values - low) / (high - low)
    return np.clip(np.nan_to_num(position), 0.0, 1.0)


def _apply_shaper(colours: np.ndarray, table: np.ndarray, domain) -> np.ndarray:
    """A 1D LUT (N, 3) applied to each channel of colours (..., 3), linear interpolation."""
    position = _position(colours, domain) * (len(table) - 1)
    grid = np.arange(len(table), dtype=np.float64)
    return np.stack([np.interp(position[..., c], grid, table[:, c]) for c in range(3)], axis=-1)


def _compose(table_1d, domain_1d, table_3d, domain_3d) -> np.ndarray:
    """One LUT on the unit cube for shaper (or none) → 3D table (or none)."""
    if table_1d is None:
        if domain_3d == _UNIT:
            return table_3d
        # the grid spans the domain; its entries are plain output colours: resample onto the unit cube
        return apply_lut_colours(_position(identity_lut(table_3d.shape[0], np.float64), domain_3d), table_3d)
    colours = _apply_shaper(identity_lut(COMPOSED_SIZE, np.float64), table_1d, domain_1d)
    if table_3d is None:
        return colours
    return apply_lut_colours(_position(colours, domain_3d), table_3d)


def parse_cube(text: str) -> tuple[np.ndarray, str]:
    """Parse ``.cube`` text (see ``read_cube``); lines may end in \\n, \\r\\n or \\r."""
    return read_cube(_lines(io.StringIO(text, newline=None)))


def load_cube(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read a ``.cube`` file line by line. Returns (lut (S, S, S, 3), title); raises CubeError with a one-line reason."""
    path = Path(path)
    try:
        file_size = path.stat().st_size
    except OSError as error:
        raise CubeError(f"cannot read {path.name}: {error.strerror or error}") from None
    if file_size > MAX_CUBE_BYTES:  # refused at once; a file whose size stat cannot tell is capped while read
        raise CubeError(f"{path.name} is {file_size / 2**20:.1f} MB; a .cube LUT is at most {MAX_CUBE_BYTES // 2**20} MB")
    try:
        with open(path, encoding="utf-8-sig", newline=None) as stream:
            return read_cube(_lines(stream))
    except UnicodeDecodeError:
        raise CubeError(f"{path.name} is not a text .cube file") from None
    except OSError as error:
        raise CubeError(f"cannot read {path.name}: {error.strerror or error}") from None
    except CubeError as error:
        raise CubeError(f"{path.name}: {error}") from None


def format_cube(lut: np.ndarray, title: str = "InfluGAN look", size: int | None = None) -> str:
    """``.cube`` text for a LUT, at its own size or resampled to ``size`` (e.g. 17, 33 or 65).

    A .cube carries colour only: a look's grain and vignette have no equivalent in it.
    """
    lut = np.asarray(lut, dtype=np.float32)
    check_lut(lut)
    if size is not None:
        if not MIN_CUBE_SIZE <= size <= MAX_CUBE_SIZE:
            raise ValueError(f"cube size must be within {MIN_CUBE_SIZE}..{MAX_CUBE_SIZE}, got {size}")
        lut = resample_lut(lut, size)
    clean_title = " ".join(title.replace('"', "'").split())[:MAX_TITLE_CHARS] or "InfluGAN look"
    header = [
        "# Created by InfluGAN (colour only: a look's grain and vignette are not in a .cube)",
        f'TITLE "{clean_title}"',
        f"LUT_3D_SIZE {lut.shape[0]}",
        "DOMAIN_MIN 0.0 0.0 0.0",
        "DOMAIN_MAX 1.0 1.0 1.0",
    ]
    body = io.StringIO()
    np.savetxt(body, np.clip(lut, ENTRY_MIN, ENTRY_MAX).reshape(-1, 3), fmt="%.6f")  # red fastest
    return "\n".join(header) + "\n" + body.getvalue()


def save_cube(path: str | os.PathLike, lut: np.ndarray, title: str = "InfluGAN look", size: int | None = None) -> None:
    """Write a LUT as a ``.cube`` file (colour only)."""
    Path(path).write_text(format_cube(lut, title, size), encoding="utf-8")
