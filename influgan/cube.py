"""Read and write Adobe/Resolve ``.cube`` 3D LUT files.

Spec followed: ``TITLE "..."`` (quoted), ``LUT_3D_SIZE N`` with 2 <= N <= 65, optional ``DOMAIN_MIN`` /
``DOMAIN_MAX``, ``#`` comments, then N³ rows of ``R G B`` with red varying fastest. 1D LUTs
(``LUT_1D_SIZE``) are refused with a clear message.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import torch

from .lut import apply_lut_colours, check_lut, identity_lut, resample_lut

MIN_CUBE_SIZE = 2
MAX_CUBE_SIZE = 65
MAX_CUBE_BYTES = 32 * 1024 * 1024  # a 65³ file is about 9 MB; anything far larger is not a LUT
MAX_CUBE_LINES = MAX_CUBE_SIZE**3 + 100_000  # every data row of a 65³ LUT plus generous room for comments
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # one line and its ending (\n, \r\n or old-Mac \r)


class CubeError(ValueError):
    """A ``.cube`` file that cannot be read; the message says what and where."""


def _parse_floats(parts: list[str], line_no: int, what: str) -> list[float]:
    if len(parts) != 3:
        raise CubeError(f"line {line_no}: {what} needs 3 numbers, got {len(parts)}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise CubeError(f"line {line_no}: {what} holds something that is not a number: {' '.join(parts)[:60]!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise CubeError(f"line {line_no}: {what} holds NaN or infinite values")
    return values


def parse_cube(text: str) -> tuple[torch.Tensor, str]:
    """Parse ``.cube`` text. Returns (lut (S, S, S, 3) mapped to the 0..1 domain, title)."""
    title = ""
    size = None
    domain_min, domain_max = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    rows: list[list[float]] = []
    for line_no, match in enumerate(_LINE.finditer(text), start=1):  # one line at a time: bounded memory
        if line_no > MAX_CUBE_LINES:
            raise CubeError(f"more than {MAX_CUBE_LINES} lines: this is not a .cube LUT")
        line = match.group().split("#", 1)[0].strip()
        if not line:
            continue
        head = line.split(None, 1)[0]
        if head[0].isdigit() or head[0] in "+-.":
            if size is None:
                raise CubeError(f"line {line_no}: data row before LUT_3D_SIZE")
            if len(rows) >= size**3:
                raise CubeError(f"line {line_no}: more than {size}³ = {size**3} data rows")
            rows.append(_parse_floats(line.split(), line_no, "data row"))
            continue
        if rows:
            raise CubeError(f"line {line_no}: keyword {head[:30]!r} after the data rows")
        rest = line[len(head):].strip()
        if head == "TITLE":
            if len(rest) < 2 or rest[0] != '"' or rest[-1] != '"':
                raise CubeError(f'line {line_no}: TITLE must be quoted, like TITLE "My look"')
            title = rest[1:-1]
        elif head == "LUT_3D_SIZE":
            try:
                size = int(rest)
            except ValueError:
                raise CubeError(f"line {line_no}: LUT_3D_SIZE must be a whole number, got {rest[:30]!r}") from None
            if not MIN_CUBE_SIZE <= size <= MAX_CUBE_SIZE:
                raise CubeError(f"line {line_no}: LUT_3D_SIZE {size} is outside {MIN_CUBE_SIZE}..{MAX_CUBE_SIZE}")
        elif head == "LUT_1D_SIZE":
            raise CubeError(f"line {line_no}: this is a 1D LUT; only 3D LUTs (LUT_3D_SIZE) are supported")
        elif head == "DOMAIN_MIN":
            domain_min = _parse_floats(rest.split(), line_no, "DOMAIN_MIN")
        elif head == "DOMAIN_MAX":
            domain_max = _parse_floats(rest.split(), line_no, "DOMAIN_MAX")
        elif head in ("LUT_3D_INPUT_RANGE", "LUT_1D_INPUT_RANGE"):
            parts = rest.split()
            if len(parts) != 2:
                raise CubeError(f"line {line_no}: {head} needs 2 numbers, got {len(parts)}")
            low, high = _parse_floats(parts + parts[:1], line_no, head)[:2]
            domain_min, domain_max = [low] * 3, [high] * 3
        else:
            raise CubeError(f"line {line_no}: unknown keyword {head[:30]!r}")
    if size is None:
        raise CubeError("no LUT_3D_SIZE line: this is not a 3D .cube file")
    if len(rows) != size**3:
        raise CubeError(f"expected {size}³ = {size**3} data rows, found {len(rows)}")
    if any(hi <= lo for lo, hi in zip(domain_min, domain_max)):
        raise CubeError(f"DOMAIN_MAX {domain_max} must exceed DOMAIN_MIN {domain_min}")
    # absurd outputs (1e300) are limited first: in float32 they would overflow to inf, and resampling makes inf·0 = NaN
    lut = torch.tensor(rows, dtype=torch.float64).clamp(-1e6, 1e6).to(torch.float32).reshape(size, size, size, 3)
    if domain_min != [0.0, 0.0, 0.0] or domain_max != [1.0, 1.0, 1.0]:
        # The grid spans the input domain; entries are plain output colours. Resample onto the unit cube.
        # in float64: a domain as wide as ±1e308 must not overflow to inf (and NaN) in float32
        lut = _unit_domain(lut, torch.tensor(domain_min, dtype=torch.float64), torch.tensor(domain_max, dtype=torch.float64))
    return lut.clamp(0.0, 1.0), title


def _unit_domain(lut: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Resample a LUT defined on [low, high]³ (per channel) onto the 0..1 cube."""
    size = lut.shape[0]
    unit = identity_lut(size, torch.float64)  # the colours we want outputs for, in 0..1
    position = ((unit - low) / (high - low)).clamp(0.0, 1.0).to(lut.dtype)  # where they sit in the file's grid
    return apply_lut_colours(position.reshape(-1, 3), lut).reshape(size, size, size, 3)


def load_cube(path: str | os.PathLike) -> tuple[torch.Tensor, str]:
    """Read a ``.cube`` file. Returns (lut (S, S, S, 3), title); raises CubeError with a one-line reason."""
    path = Path(path)
    try:
        file_size = path.stat().st_size
    except OSError as error:
        raise CubeError(f"cannot read {path.name}: {error.strerror or error}") from None
    if file_size > MAX_CUBE_BYTES:
        raise CubeError(f"{path.name} is {file_size / 2**20:.1f} MB; a .cube LUT is at most {MAX_CUBE_BYTES // 2**20} MB")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CubeError(f"{path.name} is not a text .cube file") from None
    return parse_cube(text)


def format_cube(lut: torch.Tensor, title: str = "InfluGAN look", size: int | None = None) -> str:
    """``.cube`` text for a LUT (optionally resampled to ``size``, e.g. 17, 33 or 65)."""
    check_lut(lut)
    if size is not None:
        if not MIN_CUBE_SIZE <= size <= MAX_CUBE_SIZE:
            raise ValueError(f"cube size must be within {MIN_CUBE_SIZE}..{MAX_CUBE_SIZE}, got {size}")
        lut = resample_lut(lut, size)
    clean_title = title.replace('"', "'").replace("\n", " ").strip() or "InfluGAN look"
    lines = [
        "# Created by InfluGAN",
        f'TITLE "{clean_title}"',
        f"LUT_3D_SIZE {lut.shape[0]}",
        "DOMAIN_MIN 0.0 0.0 0.0",
        "DOMAIN_MAX 1.0 1.0 1.0",
    ]
    for r, g, b in lut.detach().clamp(0.0, 1.0).reshape(-1, 3).tolist():  # red fastest
        lines.append(f"{r:.6f} {g:.6f} {b:.6f}")
    return "\n".join(lines) + "\n"


def save_cube(path: str | os.PathLike, lut: torch.Tensor, title: str = "InfluGAN look", size: int | None = None) -> None:
    """Write a LUT as a ``.cube`` file."""
    Path(path).write_text(format_cube(lut, title, size), encoding="utf-8")
