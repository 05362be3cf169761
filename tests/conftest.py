"""Shared fixtures: synthetic photo-like images (no network, no ../shared)."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

torch.set_num_threads(2)


def synthetic_photo(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A photo-like RGB image: a smooth sky-to-ground gradient, a few soft blobs and mild noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width]).reshape(2, 1, 1)
    top, bottom = rng.uniform(0.2, 0.9, 3), rng.uniform(0.05, 0.7, 3)
    image = top * (1 - y[..., None]) + bottom * y[..., None]
    for _ in range(4):
        cx, cy, radius = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.3)
        weight = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / radius**2)[..., None]
        image = image * (1 - weight) + rng.uniform(0, 1, 3) * weight
    image = image + rng.normal(0, 0.02, image.shape)
    return Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


@pytest.fixture
def photo() -> Image.Image:
    return synthetic_photo(0)


@pytest.fixture
def photos() -> list[Image.Image]:
    return [synthetic_photo(seed) for seed in range(1, 9)]


def png_bytes(width: int, height: int, bit_depth: int = 8, colour_type: int = 2, row: bytes | None = None) -> bytes:
    """A PNG written by hand, row by row (no huge array in memory): every row is ``row`` (default: black).

    colour_type 0 is grey, 2 RGB; a 20000×20000 1-bit grey PNG is a decompression bomb of about 50 KB.
    """
    channels = {0: 1, 2: 3}[colour_type]
    row = row if row is not None else bytes((width * channels * bit_depth + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(b"\x00" + row) for _ in range(height)) + compressor.flush()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
