import numpy as np
import pytest
import torch
from PIL import Image

from influgan.looks import lut as numpy_lut
from influgan.images import image_to_tensor
from influgan.looks.lut import apply_lut_image, check_lut
from influgan.learning.lut_torch import apply_lut, apply_lut_colours, blend_lut, identity_lut, resample_lut


def reference_trilinear(rgb: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Plain NumPy trilinear lookup of colours (N, 3) in a LUT indexed [b, g, r]: the reference implementation."""
    size = lut.shape[0]
    position = np.clip(rgb, 0, 1) * (size - 1)
    low = np.minimum(np.floor(position).astype(int), size - 2)
    frac = position - low
    out = np.zeros_like(rgb)
    for db in (0, 1):
        for dg in (0, 1):
            for dr in (0, 1):
                weight = (
                    (frac[:, 0] if dr else 1 - frac[:, 0])
                    * (frac[:, 1] if dg else 1 - frac[:, 1])
                    * (frac[:, 2] if db else 1 - frac[:, 2])
                )
                out += weight[:, None] * lut[low[:, 2] + db, low[:, 1] + dg, low[:, 0] + dr]
    return out


def random_lut(size: int = 9, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (identity_lut(size) + 0.15 * torch.randn(size, size, size, 3, generator=generator)).clamp(0, 1)


def test_identity_lut_layout():
    lut = identity_lut(5)
    assert lut.shape == (5, 5, 5, 3)
    flat = lut.reshape(-1, 3)
    assert torch.allclose(flat[1], torch.tensor([0.25, 0.0, 0.0]))  # red varies fastest
    assert torch.allclose(flat[5], torch.tensor([0.0, 0.25, 0.0]))
    assert torch.allclose(flat[25], torch.tensor([0.0, 0.0, 0.25]))


def test_identity_apply_returns_input():
    images = torch.rand(2, 3, 7, 5)
    assert torch.allclose(apply_lut(images, identity_lut(17)), images, atol=1e-6)


def test_apply_matches_reference_implementation():
    lut = random_lut(9)
    colours = torch.rand(500, 3, dtype=torch.float64)
    expected = reference_trilinear(colours.numpy(), lut.double().numpy())
    got = apply_lut_colours(colours.float(), lut).double().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(numpy_lut.apply_lut_colours(colours.numpy(), lut.numpy()), expected, atol=1e-6)


def test_numpy_and_torch_luts_agree():
    """The apply path (NumPy, no torch) and training (torch) share one layout and one set of operations."""
    np.testing.assert_array_equal(numpy_lut.identity_lut(7), identity_lut(7).numpy())
    lut = random_lut(9, seed=5)
    np.testing.assert_allclose(numpy_lut.resample_lut(lut.numpy(), 17), resample_lut(lut, 17).numpy(), atol=1e-6)
    np.testing.assert_allclose(numpy_lut.blend_lut(lut.numpy(), 0.6), blend_lut(lut, 0.6).numpy(), atol=1e-6)
    colours = np.random.default_rng(2).uniform(0, 1, (4, 25, 3))  # any leading shape, chunked or not
    np.testing.assert_allclose(
        numpy_lut.apply_lut_colours(colours, lut.numpy()), apply_lut_colours(torch.from_numpy(colours).float(), lut).numpy(), atol=1e-5
    )


def test_numpy_blend_keeps_entries_outside_the_unit_range():
    """Clamping happens after interpolation (in Pillow, OpenColorIO, ffmpeg), so entries are not clamped to 0..1."""
    lut = numpy_lut.identity_lut(5) * 1.3 - 0.1
    assert numpy_lut.blend_lut(lut, 1.0).max() == pytest.approx(1.2) and numpy_lut.blend_lut(lut, 1.0).min() == pytest.approx(-0.1)
    assert numpy_lut.blend_lut(numpy_lut.identity_lut(5) * 5, 1.5).max() == numpy_lut.ENTRY_MAX


def test_apply_batched_luts_and_shapes():
    images = torch.rand(2, 3, 4, 6)
    luts = torch.stack([identity_lut(5), 1 - identity_lut(5)])
    out = apply_lut(images, luts)
    assert out.shape == (2, 3, 4, 6)
    assert torch.allclose(out[0], images[0], atol=1e-6)
    assert torch.allclose(out[1], 1 - images[1], atol=1e-6)


def test_apply_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        apply_lut(torch.rand(3, 4, 4), identity_lut(5))
    with pytest.raises(ValueError, match=r"\(S, S, S, 3\)"):
        check_lut(torch.rand(5, 5, 4, 3))
    with pytest.raises(ValueError, match="NaN"):
        check_lut(torch.full((2, 2, 2, 3), float("nan")))
    with pytest.raises(ValueError, match="NaN"):
        check_lut(np.full((2, 2, 2, 3), np.inf))


def test_apply_is_differentiable():
    lut = random_lut(3).double().requires_grad_(True)
    images = torch.rand(1, 3, 2, 2, dtype=torch.float64) * 0.9 + 0.05
    assert torch.autograd.gradcheck(lambda table: apply_lut(images, table), (lut,))


def test_pillow_apply_agrees_with_torch_within_one_level():
    lut = random_lut(33, seed=3)
    array = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    image = Image.fromarray(array)
    fast = np.asarray(apply_lut_image(image, lut.numpy()), dtype=np.float64)
    exact = apply_lut(image_to_tensor(image).unsqueeze(0), lut)[0].permute(1, 2, 0).double().numpy() * 255
    assert np.abs(fast - exact).max() <= 1.0


def test_pillow_apply_in_strips_equals_single_pass():
    lut = random_lut(17, seed=4)
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (1100, 1000, 3), dtype=np.uint8))
    strips = np.asarray(apply_lut_image(image, lut.numpy(), threads=3))  # 1100 rows: strips of 512, 512 and 76
    single = np.asarray(apply_lut_image(image, lut.numpy(), threads=1))
    np.testing.assert_array_equal(strips, single)


def test_blend_strength():
    lut = random_lut(9)
    assert torch.allclose(blend_lut(lut, 0.0), identity_lut(9))
    assert torch.allclose(blend_lut(lut, 1.0), lut)
    half = blend_lut(lut, 0.5)
    assert torch.allclose(half, (lut + identity_lut(9)) / 2, atol=1e-6)
    assert blend_lut(lut, 1.5).min() >= 0 and blend_lut(lut, 1.5).max() <= 1
    with pytest.raises(ValueError, match="strength"):
        blend_lut(lut, 2.0)


def test_resample_keeps_affine_maps_exactly():
    affine = identity_lut(33) * 0.8 + 0.1
    small = resample_lut(affine, 17)
    assert small.shape == (17, 17, 17, 3)
    assert torch.allclose(resample_lut(small, 33), affine, atol=1e-5)


def test_apply_lut_colours_puts_each_row_through_its_own_lut():
    colours = torch.rand(2, 50, 3)
    looks = torch.stack([identity_lut(9), identity_lut(9).flip(-1)])  # identity; red and blue swapped
    out = apply_lut_colours(colours, looks)
    assert out.shape == (2, 50, 3)
    assert torch.allclose(out[0], colours[0], atol=1e-6) and torch.allclose(out[1], colours[1].flip(-1), atol=1e-6)


def test_pillow_apply_clamps_after_interpolation():
    """Entries beyond 0..1 (as imported .cube files hold) count in the interpolation; only the result is clamped."""
    lut = numpy_lut.identity_lut(3) * 1.6 - 0.3  # entries -0.3..1.3
    array = np.random.default_rng(3).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    fast = np.asarray(apply_lut_image(Image.fromarray(array), lut), dtype=np.float64)
    exact = np.clip(numpy_lut.apply_lut_colours(array / 255.0, lut), 0, 1) * 255
    assert np.abs(fast - exact).max() <= 1.0
    clamped_first = np.clip(numpy_lut.apply_lut_colours(array / 255.0, np.clip(lut, 0, 1)), 0, 1) * 255
    assert np.abs(clamped_first - exact).max() > 20  # what clamping entries first would have got wrong
