"""The painterly renderers (NumPy product render): shapes, determinism, amounts, strips without seams, size
invariance, validation of the parameters."""
import numpy as np
import pytest
from PIL import Image

from influgan.looks import painterly
from influgan.looks.painterly import STYLES, Brushwork, noise_field, render_brushwork


from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "content" / "chelsea.jpg"


def _rgb(seed: int = 0, size=(120, 90)) -> np.ndarray:
    """A real photo (edges, fur, texture) cropped by seed, at ``size``."""
    with Image.open(EXAMPLE) as image:
        image = image.convert("RGB")
        left = (seed * 37) % (image.width - image.height * size[0] // size[1] + 1)
        return np.asarray(image.resize(size, Image.Resampling.BOX, box=(left, 0, left + image.height * size[0] / size[1], image.height)))


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_renders_an_image_of_the_same_shape_that_differs_from_the_photo(style):
    rgb = _rgb(0, (240, 180))
    out = render_brushwork(rgb, Brushwork(style))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() > 2.0  # the style does something visible
    assert out.std() > 5.0  # and not a flat image


@pytest.mark.parametrize("style", list(STYLES))
def test_same_seed_same_render(style):
    rgb = _rgb(1)
    first = render_brushwork(rgb, Brushwork(style), seed=3)
    assert np.array_equal(first, render_brushwork(rgb.copy(), Brushwork(style), seed=3))


def test_the_seed_moves_the_paper_and_bristles():
    rgb = _rgb(2)
    assert not np.array_equal(render_brushwork(rgb, Brushwork("watercolour"), seed=0), render_brushwork(rgb, Brushwork("watercolour"), seed=1))


@pytest.mark.parametrize("style", list(STYLES))
def test_amount_zero_is_the_photo_and_amounts_scale_the_change(style):
    rgb = _rgb(3)
    brushwork = Brushwork(style)
    assert np.array_equal(render_brushwork(rgb, brushwork, amount=0.0), rgb)
    full = np.abs(render_brushwork(rgb, brushwork, amount=1.0).astype(int) - rgb).mean()
    half = np.abs(render_brushwork(rgb, brushwork, amount=0.5).astype(int) - rgb).mean()
    more = np.abs(render_brushwork(rgb, brushwork, amount=1.5).astype(int) - rgb).mean()
    assert 0.4 * full < half < 0.6 * full and more > 1.1 * full


@pytest.mark.parametrize("style", list(STYLES))
def test_strips_join_without_seams(style, monkeypatch):
    """Above the working size the detail pass goes strip by strip; the strips' size must not show."""
    monkeypatch.setattr(painterly, "WORK_SIDE", 48)  # a small photo takes the large-photo path
    rgb = _rgb(4, (130, 100))
    brushwork = Brushwork(style, {"line_width": 0.004} if "line_width" in STYLES[style].params else {})
    whole = render_brushwork(rgb, brushwork, strip_pixels=10**9)
    strips = render_brushwork(rgb, brushwork, strip_pixels=130 * 9, threads=2)  # 9-row strips, in two threads
    difference = np.abs(whole.astype(int) - strips)
    assert difference.max() <= 2 and difference.mean() < 0.05


@pytest.mark.parametrize("style", ["oil", "watercolour", "cartoon", "halftone"])
def test_large_photo_path_follows_the_native_render(style, monkeypatch):
    """The working-size shortcut (core smaller, detail at full size) looks like rendering the whole at full size."""
    rgb = _rgb(5, (160, 120))
    native = render_brushwork(rgb, Brushwork(style)).astype(float)
    monkeypatch.setattr(painterly, "WORK_SIDE", 80)
    shortcut = render_brushwork(rgb, Brushwork(style)).astype(float)
    blur = lambda a: np.asarray(Image.fromarray(a.astype(np.uint8)).resize((40, 30), Image.Resampling.BOX), float)
    change = np.abs(blur(native) - blur(rgb.astype(float))).mean()
    assert np.abs(blur(shortcut) - blur(native)).mean() < 0.5 * change + 2.0


@pytest.mark.parametrize("style", ["oil", "watercolour", "cartoon", "ink"])
def test_a_preview_looks_like_the_full_size_render_scaled_down(style):
    """Sizes are fractions of the shorter side: the render of a half-size photo ≈ the full render halved."""
    brushwork = Brushwork(style, {"brush": 0.02} if style == "oil" else {})  # strokes several pixels wide at both sizes
    big = Image.fromarray(_rgb(6, (720, 540)))
    small = big.resize((360, 270), Image.Resampling.BOX)
    rendered_big = Image.fromarray(render_brushwork(np.asarray(big), brushwork))
    rendered_small = Image.fromarray(render_brushwork(np.asarray(small), brushwork))
    view = lambda image: np.asarray(image.resize((180, 135), Image.Resampling.BOX), float)  # strokes, not bristles
    difference = np.abs(view(rendered_big) - view(rendered_small)).mean()
    change = np.abs(view(rendered_small) - view(small)).mean()
    assert difference < 0.6 * change


def test_noise_is_anchored_to_the_photo_not_the_strip():
    whole = noise_field((90, 120), (90, 120), 0, 90, "paper", 0.02, seed=1)
    parts = np.concatenate([noise_field((90, 120), (90, 120), top, 30, "paper", 0.02, seed=1) for top in (0, 30, 60)], axis=1)
    assert whole.shape == (1, 90, 120)
    assert np.allclose(whole, parts, atol=1e-5)
    assert 0.3 < whole.std() < 1.5
    half = noise_field((90, 120), (45, 60), 0, 45, "paper", 0.02, seed=1)  # the same field at half size
    blocks = whole[0].reshape(45, 2, 60, 2).mean(axis=(1, 3))
    assert np.corrcoef(half[0].ravel(), blocks.ravel())[0, 1] > 0.9


def test_brushwork_takes_defaults_and_round_trips_through_a_dict():
    brushwork = Brushwork("oil", {"brush": 0.02}, "before")
    assert brushwork.params == {**STYLES["oil"].defaults(), "brush": 0.02}
    assert Brushwork.from_dict(brushwork.to_dict()) == brushwork
    assert Brushwork.from_dict({"style": "ink"}).order == "after"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Brushwork("fresco"), "unknown brushwork style 'fresco'"),
        (lambda: Brushwork("oil", {"brsh": 0.01}), "oil brushwork has no parameter 'brsh'"),
        (lambda: Brushwork("oil", {"brush": 0.5}), "oil brushwork brush must be within 0.002..0.03, got 0.5"),
        (lambda: Brushwork("oil", {"brush": float("nan")}), "brush must be within"),
        (lambda: Brushwork("oil", {"brush": "big"}), "oil brushwork brush must be a number"),
        (lambda: Brushwork("oil", {"brush": True}), "must be a number"),
        (lambda: Brushwork("oil", order="during"), "brushwork order must be 'before' or 'after'"),
        (lambda: Brushwork.from_dict([1, 2]), "brushwork must be a mapping"),
        (lambda: Brushwork.from_dict({"style": "oil", "colour": 1}), "brushwork has unknown field 'colour'"),
        (lambda: Brushwork.from_dict({"style": "oil", "params": [0.1]}), "params must be a mapping"),
        (lambda: render_brushwork(_rgb(), Brushwork("oil"), amount=2.0), "amount must be within 0..1.5"),
        (lambda: render_brushwork(_rgb()[..., :2], Brushwork("oil")), "needs an (H, W, 3) uint8 image"),
        (lambda: render_brushwork(_rgb(), {"style": "oil"}), "needs a Brushwork"),
    ],
)
def test_bad_brushwork_is_a_one_line_value_error(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_every_parameter_is_documented_with_its_default_inside_its_range():
    for style in STYLES.values():
        assert 3 <= len(style.params) <= 6 and style.doc
        for name, param in style.params.items():
            assert param.low <= param.default <= param.high and param.doc, (style.name, name)
