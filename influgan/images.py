"""Image input and output: any photo a phone or a stranger sends becomes an sRGB 8-bit image, or a clear error.

Handles EXIF orientation, ICC profiles (converted to sRGB: iPhone photos are Display P3), CMYK, 16-bit,
palette, grayscale, alpha, animated files (first frame), HEIC (when pillow-heif is installed) and refuses
decompression bombs above a stated pixel cap.
"""
from __future__ import annotations

import io
import os
import re
import struct
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Only the decoders photos need: fewer decoders facing hostile bytes, none that runs a program (EPS), and a fast
# start (Image.init() would import some 40 plugins). HEIC/HEIF (pillow-heif) is registered when a file looks like one.
from PIL import BmpImagePlugin, GifImagePlugin, JpegImagePlugin, MpoImagePlugin, PngImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401, E402 isort:skip

try:
    from PIL import AvifImagePlugin  # noqa: F401
except ImportError:  # pragma: no cover - Pillow before 11.2
    pass

MAX_PIXELS = 100_000_000  # 100 MP: a 48 MP phone photo passes, a 20000×20000 bomb does not
MAX_FILE_BYTES = 200 * 1024 * 1024
MIN_REFERENCES, MAX_REFERENCES = 3, 50  # a feed a look is learned from
PAINTING_SIDE = 480  # one or two images this large (shorter side, px) are a feed of their own: a painting
MIN_TRAINING_SIDE = 32  # a photo smaller than this a side has too little to learn from, or to show a look on
MAX_TRAINING_ASPECT = 8.0  # nor one thinner than 8:1 (its 128 px training thumbnail would be a sliver)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp", ".gif")
PHOTO_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF", "TIFF", "BMP", "GIF")
# What Pillow's and libheif's decoders raise on damaged or hostile data; each means "this file is unusable".
DECODE_ERRORS = (OSError, ValueError, RuntimeError, SyntaxError, EOFError, IndexError, KeyError, TypeError, struct.error, ZeroDivisionError, OverflowError)
WHITE = (255, 255, 255)


def _formats() -> tuple[str, ...]:
    """The photo formats whose decoders are registered now (HEIF only once a HEIF-like file was seen)."""
    return tuple(f for f in PHOTO_FORMATS if f in Image.OPEN)


@lru_cache(maxsize=None)
def _register_heif() -> bool:
    """Register pillow-heif's HEIC/HEIF decoder (iPhone photos); False when it is not installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - optional dependency
        return False
    register_heif_opener()
    return True


@lru_cache(maxsize=None)
def _srgb_profile():
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageError(ValueError):
    """An input that is not a usable image; the message is fit to show a user."""


def open_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image lazily (no pixels decoded yet), checking it is a readable image within the pixel cap."""
    path = Path(path)
    name = path.name
    try:
        file_size = path.stat().st_size
    except OSError as error:
        raise ImageError(f"{name}: cannot read the file ({error.strerror or error})") from None
    if file_size == 0:
        raise ImageError(f"{name}: the file is empty")
    if file_size > MAX_FILE_BYTES:
        raise ImageError(f"{name}: the file is {file_size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own 89 MP; our cap, checked below, is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                image = Image.open(path, formats=_formats())
            except UnidentifiedImageError:
                if "HEIF" in Image.OPEN or not _register_heif():
                    raise
                image = Image.open(path, formats=_formats())  # a HEIC photo, the first of this process
    except Image.DecompressionBombError as error:  # far over the cap: Pillow gives only the pixel count
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(pixels[1]) / 1e6:.0f} megapixels" if pixels else "far too many pixels"
        raise ImageError(f"{name}: {size}; the limit is {max_pixels / 1e6:.0f} megapixels") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file InfluGAN can read (JPEG, PNG, WebP, HEIC, TIFF, BMP, GIF)") from None
    except DECODE_ERRORS as error:
        raise ImageError(f"{name}: cannot read the file ({str(error)[:80] or type(error).__name__})") from None
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise ImageError(f"{name}: the image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        image.close()
        raise ImageError(
            f"{name}: {width}×{height} is {width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f} megapixels"
        )
    return image


def load_image(
    path: str | os.PathLike, keep_alpha: bool = False, max_pixels: int = MAX_PIXELS, draft_size: int | None = None
) -> Image.Image:
    """Load a photo as sRGB, EXIF orientation applied; animated files give their first frame.

    Returns mode RGB, transparency flattened onto white (as a viewer shows it), or RGBA when ``keep_alpha`` and
    the image has alpha. draft_size: when given, JPEGs may be decoded at reduced scale with the longer side
    still ≥ draft_size (fast thumbnails of 12 MP photos).
    """
    image = open_image(path, max_pixels)
    name = Path(path).name
    try:
        with image:  # closes the file (animated files keep theirs open otherwise), not the pixels
            if draft_size and image.format in ("JPEG", "MPO"):
                scale = max(image.size) / draft_size
                image.draft(image.mode, (int(image.size[0] / scale) + 1, int(image.size[1] / scale) + 1))
            image.load()
            if draft_size and max(image.size) >= 4 * draft_size:  # other formats: shrink before any copy is made
                image = _reduce(image, max(image.size) // (2 * draft_size))
            return to_srgb(image, keep_alpha)
    except DECODE_ERRORS as error:
        raise ImageError(f"{name}: the image data is damaged or truncated ({str(error)[:80] or type(error).__name__})") from None
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode this image") from None


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """``image`` reduced by an integer ``factor`` (box average), keeping what ``to_srgb`` reads (EXIF orientation,
    ICC profile); the full-size pixels are released at once."""
    exif = image.getexif()
    reduced = image.reduce(factor)
    reduced.info = dict(image.info)
    if exif:
        reduced.info["exif"] = exif.tobytes()
    image.close()
    return reduced


def check_photo_size(size: tuple[int, int], name: str) -> None:
    """Raise ImageError unless ``size`` is a photo's: sides ≥ 32 px. One rule, one message, for a photo to learn
    from and one to stylize in the app (a 1×1 PNG is neither)."""
    width, height = size
    if min(width, height) < MIN_TRAINING_SIDE:
        raise ImageError(f"{name}: {width}×{height} px is too small (at least {MIN_TRAINING_SIDE} px a side)")


def check_training_size(size: tuple[int, int], name: str) -> None:
    """Raise ImageError unless a photo of ``size`` can teach a look: ``check_photo_size``, and no thinner than 8:1."""
    check_photo_size(size, name)
    width, height = size
    if max(width, height) > MAX_TRAINING_ASPECT * min(width, height):
        raise ImageError(f"{name}: {width}×{height} px is too thin a strip to learn from (at most {MAX_TRAINING_ASPECT:g}:1)")


def load_training_image(path: str | os.PathLike, size: int) -> Image.Image:
    """A reference or content photo for a fine-tune, at most ``size`` px on the longer side; ImageError if unusable."""
    with open_image(path) as header:  # the shape is checked before any pixels are decoded
        check_training_size(header.size, Path(path).name)
    return thumbnail(load_image(path, draft_size=size), size)


@dataclass
class TrainingImages:
    """Photos read for a fine-tune (references or content), with what was skipped and why."""

    images: list[Image.Image] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # file names, one per image
    paths: list[Path] = field(default_factory=list)  # the files, one per image
    problems: list[str] = field(default_factory=list)  # one line per unusable file: "<name>: <reason>"
    left_over: int = 0  # files not read because ``limit`` usable ones were already found


def load_training_images(paths: Sequence[str | os.PathLike], size: int, limit: int | None = None) -> TrainingImages:
    """Read each file with ``load_training_image``; unusable ones are listed in ``problems`` and skipped, and once
    ``limit`` images are read the rest are only counted (``left_over``)."""
    loaded = TrainingImages()
    for index, path in enumerate(paths):
        if limit is not None and len(loaded.images) >= limit:
            loaded.left_over = len(paths) - index
            break
        try:
            loaded.images.append(load_training_image(path, size))
        except ImageError as error:
            loaded.problems.append(str(error))
            continue
        loaded.names.append(Path(path).name)
        loaded.paths.append(Path(path))
    return loaded


def to_srgb(image: Image.Image, keep_alpha: bool = False) -> Image.Image:
    """Normalise any Pillow image to 8-bit sRGB, upright: RGB with transparency flattened onto white, or RGBA if
    ``keep_alpha`` and it has alpha."""
    icc = image.info.get("icc_profile")
    try:
        if image.getexif().get(0x0112, 1) != 1:  # Orientation; upright photos are not copied
            image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose the photo
        pass
    alpha = None
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        image = Image.fromarray(np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = image.getchannel("A")
        image = image.convert("RGB") if image.mode != "LA" else image.convert("L")
    if icc and image.mode in ("RGB", "CMYK", "L"):
        from PIL import ImageCms

        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if not (image.mode == "RGB" and ImageCms.getProfileDescription(source).strip().lower().startswith("srgb")):
                image = ImageCms.profileToProfile(image, source, _srgb_profile(), outputMode="RGB")
        except Exception:  # an unreadable profile: fall back to treating the pixels as sRGB
            pass
    if image.mode != "RGB":
        image = image.convert("RGB")
    if alpha is not None and keep_alpha:
        image.putalpha(alpha)
    elif alpha is not None:
        image = Image.composite(image, Image.new("RGB", image.size, WHITE), alpha)
    return image


def image_to_tensor(image: Image.Image) -> "torch.Tensor":
    """RGB Pillow image → (3, H, W) float tensor in 0..1 (for training and the prior: imports torch)."""
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def tensor_to_image(tensor: "torch.Tensor") -> Image.Image:
    """(3, H, W) tensor in 0..1 → RGB Pillow image (rounded to 8 bits)."""
    array = (tensor.detach().clamp(0.0, 1.0).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(array, "RGB")


def thumbnail(image: Image.Image, size: int) -> Image.Image:
    """A copy whose longer side is at most ``size`` (Lanczos), aspect kept."""
    out = image.copy()
    out.thumbnail((size, size), Image.Resampling.LANCZOS)
    return out


def save_image(image: Image.Image, path: str | os.PathLike) -> None:
    """Save by extension: JPEG at quality 95 (no alpha), PNG lossless at fast compression, others with Pillow's
    defaults."""
    path = Path(path)
    suffix = path.suffix.lower()
    kwargs: dict = {}
    if suffix in (".jpg", ".jpeg"):
        image = image.convert("RGB") if image.mode != "RGB" else image  # convert() always copies: 144 MB at 48 MP
        kwargs = {"quality": 95, "subsampling": 0}
    elif suffix == ".png":
        kwargs = {"compress_level": 1}  # 12 MP: 0.7 s and ~25% larger than Pillow's default 6, which takes 2.7 s
    elif suffix in (".webp", ".heic", ".heif"):
        kwargs = {"quality": 95}
        if suffix != ".webp":
            _register_heif()
    image.save(path, **kwargs)


def read_capped(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a file, at most ``max_bytes + 1`` of them: the cap is on bytes actually read, not on what
    ``stat`` says (``/dev/zero`` or a growing file reports 0). A result longer than ``max_bytes`` means "too big"."""
    with open(path, "rb") as handle:
        return handle.read(max_bytes + 1)


def find_images(paths: list[str | os.PathLike]) -> list[Path]:
    """Expand files and folders (not recursive into hidden entries) to a sorted list of image files."""
    found: list[Path] = []
    for entry in paths:
        entry = Path(entry)
        if entry.is_dir():
            found.extend(
                sorted(p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            )
        elif entry.exists():
            found.append(entry)
        else:
            raise ImageError(f"{entry}: no such file or folder")
    return found
