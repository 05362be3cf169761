"""Stylize photo files at full resolution into a folder: the one batch path the CLI and the app share.

All output names are planned before the first photo is touched (``outputs.plan_outputs``: no result replaces an
input, no two results share a name); each photo is then read, stylized and written atomically on its own, so one
bad file costs only itself.
"""
from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Sequence

from ..looks.finishing import Finish
from ..images import ImageError, load_image, open_image, save_image
from ..looks.look import Look
from ..masks import check_controls, subject_masks
from .outputs import plan_outputs, write_atomically

KEEP_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif")


@dataclass
class Stylized:
    """What became of one photo of a batch: ``target`` was written, or ``error`` says why not."""

    source: Path
    target: Path
    error: str | None = None
    size: tuple[int, int] | None = None  # (width, height) of the result
    seconds: float = 0.0
    note: str | None = None  # one line the user should read (e.g. no person found for apply_to="subject")


def same_format_name(source: Path) -> tuple[str, str]:
    """The CLI's naming: ``<stem>.<same extension>`` (lower case; PNG when the input has none)."""
    return source.stem, source.suffix.lower() or ".png"


def share_name(look_name: str) -> Callable[[Path], tuple[str, str]]:
    """The app's naming: ``<stem>_<look>`` in a format every viewer opens (JPEG, PNG or WebP as the photo came;
    PNG when a JPEG-bound photo has transparency)."""
    tag = "".join(c if c.isalnum() else "_" for c in look_name.lower()).strip("_")[:40] or "look"

    def name_for(source: Path) -> tuple[str, str]:
        suffix = source.suffix.lower()
        suffix = suffix if suffix in (".jpg", ".jpeg", ".png", ".webp") else ".jpg"
        if suffix in (".jpg", ".jpeg") and _has_alpha(source):
            suffix = ".png"
        return f"{source.stem}_{tag}", suffix

    return name_for


def _has_alpha(path: Path) -> bool:
    """Whether a photo has transparency, read from its header (no pixels decoded); False if unreadable."""
    try:
        with open_image(path) as image:
            return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    except ImageError:
        return False


def iter_stylize(
    look: Look,
    sources: Sequence[str | os.PathLike],
    folder: str | os.PathLike,
    strength: float = 1.0,
    finish: Finish | None = None,
    name_for: Callable[[Path], tuple[str, str]] = same_format_name,
    inputs: Sequence[str | os.PathLike] = (),
    reserve: Callable[[Path], ContextManager] | None = None,
    protect_skin: float | None = None,
    apply_to: str = "whole",
) -> Iterator[Stylized]:
    """Stylize each of ``sources`` into ``folder`` (which must exist), yielding one ``Stylized`` per photo as it is
    done. inputs: other inputs of the run that no output may replace (e.g. the look file). reserve(source): a
    context manager held while the photo is in memory (the app's memory budget). protect_skin, apply_to: as in
    ``Look.apply``; each photo's masks are computed at its full size (``Stylized.note`` says when no person was
    found)."""
    protect = look.default_protect_skin() if protect_skin is None else protect_skin
    check_controls(protect, apply_to)  # a bad control is refused before any output is planned
    sources = [Path(s) for s in sources]
    targets = plan_outputs(sources, folder, name_for, inputs)  # every name decided before any work starts
    for source, target in zip(sources, targets):
        started = time.perf_counter()
        try:
            with reserve(source) if reserve else nullcontext():
                photo = load_image(source, keep_alpha=True)
                masks = subject_masks(photo) if protect or apply_to != "whole" else None
                note = masks.note(apply_to) if masks else None
                result = look.apply(photo, strength=strength, finish=finish, in_place=True, protect_skin=protect,
                                    apply_to=apply_to, masks=masks)
                write_atomically(target, lambda path: save_image(result, path))
        except ImageError as error:
            yield Stylized(source, target, error=str(error))
            continue
        except OSError as error:
            yield Stylized(source, target, error=f"{source.name}: cannot write {target.name} ({error.strerror or error})")
            continue
        yield Stylized(source, target, size=result.size, seconds=time.perf_counter() - started, note=note)
