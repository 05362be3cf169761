import numpy as np
import pytest
from conftest import synthetic_photo
from PIL import Image

from influgan.learning.fingerprint import fingerprint, kmeans, render_fingerprint, render_histograms, render_palette


def test_smoke_and_shapes(photos):
    print_ = fingerprint(photos, colours=5, bins=32)
    assert print_.palette.shape == (5, 3) and print_.shares.shape == (5,)
    assert print_.shares.sum() == pytest.approx(1.0) and (print_.shares[:-1] >= print_.shares[1:]).all()
    for histogram in (print_.luma, print_.red, print_.green, print_.blue):
        assert histogram.shape == (32,) and histogram.sum() == pytest.approx(1.0)
    assert print_.images == len(photos)


def test_known_colours():
    red, blue = Image.new("RGB", (64, 64), (255, 0, 0)), Image.new("RGB", (64, 32), (0, 0, 255))
    print_ = fingerprint([red, red, blue], colours=2)
    assert np.allclose(print_.palette[0], [1.0, 0.0, 0.0], atol=1e-4)  # red: 2 of 3 photos
    assert np.allclose(print_.palette[1], [0.0, 0.0, 1.0], atol=1e-4)
    assert print_.shares[0] == pytest.approx(2 / 3, abs=1e-3)
    assert print_.red[-1] == pytest.approx(2 / 3, abs=1e-3) and print_.blue[-1] == pytest.approx(1 / 3, abs=1e-3)


def test_kmeans_is_deterministic_and_separates():
    points = np.concatenate([np.zeros((50, 3)), np.ones((50, 3))]) + 0.01 * np.random.default_rng(0).standard_normal((100, 3))
    centres, labels = kmeans(points, 2, seed=1)
    again, _ = kmeans(points, 2, seed=1)
    assert np.array_equal(centres, again)
    assert len(set(labels[:50])) == 1 and len(set(labels[50:])) == 1 and labels[0] != labels[-1]
    single, _ = kmeans(np.full((10, 3), 0.5), 4)  # fewer distinct colours than clusters
    assert single.shape[0] >= 1 and np.allclose(single[0], 0.5)


def test_rendering(photos):
    palette, histograms = render_fingerprint(photos)
    assert palette.mode == "RGB" and palette.size == (640, 120)
    assert histograms.mode == "RGB" and histograms.size == (640, 200)
    print_ = fingerprint(photos, colours=3)
    image = render_palette(print_, width=300, height=50)
    assert image.size == (300, 50)
    assert image.getpixel((2, 10)) == tuple(int(round(float(v) * 255)) for v in print_.palette[0])
    assert render_histograms(print_, width=200, height=100).size == (200, 100)


def test_exceptions():
    with pytest.raises(ValueError, match="at least one"):
        fingerprint([])
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        kmeans(np.zeros((0, 3)), 2)


def test_fingerprint_counts_usable_posts_and_says_whether_more_would_help():
    varied = fingerprint([synthetic_photo(seed, (64, 48)) for seed in range(8)])
    assert varied.advice().startswith("8 usable posts.") and "Add posts" in varied.advice() and "alike" not in varied.advice()
    alike = fingerprint([synthetic_photo(1, (64, 48))] * 8)  # one scene eight times
    assert alike.spread < 1.0 and "alike" in alike.advice()
    many = fingerprint([synthetic_photo(seed, (32, 24)) for seed in range(20)])
    assert "change little" in many.advice()
