import json

import pytest
import torch

from influgan.training import procedural
from influgan.looks.look import Look
from influgan.weights import WEIGHTS_DIR
from influgan.learning.lut_torch import identity_lut
from influgan.training.procedural import (
    BUILTIN_RECIPES,
    black_and_white,
    build_lut,
    channel_mixer,
    cross_process,
    exposure,
    gradient_map,
    hue_rotation_matrix,
    hue_shift,
    random_lut,
    random_recipe,
    saturation,
    split_tone,
    tone_curve,
    white_balance,
)

GRADES = [
    (tone_curve, {"contrast": 0.5, "fade": 0.1, "lift": 0.2, "white": 0.9}),
    (saturation, {"amount": 1.5}),
    (channel_mixer, {"matrix": [[0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.1, 0.0, 0.9]]}),
    (white_balance, {"temperature": 0.5, "tint": -0.2}),
    (hue_shift, {"degrees": 30.0}),
    (split_tone, {"shadows": (0.1, 0.5, 0.6), "highlights": (1.0, 0.6, 0.3), "amount": 0.5}),
    (black_and_white, {"filter_colour": (0.6, 0.3, 0.1)}),
    (cross_process, {"amount": 0.8}),
    (exposure, {"stops": -1.0}),
    (gradient_map, {"shadows": (0.2, 0.3, 0.7), "midtones": (0.8, 0.3, 0.3), "highlights": (1.0, 0.9, 0.4)}),
]
NEUTRAL = [
    (tone_curve, {}),
    (saturation, {}),
    (channel_mixer, {"matrix": torch.eye(3)}),
    (white_balance, {}),
    (hue_shift, {}),
    (split_tone, {}),
    (black_and_white, {"amount": 0.0}),
    (cross_process, {"amount": 0.0}),
    (exposure, {}),
    (gradient_map, {"amount": 0.0}),
]


@pytest.mark.parametrize("grade, kwargs", GRADES, ids=lambda v: getattr(v, "__name__", ""))
def test_shape_range_and_input_untouched(grade, kwargs):
    lut = identity_lut(9)
    before = lut.clone()
    out = grade(lut, **kwargs)
    assert out.shape == (9, 9, 9, 3) and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not torch.allclose(out, lut, atol=1e-3)  # it does something
    assert torch.equal(lut, before)


@pytest.mark.parametrize("grade, kwargs", NEUTRAL, ids=lambda v: getattr(v, "__name__", ""))
def test_neutral_parameters_are_identity(grade, kwargs):
    lut = identity_lut(9)
    assert torch.allclose(grade(lut, **kwargs), lut, atol=1e-5)


def test_known_numbers():
    lut = identity_lut(5)
    grey = tone_curve(lut, fade=0.1)[0, 0, 0]  # black
    assert torch.allclose(grey, torch.full((3,), 0.1))
    mono = black_and_white(lut)
    assert torch.allclose(mono[..., 0], mono[..., 1]) and torch.allclose(mono[..., 1], mono[..., 2])
    assert torch.allclose(saturation(lut, 0.0)[..., 0], saturation(lut, 0.0)[..., 2])
    # a 120° hue rotation sends pure red to pure green
    red = torch.tensor([1.0, 0.0, 0.0])
    assert torch.allclose(hue_rotation_matrix(120.0) @ red, torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    warm = white_balance(lut, temperature=0.5)[2, 2, 2]  # mid-grey
    assert warm[0] > warm[1] > warm[2]


def test_tone_curve_is_monotone():
    x = identity_lut(17)[0, 0, :, 0]  # red axis
    for contrast in (-1.0, 0.0, 1.0):
        curve = tone_curve(identity_lut(17), contrast=contrast, fade=0.2, lift=-0.5)[0, 0, :, 0]
        assert (curve[1:] >= curve[:-1]).all()
    assert x.shape == (17,)


def test_bad_parameters():
    lut = identity_lut(5)
    with pytest.raises(ValueError, match="contrast"):
        tone_curve(lut, contrast=2.0)
    with pytest.raises(ValueError, match="saturation"):
        saturation(lut, -1.0)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        channel_mixer(lut, [[1.0, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        saturation(torch.zeros(5, 5, 3), 1.0)
    with pytest.raises(ValueError, match="unknown operation"):
        build_lut([("blur", {})])


def test_random_recipe_is_deterministic_and_serialisable():
    a = random_recipe(torch.Generator().manual_seed(3))
    b = random_recipe(torch.Generator().manual_seed(3))
    assert a == b
    assert json.loads(json.dumps(a)) == json.loads(json.dumps(b))
    assert torch.equal(random_lut(torch.Generator().manual_seed(5)), random_lut(torch.Generator().manual_seed(5)))
    luts = [random_lut(torch.Generator().manual_seed(seed), size=9) for seed in range(20)]
    assert all(lut.shape == (9, 9, 9, 3) and lut.min() >= 0 and lut.max() <= 1 for lut in luts)
    assert len({round(float(lut.sum()), 3) for lut in luts}) > 15  # varied
    assert torch.allclose(random_lut(torch.Generator().manual_seed(1), size=9, intensity=0.0), identity_lut(9), atol=0.02)


def test_gradients_flow():
    lut = identity_lut(5).requires_grad_(True)
    out = saturation(split_tone(tone_curve(lut, contrast=0.3), (0.2, 0.5, 0.6), (1.0, 0.6, 0.3)), 1.2)
    out.sum().backward()
    assert lut.grad is not None and torch.isfinite(lut.grad).all()


def test_builtin_looks_round_trip(tmp_path):
    procedural.main(["--out", str(tmp_path)])
    files = sorted(tmp_path.glob("*.look"))
    assert len(files) == len(BUILTIN_RECIPES)
    for path in files:
        look = Look.load(path)
        assert look.name in BUILTIN_RECIPES and look.lut.shape == (33, 33, 33, 3)
    shipped = WEIGHTS_DIR / "looks"
    assert sorted(p.name for p in shipped.glob("*.look")) == [p.name for p in files]
