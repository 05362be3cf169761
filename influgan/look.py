"""A look: a 3D colour LUT plus finishing parameters, applied to photos and stored as a ``.look`` file.

The file is safetensors (tensors ``lut`` (S, S, S, 3) and ``finish`` (5,)) with JSON metadata; loading never
runs code and checks sizes, shapes and values before anything large is allocated.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from . import __version__
from .cube import MAX_CUBE_SIZE, load_cube, save_cube
from .finishing import FINISH_VERSION, Finish, finish_image
from .lut import LUT_SIZE, apply_lut, apply_lut_image, blend_lut, check_lut, identity_lut, resample_lut
from .texture import apply_finish

LOOK_SUFFIX = ".look"
MAX_LOOK_BYTES = 4 * 1024 * 1024  # a 65³ LUT in float32 is 3.3 MB
MAX_HEADER_BYTES = 64 * 1024
_FINISH_FIELDS = [f.name for f in fields(Finish)]


class LookError(ValueError):
    """A look file that cannot be loaded; the message is fit to show a user."""


@dataclass
class Look:
    """A photo look: LUT (S, S, S, 3) indexed [b, g, r] in 0..1, finishing parameters, name and metadata."""

    lut: torch.Tensor = field(default_factory=identity_lut)
    finish: Finish = field(default_factory=Finish)
    name: str = "Untitled look"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_lut(self.lut)
        self.lut = self.lut.detach().to(torch.float32).clamp(0.0, 1.0).contiguous()

    # --- applying -------------------------------------------------------------------------------------------
    def apply(self, image: Image.Image, strength: float = 1.0, finish: Finish | None = None, seed: int = 0) -> Image.Image:
        """Stylize an 8-bit photo at its full resolution. RGBA keeps its alpha.

        strength: 0 returns the colours unchanged, 1 the look, up to 1.5 exaggerates it (finish amounts scale too).
        finish: overrides the look's own finishing parameters (e.g. from the app's sliders).
        """
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        out = apply_lut_image(rgb, blend_lut(self.lut, strength)) if strength != 0.0 else rgb.copy()
        out = finish_image(out, (finish or self.finish).scaled(strength), seed=seed)
        if alpha is not None:
            out.putalpha(alpha)
        return out

    def apply_tensor(self, images: torch.Tensor, strength: float = 1.0, seed: int = 0) -> torch.Tensor:
        """Stylize (B, 3, H, W) images in 0..1 with trilinear interpolation (the reference implementation)."""
        out = apply_lut(images, blend_lut(self.lut, strength))
        return apply_finish(out, self.finish.scaled(strength), seed=seed)

    # --- files ----------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the look as a safetensors ``.look`` file."""
        finish = torch.tensor([getattr(self.finish, name) for name in _FINISH_FIELDS], dtype=torch.float32)
        header = {
            "format": "influgan.look",
            "version": __version__,
            "name": self.name,
            "created": self.metadata.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "finish_fields": _FINISH_FIELDS,
            **{k: v for k, v in self.metadata.items() if k not in ("created", "name", "format", "finish_fields")},
            "finish_version": FINISH_VERSION,
        }
        data = save_safetensors({"lut": self.lut, "finish": finish}, metadata={"influgan": json.dumps(header)})
        Path(path).write_bytes(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Look":
        """Read a ``.look`` (or ``.cube``) file; raises LookError with a one-line reason for anything malformed."""
        path = Path(path)
        if path.suffix.lower() == ".cube":
            return cls.from_cube(path)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise LookError(f"cannot read {path.name}: {error.strerror or error}") from None
        if size > MAX_LOOK_BYTES:
            raise LookError(f"{path.name} is {size / 2**20:.1f} MB; a look file is at most {MAX_LOOK_BYTES / 2**20:.0f} MB")
        return cls.from_bytes(path.read_bytes(), path.name)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "look") -> "Look":
        """Parse the bytes of a look file (see ``load``)."""
        if len(data) < 8:
            raise LookError(f"{name} is not an InfluGAN look file (too short)")
        (header_bytes,) = struct.unpack("<Q", data[:8])
        if header_bytes > MAX_HEADER_BYTES or header_bytes > len(data) - 8:
            raise LookError(f"{name} is not an InfluGAN look file (bad safetensors header)")
        try:
            header = json.loads(data[8 : 8 + header_bytes])
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: [[[[… nested deep
            header = None
        if not isinstance(header, dict):
            raise LookError(f"{name} is not an InfluGAN look file (bad safetensors header)")
        try:
            meta = json.loads(header.get("__metadata__", {}).get("influgan", "null"))
        except (AttributeError, TypeError, json.JSONDecodeError, RecursionError):
            meta = None
        if not isinstance(meta, dict) or meta.get("format") != "influgan.look":
            raise LookError(f"{name} is not an InfluGAN look file (no look metadata)")
        lut_info, finish_info = header.get("lut"), header.get("finish")
        if not isinstance(lut_info, dict) or not isinstance(finish_info, dict):
            raise LookError(f"{name}: the look file lacks its 'lut' or 'finish' tensor")
        shape = lut_info.get("shape")
        if (
            lut_info.get("dtype") != "F32"
            or not isinstance(shape, list)
            or len(shape) != 4
            or shape[3] != 3
            or not all(isinstance(n, int) and 2 <= n <= MAX_CUBE_SIZE for n in shape[:3])
            or len(set(shape[:3])) != 1
        ):
            raise LookError(f"{name}: the LUT must be float32 (S, S, S, 3) with S in 2..{MAX_CUBE_SIZE}, got {shape}")
        if finish_info.get("dtype") != "F32" or finish_info.get("shape") != [len(_FINISH_FIELDS)]:
            raise LookError(f"{name}: the finish tensor must be float32 ({len(_FINISH_FIELDS)},)")
        try:
            tensors = load_safetensors(data)
        except (SafetensorError, ValueError, RuntimeError) as error:
            raise LookError(f"{name}: damaged look file ({str(error)[:80]})") from None
        lut = tensors["lut"]
        if not torch.isfinite(lut).all() or not torch.isfinite(tensors["finish"]).all():
            raise LookError(f"{name}: the look holds NaN or infinite values")
        if lut.min() < -0.01 or lut.max() > 1.01:
            raise LookError(f"{name}: LUT values must lie within 0..1")
        finish_version = meta.get("finish_version", 1)  # files without it predate the L* grain unit
        try:
            if finish_version not in (1, FINISH_VERSION):
                raise ValueError(f"unknown finish_version {str(finish_version)[:20]}")
            finish = Finish.from_version(dict(zip(_FINISH_FIELDS, tensors["finish"].tolist())), finish_version)
        except ValueError as error:
            raise LookError(f"{name}: {error}") from None
        title = str(meta.get("name", "Untitled look"))[:200]
        metadata = {k: v for k, v in meta.items() if k not in ("format", "name", "finish_fields", "finish_version")}
        return cls(lut=lut, finish=finish, name=title, metadata=metadata)

    def to_cube(self, path: str | os.PathLike, size: int = LUT_SIZE) -> None:
        """Export the colour part as a ``.cube`` LUT (finishing layers have no .cube equivalent)."""
        save_cube(path, self.lut, self.name, size)

    @classmethod
    def from_cube(cls, path: str | os.PathLike) -> "Look":
        """Make a look from a ``.cube`` file (resampled to 33³; no finishing)."""
        lut, title = load_cube(path)
        return cls(lut=resample_lut(lut, LUT_SIZE), name=title or Path(path).stem, metadata={"source": Path(path).name})
