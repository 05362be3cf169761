"""A feed's reference photos, read once: each decoded a single time and reduced to what learning a look needs.

Every door — the CLI, the app, the Python API — reads references here, so they learn the same look from the same
files. One decode per photo, at its own size up to ``TEXTURE_SIDE`` (the size the grain and vignette are read
at, through the photo's own JPEG tables), gives:

- ``image``: the photo at ``LEARN_SIZE`` on its longer side, what the prior and the colour thumbnails read;
- ``texture``: its flattest tiles and radial slopes (``finish_estimate.ReferenceTexture``, ≤ 200 KB);
- ``display``: optionally one more size a caller shows (the app's 1024 px gallery copy);
- ``painterly``: the photo at ``PAINTERLY_SIDE`` on its shorter side, what a painterly stage is read from
  (``painterly_fit``; about 0.7 MB a photo).

The full-size decode is dropped before the next photo is read, so 50 references cost about 50 × 0.3 MB held,
never 50 full-size copies.

    feed = read_references(["feed/1.jpg", "feed/2.jpg", "feed/3.jpg"])   # .readings, .problems
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from PIL import Image

from .finish_estimate import ReferenceTexture, texture_image, texture_of
from ..images import ImageError, thumbnail
# the prior's reading (prior.READ_SIZE, 192) and the fine-tune's 128 px colour thumbnails; a constant here, not an
# import of prior.py, so that reading references (the app does it on upload) never imports torch
LEARN_SIZE = 192
PAINTERLY_SIDE = 400  # the painterly fit renders at most at this shorter side (painterly_fit.BrushworkFitSettings.native)


@dataclass
class ReferenceReading:
    """One reference photo as learning a look uses it."""

    name: str  # the file name (or "reference N" for an image given in memory)
    image: Image.Image  # RGB, longer side ≤ LEARN_SIZE
    texture: ReferenceTexture  # what the grain and vignette are read from
    display: Image.Image | None = field(default=None, repr=False)  # RGB at the caller's ``display_size``, if asked
    painterly: Image.Image | None = field(default=None, repr=False)  # RGB, shorter side ≤ PAINTERLY_SIDE: what brushwork is read from
    short_side: int = 0  # the photo's own shorter side (as decoded, ≤ TEXTURE_SIDE), pixels


def read_reference(source: Image.Image | str | os.PathLike, display_size: int | None = None, name: str | None = None) -> ReferenceReading:
    """Read one reference (a path or a Pillow image) once; ImageError if it cannot teach a look (unreadable,
    smaller than 32 px a side, thinner than 8:1)."""
    name = name or (Path(source).name if not isinstance(source, Image.Image) else "reference")
    image, qtable = texture_image(source, name)  # the one decode: own size up to TEXTURE_SIDE
    return ReferenceReading(
        name=name,
        image=thumbnail(image, LEARN_SIZE),
        texture=texture_of(image, qtable),
        display=thumbnail(image, display_size) if display_size else None,
        painterly=_shorter_side_at_most(image, PAINTERLY_SIDE),
        short_side=min(image.size),
    )


def _shorter_side_at_most(image: Image.Image, side: int) -> Image.Image:
    scale = side / min(image.size)
    if scale >= 1.0:
        return image.convert("RGB").copy()
    return image.convert("RGB").resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)


@dataclass
class ReadReferences:
    """References read from files, with what was skipped and why."""

    readings: list[ReferenceReading] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per unusable file: "<name>: <reason>"


def read_references(sources: Sequence[Image.Image | str | os.PathLike], display_size: int | None = None) -> ReadReferences:
    """Read each reference with ``read_reference``; unusable ones are listed in ``problems`` and skipped."""
    read = ReadReferences()
    for index, source in enumerate(sources, 1):
        try:
            read.readings.append(read_reference(source, display_size, name=f"photo {index}" if isinstance(source, Image.Image) else None))
        except ImageError as error:
            read.problems.append(str(error))
    return read


def as_readings(references: Sequence[ReferenceReading | Image.Image | str | os.PathLike]) -> list[ReferenceReading]:
    """References as readings: readings pass through, paths and images are read; ImageError on the first unusable."""
    return [
        reference if isinstance(reference, ReferenceReading) else read_reference(reference, name=f"photo {index}" if isinstance(reference, Image.Image) else None)
        for index, reference in enumerate(references, 1)
    ]
