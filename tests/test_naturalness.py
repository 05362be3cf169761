import importlib

import pytest
import torch
from torch.nn.functional import binary_cross_entropy_with_logits

from conftest import synthetic_photo
from influgan import FinetuneSettings, finetune
from influgan.images import image_to_tensor
from influgan.lut_torch import apply_lut_colours
from influgan.naturalness import FEATURES, NaturalnessDiscriminator, soft_colour_features
from influgan.prior import LookPrior, PhotoBank
from influgan.pretrain import sample_look, scene_pixels, train_naturalness

finetune_module = importlib.import_module("influgan.finetune")  # the module; the package exports a function of that name


def test_features_are_differentiable_in_the_pixels():
    pixels = torch.rand(3, 256, 3, requires_grad=True)
    features = soft_colour_features(pixels)
    assert features.shape == (3, FEATURES) and torch.isfinite(features).all()
    features.sum().backward()
    assert torch.isfinite(pixels.grad).all() and pixels.grad.abs().sum() > 0


def test_save_load_round_trip(tmp_path):
    model = NaturalnessDiscriminator(hidden=16).eval()
    pixels = torch.rand(2, 128, 3)
    model.save(tmp_path / "n.safetensors")
    assert torch.allclose(NaturalnessDiscriminator.load(tmp_path / "n.safetensors")(pixels), model(pixels), atol=1e-2)  # float16 file
    prior_file = tmp_path / "prior.safetensors"
    LookPrior(basis=4, hidden=8, control=3).save(prior_file)
    with pytest.raises(ValueError, match="another feature set"):
        NaturalnessDiscriminator.load(prior_file)


def test_short_training_learns_to_tell_ordinary_photos_from_styled_ones():
    photos = [image_to_tensor(synthetic_photo(seed, (64, 48))) for seed in range(10)]
    generator = torch.Generator().manual_seed(99)
    plain = scene_pixels(PhotoBank(photos), torch.arange(16) % 10, 1024, generator)  # (16, 1024, 3)
    styled = torch.stack([apply_lut_colours(p, sample_look(generator, [], 0.0)) for p in plain])
    labels = torch.cat([torch.ones(16), torch.zeros(16)])

    def validation_loss(model):
        with torch.no_grad():
            return float(binary_cross_entropy_with_logits(model(torch.cat([plain, styled])), labels))

    torch.manual_seed(0)
    before = validation_loss(NaturalnessDiscriminator().eval())
    after = validation_loss(train_naturalness(photos, [], steps=40, batch=8, log_every=1000))
    assert after < before - 0.01


def test_natural_adversary_trains_an_inverse_look(monkeypatch, photos):
    monkeypatch.setattr(finetune_module, "load_naturalness", lambda: NaturalnessDiscriminator(hidden=16).eval())
    seen = []
    settings = FinetuneSettings(steps=3, thumb_size=48, colour_samples=256, adversary="natural", start_from="identity")
    look = finetune(photos[:3], photos[3:5], settings, callback=lambda report: seen.append(report.losses))
    assert torch.isfinite(torch.from_numpy(look.lut)).all()
    assert {"natural", "cycle"} <= set(seen[-1])


def test_natural_adversary_without_weights_says_how_to_make_them(monkeypatch, photos):
    monkeypatch.setattr(finetune_module, "load_naturalness", lambda: None)
    with pytest.raises(ValueError, match="naturalness"):
        finetune(photos[:3], photos[3:5], FinetuneSettings(steps=1, adversary="natural"))
