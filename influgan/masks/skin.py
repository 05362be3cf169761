"""Skin: a per-photo colour model around the skin-tone line, fitted inside the person.

Every complexion's skin lies close to one line of hues (the "skin-tone line" of a colourist's vectorscope, CIELAB
hue ≈ 30–80°), pale and very dark skin near neutral, medium skin further out. A broad prior keeps colours near that
line; what separates skin from wood, sand or a warm wall of the same hue is the photo itself: a Gaussian of the
person's own skin colours (fitted where the person mask and the prior agree), in chroma coordinates that shading
does not move much. Only pixels inside the person, close to that Gaussian, count as skin. NumPy and Pillow only.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageCms

from .guided import box_mean

_SRGB_TO_LAB = ImageCms.buildTransformFromOpenProfiles(
    ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
HUE_RANGE = (18.0, 88.0)  # degrees of CIELAB hue the prior accepts at full weight (soft 8° either side)
MAX_CHROMA = 32.0  # normalized chroma above which a colour is too vivid for skin (an orange suit, a red hat)
MIN_SPREAD = 1.5  # smallest standard deviation of the per-photo model, in normalized chroma units
MIN_LIGHT_SPREAD = 8.0  # smallest standard deviation of the skin's L*
LIGHT_REACH = 2.0  # how many of its standard deviations of L* skin may stray (shade) before its weight falls
HEAD_BIAS = 3.0  # how much more the top of the person counts than its bottom when finding the skin colour (e^3)
CORE = 0.03  # the model learns from pixels whose surroundings (this share of the side) are all person
DECISION = (0.1, 0.5)  # skin confidence mapped to the mask: below the first nothing, above the second all
REACH = 2.0  # Mahalanobis distance from the photo's skin colour at which skin weight falls to exp(-0.5)


def lab(image: Image.Image) -> np.ndarray:
    """CIELAB (D50, ImageCms) of an 8-bit RGB image: (H, W, 3) float32, L 0..100, a and b about -128..127."""
    raw = np.asarray(ImageCms.applyTransform(image.convert("RGB"), _SRGB_TO_LAB))
    out = raw.astype(np.float32)
    out[..., 0] *= 100.0 / 255.0
    out[..., 1:] = raw[..., 1:].view(np.int8)  # a and b are stored as signed bytes
    return out


def _smoothstep(x: np.ndarray, low: float, high: float) -> np.ndarray:
    t = np.clip((x - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def chroma_coordinates(colours: np.ndarray) -> np.ndarray:
    """(…, 3) CIELAB → (…, 2) a, b scaled to a mid lightness: a face in shade and in light lands close together."""
    scale = 50.0 / (colours[..., :1] + 10.0)
    return colours[..., 1:] * scale


def skin_prior(colours: np.ndarray) -> np.ndarray:
    """(…, 3) CIELAB → (…) 0..1: how plausible each colour is as skin of some complexion, photo unseen."""
    ab = chroma_coordinates(colours)
    chroma = np.hypot(ab[..., 0], ab[..., 1])
    hue = np.degrees(np.arctan2(ab[..., 1], ab[..., 0]))
    low, high = HUE_RANGE
    on_line = _smoothstep(hue, low - 8, low) * (1 - _smoothstep(hue, high, high + 8))
    near_neutral = 1 - _smoothstep(chroma, 2.0, 5.0)  # pale and very dark skin: hue says little this close to grey
    hue_weight = np.maximum(on_line, 0.6 * near_neutral)
    vivid = 1 - _smoothstep(chroma, MAX_CHROMA, MAX_CHROMA + 10)
    light = colours[..., 0]
    exposure = _smoothstep(light, 4.0, 12.0) * (1 - _smoothstep(light, 96.0, 99.5))  # clipped blacks/whites: unknown
    return hue_weight * vivid * exposure


def _mode(ab: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The most common normalized chroma among weighted pixels (N, 2): the peak of a smoothed 2D histogram with
    1-unit bins over -20..60."""
    bins = np.clip(np.floor(ab + 20.0).astype(np.int64), 0, 79)
    hist = np.bincount(bins[:, 0] * 80 + bins[:, 1], weights=weight, minlength=80 * 80).reshape(80, 80).astype(np.float32)
    for _ in range(3):  # three box passes ≈ a Gaussian of 2.5 bins: a noisy (dark) skin cluster counts by its mass
        hist = box_mean(hist, 2)
    i, j = np.unravel_index(int(np.argmax(hist)), hist.shape)
    return np.array([i - 19.5, j - 19.5], np.float32)


def _distance2(ab: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each (N, 2) point from a 2D Gaussian."""
    (p, q), (_, r) = np.linalg.inv(cov)
    x, y = ab[:, 0] - mean[0], ab[:, 1] - mean[1]
    return p * x * x + 2 * q * x * y + r * y * y


def skin_probability(colours: np.ndarray, person: np.ndarray) -> np.ndarray:
    """colours (h, w, 3) CIELAB, person (h, w) 0..1 → skin (h, w) float32 0..1 (0 outside the person).

    The photo's skin colour is the main skin-plausible cluster inside the person: found at the peak of their
    chroma histogram, then a Gaussian fitted around it and re-fitted by its own likelihood (so it locks on skin,
    not on the mean of skin, hair and a beige jacket beside it).
    """
    prior = skin_prior(colours)
    ab = chroma_coordinates(colours).reshape(-1, 2)
    light = colours[..., 0].reshape(-1)
    core = np.clip(box_mean(person, max(1, round(CORE * max(person.shape)))) * 4 - 3, 0, 1)  # person all around
    weight = core * prior  # only pixels well inside the person teach it: not background it took in
    rows = np.flatnonzero(core.max(axis=1) > 0.5)
    if HEAD_BIAS and rows.size:  # people stand upright: the face, the surest skin, is near the top of the person
        t = np.clip((np.arange(person.shape[0]) - rows[0]) / max(1, rows[-1] - rows[0]), 0, 1)
        weight = weight * np.exp(-HEAD_BIAS * t)[:, None]
    weight = weight.reshape(-1)
    if weight.sum() < 20.0:  # under ~20 pixels of plausible skin in the person: nothing to model
        return np.zeros(person.shape, np.float32)
    teach = weight > 0.01
    ab_t, light_t, weight_t = ab[teach], light[teach], weight[teach]
    mean, cov = _mode(ab_t, weight_t), np.eye(2) * 16.0
    for _ in range(3):
        w = weight_t * np.exp(-0.5 * _distance2(ab_t, mean, cov))
        if w.sum() < 1e-6:
            return np.zeros(person.shape, np.float32)
        mean = (w[:, None] * ab_t).sum(0) / w.sum()
        centred = ab_t - mean
        cov = (w[:, None] * centred).T @ centred / w.sum() * 2.0 + np.eye(2) * MIN_SPREAD**2  # ×2: the window cut it
    # Lightness, loosely: the photo's skin spans light and shade, but hair of the same hue is mostly darker.
    w = weight_t * np.exp(-2.0 * _distance2(ab_t, mean, cov))  # the skin's lightness from its cluster's core
    light_mean = (w * light_t).sum() / w.sum()
    light_spread = max(float(np.sqrt((w * (light_t - light_mean) ** 2).sum() / w.sum())), MIN_LIGHT_SPREAD)
    d2 = _distance2(ab, mean, cov) / REACH**2 + ((light - light_mean) / (LIGHT_REACH * light_spread)) ** 2
    confidence = np.exp(-0.5 * d2).reshape(person.shape) * prior
    skin = _smoothstep(confidence, *DECISION) * person  # decisive inside skin: protect 100 % keeps it all
    return skin.astype(np.float32)
