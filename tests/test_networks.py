import torch

from influgan import Finish
from influgan.learning.lut_torch import apply_lut, identity_lut
from influgan.learning.networks import LookGenerator


def test_fresh_generator_is_identity():
    images = torch.rand(2, 3, 16, 24)
    generator = LookGenerator()
    assert torch.allclose(apply_lut(images, generator.lut()), images, atol=1e-5)
    assert torch.allclose(generator.lut(), identity_lut(), atol=1e-6)


def test_generator_starts_from_a_given_lut():
    start = 1 - identity_lut(9)
    generator = LookGenerator(start)
    images = torch.rand(1, 3, 5, 5)
    assert torch.allclose(apply_lut(images, generator.lut()), 1 - images, atol=1e-5)


def test_generator_to_look_carries_its_finish():
    generator = LookGenerator(finish=Finish(grain_amount=3.0, vignette_amount=0.2))
    generator.residual.data.fill_(2.0)
    look = generator.to_look("Bright")
    assert look.name == "Bright" and look.lut.max() <= 1.0 and look.lut.min() >= 0.0
    assert look.finish.grain_amount == 3.0 and look.finish.vignette_amount == 0.2
    assert LookGenerator().to_look().finish == Finish()
