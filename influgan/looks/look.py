"""A look: a 3D colour LUT plus finishing parameters, applied to photos and stored as a ``.look`` file.

The file is safetensors (tensors ``lut`` (S, S, S, 3) and ``finish`` (5,)) with JSON metadata; loading never
runs code and checks sizes, shapes and values before anything large is allocated. A look also loads from, and
exports its colour to, a ``.cube`` LUT or a Hald CLUT PNG, which carry colour only (no grain, no vignette).
Applying a look needs NumPy and Pillow only, never torch.
"""
from __future__ import annotations

import json
import math
import os
import struct
import warnings
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from ..version import __version__
from .cube import MAX_CUBE_SIZE, MIN_CUBE_SIZE, load_cube, save_cube
from .finishing import FINISH_VERSION, Finish, Finisher, map_strips
from .hald import DEFAULT_LEVEL, HaldError, load_hald, save_hald
from ..images import read_capped
from ..masks import SubjectMasks, check_controls, subject_masks
from .painterly import MAX_AMOUNT, Brushwork, render_brushwork
from .lut import ENTRY_MAX, ENTRY_MIN, blend_lut, check_lut, identity_lut, pillow_lut, resample_lut

LOOK_SUFFIX = ".look"
LOOK_FILE_SUFFIXES = (".look", ".cube", ".png")  # what Look.load reads: an InfluGAN look, a .cube LUT, a Hald CLUT
MAX_LOOK_BYTES = 4 * 1024 * 1024  # a 65³ LUT in float32 is 3.3 MB
MAX_HEADER_BYTES = 64 * 1024
MAX_DIGITS = 18  # integers in a look's metadata are counts; a longer one is hostile (5000 digits would hang int())
_FINISH_FIELDS = [f.name for f in fields(Finish)]
_NUMBER_FIELDS = ("references", "content_photos", "seconds")  # metadata the CLI and the app print as numbers


class LookError(ValueError):
    """A look file that cannot be loaded; the message is fit to show a user."""


def _refuse(text: str):
    raise ValueError(f"{text[:20]!r} is not allowed in look metadata")


def _finite_float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _refuse(text)


def _short_int(text: str) -> int:
    return int(text) if len(text.lstrip("-")) <= MAX_DIGITS else _refuse(text)


def _strict_json(text: str | bytes):
    """json.loads that refuses NaN, Infinity, overflowing floats and huge integers with ValueError."""
    return json.loads(text, parse_constant=_refuse, parse_float=_finite_float, parse_int=_short_int)


@dataclass
class Look:
    """A photo look: LUT (S, S, S, 3) indexed [b, g, r] (NumPy float32; 0..1 for looks InfluGAN makes, within
    -1..2 for imported ones, clamped after interpolation), finishing parameters, name, metadata and an optional
    painterly stage (``brushwork``: oil, watercolour, ink, …, before or after the colour).

    ``lut`` may be given as any array-like, a CPU torch tensor included; training code takes it back with
    ``torch.from_numpy(look.lut)``.
    """

    lut: np.ndarray = field(default_factory=identity_lut)
    finish: Finish = field(default_factory=Finish)
    name: str = "Untitled look"
    metadata: dict = field(default_factory=dict)
    brushwork: Brushwork | None = None

    def __post_init__(self) -> None:
        if self.brushwork is not None and not isinstance(self.brushwork, Brushwork):
            raise ValueError("a look's brushwork must be a Brushwork or None")
        lut = np.asarray(self.lut, dtype=np.float32)
        check_lut(lut)
        if lut.shape[0] > MAX_CUBE_SIZE:
            raise ValueError(f"a look's LUT has at most {MAX_CUBE_SIZE} points per axis, got {lut.shape[0]}")
        self.lut = np.ascontiguousarray(np.clip(lut, ENTRY_MIN, ENTRY_MAX))

    # --- applying -------------------------------------------------------------------------------------------
    def colour_lut(self, strength: float = 1.0) -> np.ndarray:
        """The look's colour LUT at ``strength`` (0: identity, 1: the look, up to 1.5 exaggerates it)."""
        return blend_lut(self.lut, strength)

    def at(self, strength: float = 1.0, finish: Finish | None = None, name: str | None = None, brushwork: float = 1.0,
           protect_skin: float | None = None) -> "Look":
        """This look with ``strength``, ``finish`` (default: its own), the ``brushwork`` amount and ``protect_skin``
        (default: its own) baked in: applying the result with its defaults gives what ``apply(image, strength, finish,
        brushwork=brushwork, protect_skin=protect_skin)`` gives. What "Download this look" saves."""
        metadata = {**self.metadata, "baked_strength": round(float(strength), 4)}
        if protect_skin is not None:
            check_controls(protect_skin, "whole")
            metadata["protect_skin"] = round(float(protect_skin), 4)
        stage = self.brushwork.at(brushwork) if self.brushwork is not None else None
        return Look(lut=self.colour_lut(strength), finish=(finish or self.finish).scaled(strength), name=name or self.name,
                    metadata=metadata, brushwork=stage)

    def apply(self, image: Image.Image, strength: float = 1.0, finish: Finish | None = None, seed: int = 0,
              in_place: bool = False, protect_skin: float | None = None, apply_to: str = "whole",
              masks: SubjectMasks | None = None, brushwork: float = 1.0) -> Image.Image:
        """Stylize an 8-bit photo at its full resolution. RGBA keeps its alpha.

        strength: 0 returns the colours unchanged, 1 the look, up to 1.5 exaggerates it (finish amounts scale too).
        finish: overrides the look's own finishing parameters (e.g. from the app's sliders).
        seed: the grain's (a clip passes its frame index); the brushwork's paper and strokes stay put.
        in_place: an RGB ``image`` the caller no longer needs is stylized where it is (a 100 MP photo costs its own
        pixels and a few strips, no second copy). Colour and finishing go strip by strip, a few strips in threads.
        protect_skin: 0..1, how much skin keeps its original colour (None: the look's own default, else 0);
        apply_to: "whole", "subject" (the people) or "background". masks: the photo's ``subject_masks``, when the
        caller keeps them (the app's previews, a clip's smoothed masks); else computed here when needed.
        brushwork: the painterly stage's amount, if the look has one (0: colour only, 1: as learned, up to 1.5); it
        runs before or after the colour as the look says, always before the grain and vignette (and the subject
        blend, which takes the original photo where it protects).
        """
        if not 0.0 <= brushwork <= MAX_AMOUNT:  # NaN fails too
            raise ValueError(f"brushwork must be within 0..{MAX_AMOUNT:g}, got {brushwork}")
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        owned = in_place or rgb is not image  # an image of our own is stylized where it is: no second copy
        lut_filter = pillow_lut(self.colour_lut(strength)) if strength != 0.0 else None
        finisher = Finisher(rgb.size, (finish or self.finish).scaled(strength), seed)
        blend = self._subject_blend(rgb, protect_skin, apply_to, masks)
        stage = self.brushwork.at(brushwork) if self.brushwork is not None else None  # the look's own amount × the slider's
        threads = 1 if rgb.width * rgb.height < 1_000_000 else 0

        def paint(picture: Image.Image) -> Image.Image:
            return Image.fromarray(render_brushwork(np.asarray(picture), stage, stage.amount))

        def colour(strip: Image.Image, first: int) -> Image.Image:
            return strip.filter(lut_filter) if lut_filter else strip

        def stylize(strip: Image.Image, first: int) -> Image.Image:  # colour, then finishing, a strip at a time
            styled = finisher.strip(colour(strip, first), first)
            return blend(strip, styled, first) if blend else styled  # the original strip, before it is replaced

        if stage is None:
            out = map_strips(rgb, stylize, rgb if owned else Image.new("RGB", rgb.size), threads=threads)
        else:  # the painterly stage sees the whole photo; the subject blend then takes the original strips
            if stage.order == "before":
                styled = paint(rgb)
                styled = map_strips(styled, lambda strip, first: finisher.strip(colour(strip, first), first), styled, threads=threads)
            else:
                coloured = map_strips(rgb, colour, rgb if owned and not blend else Image.new("RGB", rgb.size), threads=threads)
                styled = paint(coloured)
                del coloured
                styled = map_strips(styled, finisher.strip, styled, threads=threads)
            out = styled
            if blend:
                width = rgb.width

                def protect(strip: Image.Image, first: int) -> Image.Image:
                    return blend(strip, styled.crop((0, first, width, first + strip.height)), first)

                out = map_strips(rgb, protect, rgb if owned else Image.new("RGB", rgb.size), threads=threads)
        if alpha is not None:
            out.putalpha(alpha)
        return out

    # --- subject-aware looks (issue 32): blend the styled photo with the original by person and skin masks ----
    def default_protect_skin(self) -> float:
        """The look's own protect-skin (metadata ``protect_skin``, 0..1), or 0."""
        value = self.metadata.get("protect_skin", 0.0)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1 else 0.0

    def _subject_blend(self, rgb: Image.Image, protect_skin: float | None, apply_to: str, masks: SubjectMasks | None):
        protect_skin = self.default_protect_skin() if protect_skin is None else protect_skin
        check_controls(protect_skin, apply_to)
        if protect_skin == 0.0 and apply_to == "whole":
            return None
        if masks is None:
            masks = subject_masks(rgb)
            if masks.note(apply_to):  # callers that pass their masks say it themselves (CLI, app)
                warnings.warn(masks.note(apply_to), stacklevel=3)
        return masks.blender(rgb, protect_skin, apply_to)

    # --- files ----------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the look as a safetensors ``.look`` file."""
        finish = np.array([getattr(self.finish, name) for name in _FINISH_FIELDS], dtype=np.float32)
        header = {
            "format": "influgan.look",
            "version": __version__,
            "name": self.name,
            "created": self.metadata.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "finish_fields": _FINISH_FIELDS,
            **{k: v for k, v in self.metadata.items() if k not in ("created", "name", "format", "finish_fields")},
            "finish_version": FINISH_VERSION,
        }
        header.pop("brushwork", None)
        if self.brushwork is not None:
            header["brushwork"] = self.brushwork.to_dict()
        data = save_safetensors({"lut": self.lut, "finish": finish}, metadata={"influgan": json.dumps(header)})
        Path(path).write_bytes(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Look":
        """Read a look file by its extension: ``.look``, ``.cube`` (CubeError) or a Hald CLUT ``.png``; anything
        else is read as a ``.look``. Raises LookError (CubeError for a .cube) with a one-line reason."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".cube":
            return cls.from_cube(path)
        if suffix == ".png":
            return cls.from_hald(path)
        try:
            size = path.stat().st_size
            if size > MAX_LOOK_BYTES:  # refused at once; a file whose size stat cannot tell is capped while read
                raise LookError(f"{path.name} is {size / 2**20:.1f} MB; a look file is at most {MAX_LOOK_BYTES / 2**20:.0f} MB")
            data = read_capped(path, MAX_LOOK_BYTES)
        except OSError as error:
            raise LookError(f"cannot read {path.name}: {error.strerror or error}") from None
        if len(data) > MAX_LOOK_BYTES:
            raise LookError(f"{path.name} is over {MAX_LOOK_BYTES / 2**20:.0f} MB; a look file is at most {MAX_LOOK_BYTES / 2**20:.0f} MB")
        return cls.from_bytes(data, path.name)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "look") -> "Look":
        """Parse the bytes of a look file (see ``load``)."""
        if len(data) < 8:
            raise LookError(f"{name} is not an InfluGAN look file (too short)")
        (header_bytes,) = struct.unpack("<Q", data[:8])
        if header_bytes > MAX_HEADER_BYTES or header_bytes > len(data) - 8:
            raise LookError(f"{name} is not an InfluGAN look file (bad safetensors header)")
        try:
            header = _strict_json(data[8 : 8 + header_bytes])
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, 5000-digit numbers, [[[[… nested deep
            header = None
        if not isinstance(header, dict):
            raise LookError(f"{name} is not an InfluGAN look file (bad safetensors header)")
        raw_meta = header.get("__metadata__")
        try:
            meta = _strict_json(raw_meta.get("influgan", "null")) if isinstance(raw_meta, dict) else None
        except (TypeError, ValueError, RecursionError) as error:
            raise LookError(f"{name}: the look's metadata is malformed ({str(error)[:80]})") from None
        if not isinstance(meta, dict) or meta.get("format") != "influgan.look":
            raise LookError(f"{name} is not an InfluGAN look file (no look metadata)")
        for key in _NUMBER_FIELDS:
            if key in meta and (isinstance(meta[key], bool) or not isinstance(meta[key], (int, float)) or meta[key] < 0):
                raise LookError(f"{name}: the look's metadata field {key!r} must be a number ≥ 0")
        if not isinstance(meta.get("name", ""), str):
            raise LookError(f"{name}: the look's name must be text")
        lut_info, finish_info = header.get("lut"), header.get("finish")
        if not isinstance(lut_info, dict) or not isinstance(finish_info, dict):
            raise LookError(f"{name}: the look file lacks its 'lut' or 'finish' tensor")
        shape = lut_info.get("shape")
        if (
            lut_info.get("dtype") != "F32"
            or not isinstance(shape, list)
            or len(shape) != 4
            or shape[3] != 3
            or not all(isinstance(n, int) and MIN_CUBE_SIZE <= n <= MAX_CUBE_SIZE for n in shape[:3])
            or len(set(shape[:3])) != 1
        ):
            raise LookError(f"{name}: the LUT must be float32 (S, S, S, 3) with S in {MIN_CUBE_SIZE}..{MAX_CUBE_SIZE}, got {str(shape)[:60]}")
        if finish_info.get("dtype") != "F32" or finish_info.get("shape") != [len(_FINISH_FIELDS)]:
            raise LookError(f"{name}: the finish tensor must be float32 ({len(_FINISH_FIELDS)},)")
        try:
            tensors = load_safetensors(data)
        except (SafetensorError, ValueError, RuntimeError, OverflowError) as error:
            raise LookError(f"{name}: damaged look file ({str(error)[:80]})") from None
        lut, finish_values = tensors["lut"], tensors["finish"]
        if not np.isfinite(lut).all() or not np.isfinite(finish_values).all():
            raise LookError(f"{name}: the look holds NaN or infinite values")
        if lut.min() < ENTRY_MIN - 0.01 or lut.max() > ENTRY_MAX + 0.01:
            raise LookError(f"{name}: LUT values must lie within {ENTRY_MIN:g}..{ENTRY_MAX:g}")
        finish_version = meta.get("finish_version", 1)  # files without it predate the L* grain unit
        try:
            if finish_version not in (1, FINISH_VERSION):
                raise ValueError(f"unknown finish_version {str(finish_version)[:20]}")
            finish = Finish.from_version(dict(zip(_FINISH_FIELDS, finish_values.tolist())), finish_version)
        except ValueError as error:
            raise LookError(f"{name}: {error}") from None
        try:
            brushwork = Brushwork.from_dict(meta["brushwork"]) if meta.get("brushwork") is not None else None
        except ValueError as error:
            raise LookError(f"{name}: {error}") from None
        title = " ".join(meta.get("name", "Untitled look").split())[:200] or "Untitled look"
        metadata = {k: v for k, v in meta.items() if k not in ("format", "name", "finish_fields", "finish_version", "brushwork")}
        return cls(lut=lut, finish=finish, name=title, metadata=metadata, brushwork=brushwork)

    def to_cube(self, path: str | os.PathLike, size: int | None = None, strength: float = 1.0) -> None:
        """Export the colour at ``strength`` as a ``.cube`` LUT, at the look's own size or resampled to ``size``.

        A .cube carries colour only: the look's grain, vignette and brushwork are not in it.
        """
        save_cube(path, self.colour_lut(strength), self.name, size)

    def to_hald(self, path: str | os.PathLike, level: int = DEFAULT_LEVEL, strength: float = 1.0) -> None:
        """Export the colour at ``strength`` as a Hald CLUT PNG (level 8: 512×512; 12: 1728×1728).

        A Hald CLUT carries colour only (8 bits an entry): the look's grain, vignette and brushwork are not in it.
        """
        save_hald(path, self.colour_lut(strength), level)

    @classmethod
    def from_cube(cls, path: str | os.PathLike, size: int | None = None) -> "Look":
        """A look from a ``.cube`` file: the file's own size (a shaper + 3D file: 65³), or resampled to ``size``;
        no finishing. Raises CubeError."""
        lut, title = load_cube(path)
        lut = resample_lut(lut, size) if size else lut
        return cls(lut=lut, name=title or Path(path).stem, metadata={"source": Path(path).name})

    @classmethod
    def from_hald(cls, path: str | os.PathLike, size: int | None = None) -> "Look":
        """A look from a Hald CLUT PNG (level² points per axis, at most 65), or resampled to ``size``; no
        finishing. Raises LookError."""
        try:
            lut = load_hald(path)
        except HaldError as error:
            raise LookError(str(error)) from None
        lut = resample_lut(lut, size) if size else lut
        return cls(lut=lut, name=Path(path).stem, metadata={"source": Path(path).name})

