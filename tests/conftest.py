"""Shared fixtures: synthetic photo-like images (no network, no ../shared)."""
from __future__ import annotations

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
