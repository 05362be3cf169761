"""The direct reading of a feed's finishing (finish_estimate) on synthetic feeds saved as social apps save them."""
import io

import numpy as np
import pytest
from PIL import Image

from influgan import Finish, Look
from influgan.learning import finish_estimate
from influgan.learning.finish_estimate import estimate_finish, read_texture, remove_vignette


def scene(seed: int, size=(720, 480)) -> Image.Image:
    """A smooth photo-like scene (sky-to-ground gradient, soft blobs, one sharp edge), no noise of its own."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width]).reshape(2, 1, 1)
    image = rng.uniform(0.3, 0.8, 3) * (1 - y[..., None]) + rng.uniform(0.15, 0.6, 3) * y[..., None]
    for _ in range(3):
        cx, cy, radius = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.1, 0.25)]
        weight = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / radius**2)[..., None]
        image = image * (1 - weight) + rng.uniform(0.2, 0.8, 3) * weight
    image[int(height * rng.uniform(0.5, 0.8)) :, : int(width * 0.3)] *= 0.7  # a hard edge, as scenes have
    return Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def jpeg_feed(finish: Finish, count: int = 8, quality: int = 80) -> list[Image.Image]:
    """Scenes with ``finish`` (grain seeded per photo), saved as JPEGs and opened again (their tables kept)."""
    out = []
    for index in range(count):
        buffer = io.BytesIO()
        Look(finish=finish).apply(scene(index), seed=index).save(buffer, "JPEG", quality=quality)
        out.append(Image.open(io.BytesIO(buffer.getvalue())))
    return out


@pytest.fixture(autouse=True)
def no_lens_falloff(monkeypatch):
    """The synthetic scenes have no lens falloff: read them against a flat baseline instead of ordinary photos'."""
    flat = {"black": np.zeros(finish_estimate.RADIAL_BINS), "white": np.zeros(finish_estimate.RADIAL_BINS)}
    monkeypatch.setattr(finish_estimate, "load_natural_texture", lambda: flat)


def read(finish: Finish, **kwargs) -> Finish:
    return estimate_finish([read_texture(image) for image in jpeg_feed(finish, **kwargs)]).finish


@pytest.mark.parametrize("amount, size", [(4.0, 0.002), (3.0, 0.006)])
def test_grain_amount_and_size_are_read_through_jpeg(amount, size):
    learned = read(Finish(grain_amount=amount, grain_size=size))
    assert learned.grain_amount == pytest.approx(amount, rel=0.25)
    assert learned.grain_size == pytest.approx(size, rel=0.3)
    assert learned.vignette_amount == 0.0


def test_a_vignette_is_read_and_the_grain_under_it_too():
    learned = read(Finish(grain_amount=4.0, grain_size=0.003, vignette_amount=0.4, vignette_radius=0.5))
    assert learned.vignette_amount == pytest.approx(0.4, abs=0.06)
    assert learned.vignette_radius == pytest.approx(0.5, abs=0.12)
    assert learned.grain_amount == pytest.approx(4.0, rel=0.25)  # corners' grain is dimmed by the vignette, not read as less


def test_a_vignette_towards_white_is_read_as_negative():
    learned = read(Finish(vignette_amount=-0.35, vignette_radius=0.5))
    assert learned.vignette_amount == pytest.approx(-0.35, abs=0.07)


def test_a_plain_feed_reads_no_finish():
    learned = read(Finish())
    assert learned.grain_amount == 0.0 and learned.vignette_amount == 0.0


def test_grain_below_visibility_is_none_but_its_reading_is_kept():
    reading = estimate_finish([read_texture(image) for image in jpeg_feed(Finish(grain_amount=0.6, grain_size=0.004))])
    assert 0.0 < reading.grain_read < finish_estimate.GRAIN_VISIBLE and reading.finish.grain_amount == 0.0


def test_thumbnails_are_too_small_to_read_a_finish_from():
    finish = Finish(grain_amount=5.0, grain_size=0.004, vignette_amount=0.4)
    images = []
    for index in range(6):
        buffer = io.BytesIO()
        Look(finish=finish).apply(scene(index, (450, 300)), seed=index).save(buffer, "JPEG", quality=80)
        images.append(Image.open(io.BytesIO(buffer.getvalue())))
    reading = estimate_finish([read_texture(image) for image in images])
    assert reading.too_small and reading.finish == Finish()


def test_without_jpeg_tables_the_grain_is_read_as_pixels_show_it():
    images = [Image.fromarray(np.asarray(image)) for image in jpeg_feed(Finish(grain_amount=4.0, grain_size=0.006), quality=95)]
    textures = [read_texture(image) for image in images]
    assert all(t.qtable is None for t in textures)
    assert estimate_finish(textures).finish.grain_amount == pytest.approx(4.0, rel=0.3)


def test_a_big_photo_is_read_shrunk_and_without_its_tables(tmp_path):
    path = tmp_path / "big.jpg"
    scene(0, (2400, 1600)).save(path, quality=80)
    texture = read_texture(path)
    assert texture.short_side == round(1600 * finish_estimate.TEXTURE_SIDE / 2400) and texture.qtable is None
    small = tmp_path / "small.jpg"
    scene(0).save(small, quality=80)
    assert read_texture(small).qtable is not None


def test_remove_vignette_undoes_the_vignette():
    image = scene(3)
    for amount in (0.4, -0.4):
        vignetted = Look(finish=Finish(vignette_amount=amount, vignette_radius=0.4)).apply(image)
        restored = np.asarray(remove_vignette(vignetted, amount, 0.4), dtype=int)
        assert np.abs(restored - np.asarray(image, dtype=int)).mean() < 1.0
    assert remove_vignette(image, 0.0, 0.5) is image
