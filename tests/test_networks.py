import torch

from influgan.lut_torch import identity_lut
from influgan.networks import ColourStatsHead, Discriminator, LookGenerator, PatchDiscriminator, soft_histograms


def test_fresh_generator_is_identity():
    images = torch.rand(2, 3, 16, 24)
    generator = LookGenerator()
    assert torch.allclose(generator(images), images, atol=1e-5)
    assert torch.allclose(generator.lut(), identity_lut(), atol=1e-6)


def test_generator_starts_from_a_given_lut():
    start = 1 - identity_lut(9)
    generator = LookGenerator(start)
    images = torch.rand(1, 3, 5, 5)
    assert torch.allclose(generator(images), 1 - images, atol=1e-5)


def test_generator_finishing_layers_are_identity_at_zero_and_learnable():
    generator = LookGenerator(learn_finish=True)
    with torch.no_grad():
        generator.grain_raw.fill_(-1e4)
        generator.vignette_raw.zero_()
    images = torch.rand(1, 3, 32, 32)
    assert torch.allclose(generator(images), images, atol=1e-5)
    generator.vignette_raw.data.fill_(0.5)
    out = generator(torch.full((1, 3, 32, 32), 0.5))
    out.mean().backward()
    assert generator.vignette_raw.grad is not None and generator.vignette_raw.grad != 0
    assert out[0, 0, 0, 0] < out[0, 0, 16, 16]


def test_generator_to_look():
    generator = LookGenerator()
    generator.residual.data.fill_(2.0)
    look = generator.to_look("Bright")
    assert look.name == "Bright" and look.lut.max() <= 1.0 and look.lut.min() >= 0.0


def test_discriminator_heads_and_shapes():
    discriminator = Discriminator()
    logits = discriminator(torch.rand(3, 3, 64, 64))
    assert [tuple(t.shape) for t in logits] == [(3, 1, 8, 8), (3, 1, 4, 4), (3, 1)]


def test_discriminator_is_spectrally_normalised():
    patch = PatchDiscriminator()
    names = [name for name, _ in patch.named_parameters()]
    assert any("parametrizations.weight.original" in name for name in names)
    head = ColourStatsHead()
    head(torch.rand(2, 3, 8, 8))  # one power iteration
    weight = head.mlp[0].weight
    assert torch.linalg.matrix_norm(weight, ord=2) < 1.5


def test_soft_histograms_are_normalised_and_differentiable():
    images = torch.rand(2, 3, 10, 10, requires_grad=True)
    hist = soft_histograms(images, bins=8)
    assert hist.shape == (2, 3 * 8 + 64)
    assert torch.allclose(hist[:, :8].sum(1), torch.ones(2), atol=1e-5)
    assert torch.allclose(hist[:, 24:].sum(1), torch.ones(2), atol=1e-5)
    hist[:, 3].sum().backward()
    assert images.grad.abs().sum() > 0


def test_soft_histograms_tell_warm_from_cool():
    warm = torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    cool = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    hist = soft_histograms(torch.cat([warm, cool]), bins=8)
    assert hist[0, 7] > hist[1, 7]  # more mass in the top red bin
