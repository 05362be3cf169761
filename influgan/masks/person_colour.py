"""The person mask settled by the photo's own colours where the network is unsure.

The selfie network sees the photo stretched to 256×256 and is unsure on backgrounds it rarely met: a pink satin
drape beside a face comes out half person. The photo itself knows better: colours the network is sure are person
and colours it is sure are background make two colour histograms, and an unsure pixel moves towards the side whose
colours it shares (the colour half of GrabCut, Rother et al. 2004, without the graph cut: the guided filter that
follows gives the spatial coherence):

    logit(out) = logit(p) + STRENGTH · 4p(1 − p) · clip(log(H_person(c) / H_background(c)), ±LIMIT)

4p(1 − p) is 1 at p = 0.5 and falls to 0 where the network is sure, so colour settles doubt but never overturns
the network (a blue shirt in front of a blue wall stays person). NumPy only.
"""
from __future__ import annotations

import numpy as np

BINS = (10, 16, 16)  # CIELAB histogram bins: L* 0..100, a* and b* -64..64 (10 × 8 × 8 units)
SURE = 0.8  # the network's probability from which a pixel teaches its side's colours (at full weight at 1.0)
STRENGTH = 1.0  # how far colour moves an unsure pixel's logit, per unit of log likelihood ratio
LIMIT = 3.0  # the log likelihood ratio is clipped to ±LIMIT: a colour seen on one side only is evidence, not proof
MIN_TEACHERS = 50.0  # weighted pixels each side needs before its colours count (else the mask is left as it is)


def _colour_bins(colours: np.ndarray) -> np.ndarray:
    """(h, w, 3) CIELAB → (h, w) int index of each pixel's histogram bin."""
    light = np.clip((colours[..., 0] * (BINS[0] / 100.0)).astype(np.int64), 0, BINS[0] - 1)
    a = np.clip(((colours[..., 1] + 64.0) * (BINS[1] / 128.0)).astype(np.int64), 0, BINS[1] - 1)
    b = np.clip(((colours[..., 2] + 64.0) * (BINS[2] / 128.0)).astype(np.int64), 0, BINS[2] - 1)
    return (light * BINS[1] + a) * BINS[2] + b


def _smoothed(hist: np.ndarray) -> np.ndarray:
    """A (BINS) histogram blurred by [1, 2, 1] / 4 along each axis (edges repeated), so a colour one bin from those
    seen is not taken for unseen."""
    for axis in range(3):
        padded = np.pad(hist, [(1, 1) if a == axis else (0, 0) for a in range(3)], mode="edge")
        n = hist.shape[axis]
        hist = (padded.take(range(0, n), axis) + 2 * padded.take(range(1, n + 1), axis)
                + padded.take(range(2, n + 2), axis)) / 4.0
    return hist


def settle_by_colour(colours: np.ndarray, person: np.ndarray) -> np.ndarray:
    """colours (h, w, 3) CIELAB, person (h, w) 0..1 from the network → (h, w) float32 0..1, unsure pixels moved
    towards the side whose colours they share; unchanged when either side has too few sure pixels to learn from."""
    teach_person = np.clip((person - SURE) / (1.0 - SURE), 0.0, 1.0)
    teach_background = np.clip((1.0 - person - SURE) / (1.0 - SURE), 0.0, 1.0)
    if teach_person.sum() < MIN_TEACHERS or teach_background.sum() < MIN_TEACHERS:
        return person.astype(np.float32)
    index = _colour_bins(colours).ravel()
    n = int(np.prod(BINS))
    side = [_smoothed(np.bincount(index, teach.ravel(), n).reshape(BINS)) for teach in (teach_person, teach_background)]
    floor = 0.05 / n  # a colour neither side has: a ratio near 1, no push
    ratio = np.log((side[0] / side[0].sum() + floor) / (side[1] / side[1].sum() + floor))
    evidence = np.clip(ratio, -LIMIT, LIMIT).ravel()[index].reshape(person.shape)
    p = np.clip(person, 1e-3, 1.0 - 1e-3)
    logit = np.log(p / (1.0 - p)) + STRENGTH * 4.0 * p * (1.0 - p) * evidence
    return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
