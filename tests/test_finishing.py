import numpy as np
import pytest
import torch
from PIL import Image

from influgan.finishing import Finish, apply_finish, finish_image, grain_field, grain_seed_noise, vignette_mask
from influgan.images import image_to_tensor


def test_defaults_are_identity(photo):
    images = image_to_tensor(photo).unsqueeze(0)
    assert torch.equal(apply_finish(images, Finish()), images)
    assert finish_image(photo, Finish()) is photo


def test_zero_amounts_are_identity_even_with_other_settings(photo):
    finish = Finish(grain_amount=0.0, grain_size=0.005, grain_luma=1.0, vignette_amount=0.0, vignette_radius=0.1)
    images = image_to_tensor(photo).unsqueeze(0)
    assert torch.equal(apply_finish(images, finish), images)


def test_vignette_darkens_corners_not_centre():
    mask = vignette_mask(60, 90, amount=0.5, radius=0.5)
    assert mask.shape == (1, 1, 60, 90)
    assert mask[0, 0, 30, 45] == pytest.approx(1.0)
    assert mask[0, 0, 0, 0] == pytest.approx(0.5, abs=0.03)
    brighten = vignette_mask(60, 90, amount=-0.5, radius=0.5)
    assert brighten[0, 0, 0, 0] > 1.4


def test_grain_has_the_requested_strength():
    gray = torch.full((1, 3, 200, 300), 0.5)
    out = apply_finish(gray, Finish(grain_amount=0.05, grain_luma=1.0))
    assert float((out - gray).std()) == pytest.approx(0.05, rel=0.15)
    assert torch.allclose(out[:, 0], out[:, 1])  # monochrome grain


def test_grain_spares_black_and_white_when_luma_dependent():
    black = torch.zeros(1, 3, 50, 50)
    assert torch.equal(apply_finish(black, Finish(grain_amount=0.1, grain_luma=1.0)), black)


def test_grain_field_has_unit_variance_and_scales_with_image():
    field = grain_field(grain_seed_noise(300, 400, 0.01, seed=1), 300, 400)
    assert field.shape == (1, 1, 300, 400)
    assert float(field.std()) == pytest.approx(1.0, abs=0.15)


def test_strips_match_whole_image_processing(photo):
    finish = Finish(grain_amount=0.04, grain_size=0.01, vignette_amount=0.4, vignette_radius=0.3)
    whole = apply_finish(image_to_tensor(photo).unsqueeze(0), finish, seed=3)[0]
    strips = np.asarray(finish_image(photo, finish, seed=3, strip_rows=7), dtype=np.float64)
    assert np.abs(strips - whole.permute(1, 2, 0).numpy() * 255).max() <= 1.0


def test_out_of_range_parameters_are_refused():
    with pytest.raises(ValueError, match="grain_amount"):
        Finish(grain_amount=1.0)
    with pytest.raises(ValueError, match="vignette_amount"):
        Finish(vignette_amount=float("nan"))


def test_scaled_finish():
    finish = Finish(grain_amount=0.1, vignette_amount=0.8).scaled(1.5)
    assert finish.grain_amount == pytest.approx(0.15) and finish.vignette_amount == 1.0
    assert Finish(grain_amount=0.1).scaled(0.0).grain_amount == 0.0


def test_works_on_images_of_any_shape():
    for size in [(1, 1), (10000, 10), (3, 500)]:
        image = Image.new("RGB", size, (120, 130, 140))
        out = finish_image(image, Finish(grain_amount=0.05, vignette_amount=0.3))
        assert out.size == size
