import pytest
import torch

from influgan.learning.texture_stats import (PatchDiscriminator, RandomTextureFeatures, contrast_normalised, gram, luma,
                                             sliced_distance, texture_distance)


def _images(seed: int, batch: int = 2, size: int = 48) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(batch, 3, size + 3, size + 3, generator=generator), 4, stride=1)
    return smooth.clamp(0, 1)  # (B, 3, size, size)


def test_features_shapes_per_scale():
    features = RandomTextureFeatures(scales=3, filters=8, size=5)(_images(0, size=64))
    assert [tuple(f.shape) for f in features] == [(2, 8, 60, 60), (2, 8, 28, 28), (2, 8, 12, 12)]
    assert all((f >= 0).all() for f in features)


def test_contrast_normalised_ignores_a_grade():
    y = luma(_images(1))
    graded = 0.6 * y + 0.2  # a contrast and brightness change: the LUT's job, not texture
    assert torch.allclose(contrast_normalised(y, floor=1e-4), contrast_normalised(graded, floor=1e-4 * 0.6), atol=1e-3)


@pytest.mark.parametrize("kind", ["gram", "sliced"])
def test_distance_zero_to_itself_and_larger_for_another_texture(kind):
    features = RandomTextureFeatures(filters=8)
    a, noise = _images(2), torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(3))
    same = texture_distance(features(a), features(a), kind, torch.Generator().manual_seed(0))
    other = texture_distance(features(a), features(noise), kind, torch.Generator().manual_seed(0))
    assert float(same) == pytest.approx(0.0, abs=1e-9)
    assert float(other) > 1e-3


def test_distance_is_differentiable():
    images = _images(4).requires_grad_(True)
    features = RandomTextureFeatures(filters=8)
    loss = texture_distance(features(images), features(_images(5)), "sliced", torch.Generator().manual_seed(0))
    loss.backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_gram_and_sliced_shapes():
    f = torch.rand(2, 6, 5, 5)
    assert gram(f).shape == (6, 6)
    assert sliced_distance(f, torch.rand(3, 6, 4, 4), projections=4, samples=16).shape == ()


def test_unknown_kind_is_refused():
    features = RandomTextureFeatures(filters=4)(_images(6))
    with pytest.raises(ValueError, match="kind"):
        texture_distance(features, features, "vgg")


def test_patch_discriminator_logits():
    logits = PatchDiscriminator(width=8)(_images(7, batch=3, size=32))
    assert logits.shape == (3, 8 * 8 + 4 * 4)  # a logit per patch, at full and half scale
