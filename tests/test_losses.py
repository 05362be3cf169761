import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from influgan.learning.losses import lut_monotonicity, lut_range, lut_smoothness, rgb_to_lab, sliced_wasserstein
from influgan.learning.lut_torch import identity_lut


def test_rgb_to_lab_matches_scikit_image():
    colours = torch.rand(200, 3, dtype=torch.float64)
    expected = rgb2lab(colours.numpy().reshape(1, -1, 3)).reshape(-1, 3)
    np.testing.assert_allclose(rgb_to_lab(colours).numpy(), expected, atol=1e-3)


def test_sliced_wasserstein_zero_for_equal_clouds_and_grows_with_shift():
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(1000, 3, generator=generator)
    assert float(sliced_wasserstein(points, points.clone())) == pytest.approx(0.0, abs=1e-10)
    near = float(sliced_wasserstein(points, points + 0.05))
    far = float(sliced_wasserstein(points, points + 0.2))
    assert 0 < near < far


def test_sliced_wasserstein_handles_different_sizes():
    a, b = torch.rand(500, 3), torch.rand(1700, 3)
    assert float(sliced_wasserstein(a, b)) < 0.01


def test_sliced_wasserstein_over_a_batch_of_cloud_pairs_is_their_mean():
    generator = torch.Generator().manual_seed(1)
    points, target = torch.rand(2, 600, 3, generator=generator), torch.rand(2, 400, 3, generator=generator)
    shift = torch.tensor([0.2, 0.2, 0.2])  # a shift v costs (v·d)² along direction d: |v|²/3 = 0.04 on average
    shifted = target + torch.stack([shift, torch.zeros(3)]).unsqueeze(1)  # pair 0 shifted, pair 1 not
    alone = float(sliced_wasserstein(points[0], shifted[0], 512, generator))
    both = float(sliced_wasserstein(points, shifted, 512, generator))
    assert alone == pytest.approx(0.04, rel=0.15)
    assert both == pytest.approx(alone / 2, rel=0.15)


def test_regularisers_are_zero_for_identity_and_positive_for_rough_luts():
    identity = identity_lut(9)
    assert float(lut_smoothness(identity)) == pytest.approx(0.0, abs=1e-10)
    assert float(lut_monotonicity(identity)) == 0.0
    assert float(lut_range(identity)) == 0.0
    noisy = identity + 0.1 * torch.randn(9, 9, 9, 3, generator=torch.Generator().manual_seed(0))
    assert float(lut_smoothness(noisy)) > 0.1
    assert float(lut_monotonicity(1 - identity)) > 0
    assert float(lut_range(identity * 1.5)) > 0


def test_smoothness_ignores_affine_maps_in_second_differences():
    affine = identity_lut(9) * 0.5 + 0.2
    rough = affine + 0.05 * torch.randn(9, 9, 9, 3, generator=torch.Generator().manual_seed(1))
    assert float(lut_smoothness(affine)) < float(lut_smoothness(rough)) / 10
