"""The guided filter: box means, edge-aware refinement, full-size evaluation strip by strip."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from influgan.masks.guided import FullSizeMask, GuidedUpsampler, box_mean


@pytest.mark.parametrize("radius", [1, 3])
def test_box_mean_is_the_window_mean_shrunk_at_borders(radius):
    x = np.random.default_rng(0).random((9, 13)).astype(np.float32)
    expected = np.array([[x[max(0, i - radius) : i + radius + 1, max(0, j - radius) : j + radius + 1].mean()
                          for j in range(13)] for i in range(9)])
    np.testing.assert_allclose(box_mean(x, radius), expected, atol=1e-5)


def step_scene(width: int = 64, height: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A luma step at x = 40 (a shoulder against a wall) and a blurry mask straddling it (a ramp over x 34..46)."""
    x = np.arange(width)[None, :].repeat(height, 0)
    luma = np.where(x < 40, 0.8, 0.2).astype(np.float32)
    blurry = np.clip((46 - x) / 12.0, 0, 1).astype(np.float32)
    return luma, blurry


def test_the_filtered_mask_snaps_to_the_photos_edge():
    luma, blurry = step_scene()
    out = GuidedUpsampler(luma, radius=4, eps=1e-3).filter(blurry)
    # the ramp gets a step where the photo has one: the mask's edge lands on the photo's edge
    jumps = np.abs(np.diff(out[24]))
    assert np.argmax(jumps) == 39  # between x = 39 and 40
    assert jumps.max() > 3 * np.abs(np.diff(blurry[24])).max()
    assert 0 <= out.min() and out.max() <= 1


def test_full_size_is_soft_edge_aware_and_the_same_in_strips():
    luma, blurry = step_scene()
    guide = GuidedUpsampler(luma, radius=4, eps=1e-3)
    photo = Image.fromarray((luma * 255).astype(np.uint8), "L").resize((256, 192), Image.NEAREST)
    mask = FullSizeMask(*guide.coefficients(blurry), photo.convert("RGB"))
    whole = np.asarray(mask.image())
    assert whole.shape == (192, 256) and whole.dtype == np.uint8
    assert len(np.unique(whole)) > 10  # soft, never binary
    inside, beyond = whole[:, 140:158].astype(int), whole[:, 162:184].astype(int)  # the step is at x = 160 (4×)
    assert inside.mean() - beyond.mean() > 100  # the mask changes at the photo's edge: a step, not a halo
    strips = np.concatenate([np.asarray(mask.strip(top, min(50, 192 - top))) for top in range(0, 192, 50)])
    np.testing.assert_array_equal(strips, whole)


def test_a_big_photo_is_evaluated_at_its_detail_size_and_strips_still_agree():
    luma, blurry = step_scene()
    guide = GuidedUpsampler(luma, radius=4, eps=1e-3)
    photo = Image.fromarray((luma * 255).astype(np.uint8), "L").resize((2400, 1800), Image.NEAREST)  # 4.3 MP
    mask = FullSizeMask(*guide.coefficients(blurry), photo)
    assert mask.detail.width * mask.detail.height <= 2_100_000 and mask.image().size == (2400, 1800)
    whole = np.asarray(mask.image())
    strips = np.concatenate([np.asarray(mask.strip(top, min(700, 1800 - top))) for top in range(0, 1800, 700)])
    np.testing.assert_array_equal(strips, whole)
    row = whole[900].astype(int)
    assert row[1450:1480].mean() - row[1520:1550].mean() > 100  # the step (x = 1500) still sharp at full size
