import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab

from influgan.looks.finishing import (
    GRAIN_SLIDER_MAX,
    Finish,
    _resampling_gain,
    finish_image,
    grain_cells,
    grain_field,
    grain_tone_table,
    lstar_of_code,
    vignette_falloff,
)

ROOT = Path(__file__).resolve().parent.parent
MID_GREY = (119, 119, 119)  # L* 50


def lab(image: Image.Image) -> np.ndarray:
    return rgb2lab(np.asarray(image, dtype=np.float64) / 255.0)


def grain_of(image: Image.Image) -> np.ndarray:
    """Per-pixel L*, a*, b* deviations from the mean of a flat patch."""
    values = lab(image)
    return values - values.mean(axis=(0, 1))


def test_mid_grey_is_l_star_50():
    assert float(lstar_of_code(MID_GREY[0] / 255.0)) == pytest.approx(50.0, abs=0.3)


def test_zero_amounts_are_identity_even_with_other_settings(photo):
    assert finish_image(photo, Finish()) is photo
    finish = Finish(grain_amount=0.0, grain_size=0.005, grain_luma=1.0, vignette_amount=0.0, vignette_radius=0.1)
    assert finish_image(photo, finish) is photo


def test_applying_a_finish_does_not_import_torch():
    # torch made unimportable: any import of it on the way fails loudly
    code = (
        "import sys; sys.modules['torch'] = None; "
        "from influgan.looks import finishing; "
        "from PIL import Image; finish = finishing.Finish(grain_amount=5, vignette_amount=0.4); "
        "out = finishing.finish_image(Image.new('RGB', (300, 200), (90, 120, 200)), finish); "
        "del sys.modules['torch']; print(out.size, sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "(300, 200) []"


@pytest.mark.parametrize("amount", [1.0, 4.0, GRAIN_SLIDER_MAX])
def test_grain_amount_is_rms_of_l_star_on_mid_grey(amount):
    grey = Image.new("RGB", (900, 600), MID_GREY)
    out = finish_image(grey, Finish(grain_amount=amount, grain_size=0.01, grain_luma=0.5), seed=1)  # cells of 6 px
    assert grain_of(out)[..., 0].std() == pytest.approx(amount, rel=0.06)


@pytest.mark.parametrize("colour", [MID_GREY, (200, 40, 40), (30, 60, 200), (40, 160, 60), (200, 150, 120)])
def test_grain_is_luminance_not_colour_noise(colour):
    patch = Image.new("RGB", (400, 300), colour)
    deviation = grain_of(finish_image(patch, Finish(grain_amount=3.0, grain_size=0.005), seed=2))
    luma_rms = deviation[..., 0].std()
    chroma = deviation[..., 1:].reshape(-1, 2)
    assert luma_rms > 1.5
    # what chroma change there is follows the luminance grain (brighter spots a little paler, darker richer):
    # no colour noise of its own
    fit, *_ = np.linalg.lstsq(deviation[..., :1].reshape(-1, 1), chroma, rcond=None)
    independent = chroma - deviation[..., :1].reshape(-1, 1) @ fit
    assert np.sqrt((independent**2).sum(1).mean()) < 0.1 * luma_rms
    assert np.sqrt((chroma**2).sum(1).mean()) < 0.65 * luma_rms
    if colour in (MID_GREY, (200, 150, 120)):  # grey and skin: chroma all but untouched
        assert np.sqrt((chroma**2).sum(1).mean()) < 0.15 * luma_rms


def test_grain_follows_film_response_over_tone():
    levels = [0, 30, 60, 119, 200, 240, 255]
    patches = Image.fromarray(np.repeat(np.repeat(np.array(levels, np.uint8), 120)[None, :, None], 200, 0).repeat(3, 2))
    out = np.asarray(finish_image(patches, Finish(grain_amount=4.0, grain_size=0.01, grain_luma=1.0)), dtype=np.float64)
    rms = {level: lstar_of_code(out[:, i * 120 : (i + 1) * 120, 0] / 255.0).std() for i, level in enumerate(levels)}
    assert rms[0] == 0 and rms[255] == 0  # clipped black and white stay clean
    assert rms[60] > rms[200] > rms[240]  # film: most in the shadows and midtones, less in highlights
    assert rms[119] == pytest.approx(4.0, rel=0.1)
    even = np.asarray(finish_image(patches, Finish(grain_amount=4.0, grain_size=0.01, grain_luma=0.0)), dtype=np.float64)
    even_rms = [lstar_of_code(even[:, i * 120 : (i + 1) * 120, 0] / 255.0).std() for i in range(len(levels))]
    assert even_rms[0] == 0 and even_rms[-1] == 0
    assert all(rms == pytest.approx(4.0, rel=0.15) for rms in even_rms[2:5])


def test_grain_is_seeded(photo):
    finish = Finish(grain_amount=5.0, grain_size=0.01)
    first = np.asarray(finish_image(photo, finish, seed=7))
    assert np.array_equal(first, np.asarray(finish_image(photo, finish, seed=7)))
    assert not np.array_equal(first, np.asarray(finish_image(photo, finish, seed=8)))


def test_strips_and_threads_match_whole_image_processing():
    photo = Image.fromarray(np.random.default_rng(0).integers(40, 220, (301, 211, 3), dtype=np.uint8))
    finish = Finish(grain_amount=6.0, grain_size=0.01, vignette_amount=0.5, vignette_radius=0.3)
    whole = np.asarray(finish_image(photo, finish, seed=3, strip_rows=1000, threads=1), dtype=np.int16)
    for strip_rows, threads in [(7, 1), (7, 3), (64, 2)]:
        strips = np.asarray(finish_image(photo, finish, seed=3, strip_rows=strip_rows, threads=threads), dtype=np.int16)
        # Pillow's 8-bit resampling rounds a strip's grain levels now and then the other way: at most 1 code value
        assert np.abs(strips - whole).max() <= 1 and (strips != whole).mean() < 0.005


@pytest.mark.parametrize("size", [0.0005, 0.0015, 0.005])
def test_preview_shows_what_full_size_shows_downscaled(size):
    finish = Finish(grain_amount=6.0, grain_size=size)
    full = finish_image(Image.new("RGB", (2400, 1600), MID_GREY), finish, seed=4)
    preview = finish_image(Image.new("RGB", (600, 400), MID_GREY), finish, seed=5)
    downscaled = full.reduce(4)  # the average of each 4 × 4 block, as a pixel of the preview sees the grain
    for scale in (1, 2):  # and one step coarser, which tests the grain's spatial spectrum too
        a = np.asarray(downscaled.reduce(scale), dtype=np.float64)[..., 1].std()
        b = np.asarray(preview.reduce(scale), dtype=np.float64)[..., 1].std()
        assert b == pytest.approx(a, rel=0.12)


def test_grain_field_has_unit_variance_everywhere_no_grid():
    # cells of 25 px: interpolated noise is weaker between samples unless rescaled by position
    fields = np.stack([grain_field(250, 500, 0.1, seed=seed) for seed in range(40)])
    column_variance = fields.var(axis=(0, 1)).reshape(-1, 25).mean(0)  # by position within a cell
    row_variance = fields.var(axis=(0, 2)).reshape(-1, 25).mean(0)
    assert np.allclose(column_variance, 1.0, atol=0.1) and np.allclose(row_variance, 1.0, atol=0.1)


def test_resampling_gain_matches_pillow():
    noise = np.random.default_rng(0).standard_normal((4000, 9), dtype=np.float32)
    upsampled = np.asarray(Image.fromarray(noise, "F").resize((40, 4000), Image.Resampling.BICUBIC))
    assert np.allclose(upsampled.var(axis=0) * _resampling_gain(9, 40) ** 2, 1.0, atol=0.08)


def test_vignette_mixes_corners_towards_black_or_white():
    grey = Image.new("RGB", (300, 200), (100, 150, 200))
    dark = np.asarray(finish_image(grey, Finish(vignette_amount=0.5, vignette_radius=0.5)), dtype=np.float64)
    assert np.array_equal(dark[100, 150], [100, 150, 200])  # the centre is untouched
    assert np.allclose(dark[0, 0], [50, 75, 100], atol=4)  # the corner halfway to black
    light = np.asarray(finish_image(grey, Finish(vignette_amount=-0.5, vignette_radius=0.5)), dtype=np.float64)
    assert np.allclose(light[0, 0], [177, 202, 227], atol=4)  # halfway to white
    assert dark[:, 150].min() > dark[0, 0].min() and (np.diff(dark[100, :150, 0]) >= 0).all()  # falls off smoothly


@pytest.mark.parametrize("size, radius", [((300, 200), 0.95), ((1200, 800), 0.0), ((1200, 800), 0.6), ((20, 900), 0.5)])
def test_vignette_map_matches_the_exact_falloff(size, radius):
    image = Image.new("RGB", size, (200, 180, 160))
    rendered = np.asarray(finish_image(image, Finish(vignette_amount=-0.8, vignette_radius=radius)), dtype=np.float64)
    falloff = vignette_falloff(size[1], size[0], radius, np.arange(size[1]), np.arange(size[0]))[..., None]
    exact = 255.0 - (255.0 - np.array([200.0, 180.0, 160.0])) * (1.0 - 0.8 * falloff)  # towards white
    assert np.abs(rendered - exact).max() <= 2.0


def test_tone_table_scales_with_amount():
    assert np.allclose(grain_tone_table(6.0, 0.3), 2 * grain_tone_table(3.0, 0.3))
    assert grain_tone_table(4.0, 0.5)[MID_GREY[0]] == pytest.approx(4.0 * 255 / 101.0, rel=0.03)  # code values


def test_grain_cells_are_8_bit_noise():
    cells = np.asarray(grain_cells(300, 400, 0.01), dtype=np.float64)
    assert cells.shape == (100, 133) and abs(cells.mean() - 128) < 1 and cells.std() == pytest.approx(32, rel=0.05)


def test_grain_cells_of_a_big_photo_hold_no_float_noise_and_are_the_same_samples():
    """Per-pixel grain on a 12 MP photo: the cells (12 MB) are drawn in bands, so the peak is not 4 bytes of float
    noise a pixel on top (48 MB and more, three times over, before); the samples are those of one draw."""
    import tracemalloc

    tracemalloc.start()
    cells = grain_cells(3000, 4000, 0.00001, seed=3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert cells.size == (4000, 3000) and peak < 24 * 2**20, peak / 2**20
    noise = np.random.default_rng(3).standard_normal((300, 4000), dtype=np.float32)[-64:] * 32.0 + 128.5
    assert np.array_equal(np.asarray(cells)[236:300], np.clip(noise, 0, 255).astype(np.uint8))  # across a band edge


def test_out_of_range_parameters_are_refused():
    with pytest.raises(ValueError, match="grain_amount"):
        Finish(grain_amount=100.0)
    with pytest.raises(ValueError, match="vignette_amount"):
        Finish(vignette_amount=float("nan"))


def test_version_1_finish_converts_to_l_star():
    old = {"grain_amount": 0.025, "grain_size": 0.0015, "grain_luma": 0.5, "vignette_amount": 0.1, "vignette_radius": 0.6}
    finish = Finish.from_version(old, 1)
    assert finish.grain_amount == pytest.approx(2.5, rel=0.03) and finish.vignette_amount == 0.1
    assert Finish.from_version(old, 2).grain_amount == 0.025
    assert Finish.from_version({**old, "grain_amount": 0.2}, 1).grain_amount == Finish.RANGES["grain_amount"][1]
    with pytest.raises(ValueError, match="grain_amount"):
        Finish.from_version({**old, "grain_amount": 5.0}, 1)


def test_scaled_finish():
    finish = Finish(grain_amount=4.0, vignette_amount=0.8).scaled(1.5)
    assert finish.grain_amount == pytest.approx(6.0) and finish.vignette_amount == 1.0
    assert Finish(grain_amount=4.0).scaled(0.0).grain_amount == 0.0


def test_works_on_images_of_any_shape():
    for size in [(1, 1), (10000, 10), (3, 500), (2, 2)]:
        image = Image.new("RGB", size, (120, 130, 140))
        out = finish_image(image, Finish(grain_amount=5.0, vignette_amount=0.3))
        assert out.size == size and out.mode == "RGB"
    with pytest.raises(ValueError, match="RGB"):
        finish_image(Image.new("L", (5, 5)), Finish(grain_amount=1.0))


def test_look_files_from_before_the_l_star_unit_are_converted(tmp_path):
    import json

    from safetensors.torch import save

    from influgan.looks.look import Look
    from influgan.learning.lut_torch import identity_lut

    header = {"format": "influgan.look", "version": "0.1.0", "name": "Old grainy", "finish_fields": list(Finish().to_dict())}
    finish = torch.tensor([0.05, 0.002, 0.7, 0.3, 0.5])  # version 1: grain std 0.05 of the code range
    path = tmp_path / "old.look"
    path.write_bytes(save({"lut": identity_lut(9), "finish": finish}, metadata={"influgan": json.dumps(header)}))
    look = Look.load(path)
    assert look.finish.grain_amount == pytest.approx(5.05, rel=0.02) and look.finish.grain_luma == pytest.approx(0.7)
    look.save(tmp_path / "new.look")  # saved in the new unit, and read back as it is
    assert Look.load(tmp_path / "new.look").finish.grain_amount == pytest.approx(look.finish.grain_amount)
    grey = Image.new("RGB", (600, 400), MID_GREY)
    rendered = look.apply(grey, finish=Finish(grain_amount=look.finish.grain_amount, grain_size=0.01))
    assert grain_of(rendered)[..., 0].std() == pytest.approx(5.05, rel=0.08)


# --- the app's grain slider: a perceptual scale --------------------------------------------------------------------
def test_the_grain_slider_is_perceptual_and_round_trips():
    """Equal steps look like equal steps: the eye judges noise by ratio, so the amount goes as the slider's square
    (50 % is a quarter of 100 %'s RMS, not a heavy half); a learned amount lands where it looks right."""
    from influgan.looks.finishing import grain_from_slider, slider_from_grain

    assert grain_from_slider(0) == 0 and grain_from_slider(100) == GRAIN_SLIDER_MAX
    assert grain_from_slider(50) == pytest.approx(GRAIN_SLIDER_MAX / 4)
    steps = [grain_from_slider(s) for s in (25, 50, 100)]
    assert steps[1] / steps[0] == pytest.approx(steps[2] / steps[1])  # doubling the slider: the same ratio each time
    for percent in (0, 10, 37.5, 80, 100):
        assert slider_from_grain(grain_from_slider(percent)) == pytest.approx(percent)
    assert slider_from_grain(5.3) == pytest.approx(81.4, abs=0.1) and slider_from_grain(1.5 * GRAIN_SLIDER_MAX) == 100
    assert grain_from_slider(250) == GRAIN_SLIDER_MAX  # clamped
