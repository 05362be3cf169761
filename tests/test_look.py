import json
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save

from influgan.looks.cube import CubeError, load_cube
from influgan.looks.finishing import Finish
from influgan.looks.look import Look, LookError
from influgan.looks.lut import apply_lut_colours, identity_lut
from influgan.learning.lut_torch import apply_lut


def warm_look() -> Look:
    lut = identity_lut() * np.float32([1.0, 0.9, 0.75]) + np.float32([0.0, 0.03, 0.02])
    return Look(lut=lut, finish=Finish(grain_amount=0.02, vignette_amount=0.3), name="Warm", metadata={"references": 12})


def test_round_trip(tmp_path):
    look = warm_look()
    look.save(tmp_path / "warm.look")
    loaded = Look.load(tmp_path / "warm.look")
    assert np.array_equal(loaded.lut, look.lut) and loaded.lut.dtype == np.float32
    assert loaded.finish.to_dict() == pytest.approx(look.finish.to_dict())
    assert loaded.name == "Warm"
    assert loaded.metadata["references"] == 12 and "created" in loaded.metadata and "version" in loaded.metadata


def test_cube_round_trip(tmp_path):
    look = warm_look()
    look.to_cube(tmp_path / "warm.cube")
    loaded = Look.load(tmp_path / "warm.cube")
    np.testing.assert_allclose(loaded.lut, look.lut, atol=1e-6)
    assert loaded.name == "Warm" and loaded.finish == Finish()


def test_cube_export_at_a_strength_and_size(tmp_path):
    look = warm_look()
    look.to_cube(tmp_path / "half.cube", size=17, strength=0.5)
    lut, _ = load_cube(tmp_path / "half.cube")
    colours = np.random.default_rng(0).uniform(0, 1, (300, 3))
    half = (colours + apply_lut_colours(colours, look.lut)) / 2
    np.testing.assert_allclose(apply_lut_colours(colours, lut), half, atol=2e-3)
    assert "colour only" in (tmp_path / "half.cube").read_text().splitlines()[0]


@pytest.mark.parametrize("level", [2, 8, 12])
def test_hald_round_trip(tmp_path, level):
    look = warm_look()
    look.to_hald(tmp_path / "warm.png", level=level, strength=0.8)
    side = level**3
    assert Image.open(tmp_path / "warm.png").size == (side, side)
    loaded = Look.load(tmp_path / "warm.png")
    assert loaded.lut.shape[0] == min(level**2, 65) and loaded.name == "warm" and loaded.finish == Finish()
    colours = np.random.default_rng(1).uniform(0, 1, (300, 3))
    expected = apply_lut_colours(colours, look.colour_lut(0.8))
    tolerance = 0.5 / 255 + (0.02 if level == 2 else 1e-3)  # 8-bit entries; level 2 is a 4³ cube of a curved look
    assert np.abs(apply_lut_colours(colours, loaded.lut) - expected).max() < tolerance


def test_identity_hald_made_independently_reads_as_identity(tmp_path):
    """A Hald as darktable or G'MIC makes it: red fastest, then green, then blue, row by row."""
    level = 4
    axis = np.round(np.linspace(0, 255, level**2)).astype(np.uint8)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    Image.fromarray(np.stack([r, g, b], -1).reshape(level**3, level**3, 3)).save(tmp_path / "identity.png")
    np.testing.assert_allclose(Look.load(tmp_path / "identity.png").lut, identity_lut(16), atol=0.5 / 255)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: Image.new("RGB", (500, 500)).save(p), r"is 500×500 px: a Hald CLUT is a square of 8, 27, 64"),
        (lambda p: Image.new("RGB", (512, 64)).save(p), "is 512×64 px"),
        (lambda p: p.write_bytes(b"not a png"), "is not a readable PNG image"),
        (lambda p: p.write_bytes(b""), "is not a readable PNG image"),
    ],
)
def test_bad_hald_files(tmp_path, make, message):
    path = tmp_path / "clut.png"
    make(path)
    with pytest.raises(LookError, match=f"^clut.png {message}"):
        Look.load(path)


def test_strength_zero_is_identity(photo):
    out = warm_look().apply(photo, strength=0.0)
    assert np.array_equal(np.asarray(out), np.asarray(photo))


def test_apply_changes_colours_and_keeps_size(photo):
    out = warm_look().apply(photo, strength=1.0)
    assert out.size == photo.size and out.mode == "RGB"
    assert np.asarray(out, dtype=float)[..., 2].mean() < np.asarray(photo, dtype=float)[..., 2].mean() - 10


def test_apply_matches_tensor_reference_without_finish(photo):
    look = Look(lut=warm_look().lut)
    fast = np.asarray(look.apply(photo, 0.7), dtype=float)
    tensor = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    exact = apply_lut(tensor, torch.from_numpy(look.colour_lut(0.7)))[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(fast - exact).max() <= 1.0


def test_lut_from_a_torch_tensor_becomes_numpy():
    look = Look(lut=torch.ones(3, 3, 3, 3) * 0.5)
    assert isinstance(look.lut, np.ndarray) and look.lut.dtype == np.float32 and look.lut.shape == (3, 3, 3, 3)


def test_alpha_is_kept(photo):
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.new("L", photo.size, 77))
    out = warm_look().apply(rgba)
    assert out.mode == "RGBA" and out.getchannel("A").getextrema() == (77, 77)


def test_pickle_renamed_to_look_is_refused_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pwned')",))

    path = tmp_path / "evil.look"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(LookError, match="not an InfluGAN look file"):
        Look.load(path)


def safetensors_bytes(tensors, meta=None):
    return save(tensors, metadata={"influgan": json.dumps(meta or {"format": "influgan.look", "name": "x"})})


@pytest.mark.parametrize(
    "tensors, message",
    [
        ({"lut": torch.zeros(5, 5, 4, 3), "finish": torch.zeros(5)}, "must be float32"),
        ({"lut": torch.zeros(1, 1, 1, 3), "finish": torch.zeros(5)}, "must be float32"),
        ({"lut": torch.zeros(5, 5, 5, 3, dtype=torch.float64), "finish": torch.zeros(5)}, "must be float32"),
        ({"lut": torch.zeros(5, 5, 5, 3), "finish": torch.zeros(4)}, "finish tensor"),
        ({"lut": torch.full((5, 5, 5, 3), float("nan")), "finish": torch.zeros(5)}, "NaN"),
        ({"lut": torch.full((5, 5, 5, 3), 7.0), "finish": torch.zeros(5)}, r"within -1\.\.2"),
        ({"lut": torch.zeros(5, 5, 5, 3), "finish": torch.tensor([5.0, 0, 0, 0, 0])}, "grain_amount"),
        ({"finish": torch.zeros(5)}, "lacks"),
    ],
)
def test_malformed_look_files(tensors, message):
    with pytest.raises(LookError, match=message):
        Look.from_bytes(safetensors_bytes(tensors))


def test_foreign_safetensors_and_garbage():
    with pytest.raises(LookError, match="no look metadata"):
        Look.from_bytes(save({"weight": torch.zeros(3)}))
    with pytest.raises(LookError, match="too short"):
        Look.from_bytes(b"abc")
    with pytest.raises(LookError, match="bad safetensors header"):
        Look.from_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(LookError, match="bad safetensors header"):
        Look.from_bytes(struct.pack("<Q", 2) + b"[]")


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.look"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(LookError, match="at most"):
        Look.load(path)


@pytest.mark.parametrize(
    "meta, message",
    [
        ('{"format": "influgan.look", "name": "x", "references": ' + "9" * 5000 + "}", "metadata is malformed"),
        ('{"format": "influgan.look", "name": "x", "seconds": NaN}', "metadata is malformed"),
        ('{"format": "influgan.look", "name": "x", "seconds": 1e999}', "metadata is malformed"),
        ('{"format": "influgan.look", "name": "x", "seconds": "soon"}', "'seconds' must be a number"),
        ('{"format": "influgan.look", "name": "x", "references": -3}', "'references' must be a number"),
        ('{"format": "influgan.look", "name": {"html": 1}}', "name must be text"),
    ],
)
def test_hostile_metadata_gives_a_one_line_look_error(meta, message):
    data = save({"lut": torch.zeros(3, 3, 3, 3), "finish": torch.zeros(5)}, metadata={"influgan": meta})
    with pytest.raises(LookError, match=message) as error:
        Look.from_bytes(data, "x.look")
    assert "\n" not in str(error.value) and str(error.value).startswith("x.look")


def test_huge_integer_in_the_safetensors_header():
    header = b'{"lut": {"dtype": "F32", "shape": [' + b"9" * 5000 + b', 3, 3, 3], "data_offsets": [0, 1]}}'
    with pytest.raises(LookError, match="bad safetensors header"):
        Look.from_bytes(struct.pack("<Q", len(header)) + header, "x.look")


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/zero.cube"])
def test_endless_files_are_read_up_to_the_cap(tmp_path, path):
    """/dev/zero says it holds 0 bytes; reading stops at the cap by bytes read (a .look, and a .cube by its lines)."""
    if path.endswith(".cube"):
        (tmp_path / "zero.cube").symlink_to("/dev/zero")
        path = tmp_path / "zero.cube"
    with pytest.raises((LookError, CubeError), match="over 4 MB|longer than"):
        Look.load(path)


def test_a_look_at_a_strength_and_finish_renders_as_the_original_did(photo):
    """``Look.at``: what "Download this look" saves; applied at 1 it is the look applied at the strength and finish."""
    look, finish = warm_look(), Finish(grain_amount=4.0, vignette_amount=-0.5)
    baked = look.at(0.75, finish)
    assert baked.finish.grain_amount == pytest.approx(3.0) and baked.finish.vignette_amount == pytest.approx(-0.375)
    assert np.array_equal(np.asarray(baked.apply(photo, seed=3)), np.asarray(look.apply(photo, strength=0.75, finish=finish, seed=3)))
    assert baked.metadata["baked_strength"] == 0.75 and np.array_equal(look.at().lut, look.lut)


# --- the painterly stage --------------------------------------------------------------------------------------
from influgan.looks.painterly import Brushwork, render_brushwork  # noqa: E402


def _painted_photo() -> Image.Image:
    from pathlib import Path

    return Image.open(Path(__file__).resolve().parent.parent / "examples" / "content" / "chelsea.jpg").convert("RGB").resize((200, 133))


def test_brushwork_round_trip_and_old_files_load_without_it(tmp_path):
    look = warm_look()
    look.brushwork = Brushwork("watercolour", {"wash": 0.012, "paper": 0.7}, "before")
    look.save(tmp_path / "painted.look")
    loaded = Look.load(tmp_path / "painted.look")
    assert loaded.brushwork == look.brushwork and "brushwork" not in loaded.metadata
    warm_look().save(tmp_path / "plain.look")  # a look without brushwork, as every look before it was written
    assert Look.load(tmp_path / "plain.look").brushwork is None
    loaded.brushwork = None  # a look that loses its brushwork saves without it
    loaded.save(tmp_path / "again.look")
    assert Look.load(tmp_path / "again.look").brushwork is None


def test_apply_paints_before_or_after_the_colour_and_brushwork_zero_is_colour_only():
    photo = _painted_photo()
    plain = warm_look()
    painted = Look(lut=plain.lut, finish=Finish(), brushwork=Brushwork("ink", {"colour": 1.0}, "after"))
    colour_only = np.asarray(Look(lut=plain.lut).apply(photo))
    assert np.array_equal(np.asarray(painted.apply(photo, brushwork=0.0)), colour_only)
    after = np.asarray(painted.apply(photo))
    assert np.array_equal(after, render_brushwork(colour_only, painted.brushwork))  # colour, then the ink
    before = Look(lut=plain.lut, brushwork=Brushwork("ink", {"colour": 1.0}, "before")).apply(photo)
    assert np.array_equal(np.asarray(before), np.asarray(Look(lut=plain.lut).apply(Image.fromarray(render_brushwork(np.asarray(photo), painted.brushwork)))))
    assert np.abs(after.astype(int) - colour_only).mean() > 5


def test_a_painted_look_keeps_alpha_and_size_and_refuses_a_bad_amount(photo):
    look = Look(brushwork=Brushwork("halftone"))
    rgba = photo.convert("RGBA")
    out = look.apply(rgba, brushwork=1.5)
    assert out.mode == "RGBA" and out.size == photo.size
    with pytest.raises(ValueError, match="brushwork must be within 0..1.5"):
        look.apply(photo, brushwork=1.6)


@pytest.mark.parametrize(
    "brushwork, message",
    [
        ('"oil"', "brushwork must be a mapping"),
        ('{"style": "fresco"}', "unknown brushwork style 'fresco'"),
        ('{"style": "oil", "params": {"brush": 9}}', "oil brushwork brush must be within"),
        ('{"style": "oil", "params": {"brush": "<b>"}}', "must be a number"),
        ('{"style": "oil", "order": "sideways"}', "order must be 'before' or 'after'"),
    ],
)
def test_bad_brushwork_in_a_look_file_is_a_one_line_look_error(brushwork, message):
    meta = '{"format": "influgan.look", "name": "x", "brushwork": ' + brushwork + "}"
    data = save({"lut": torch.zeros(3, 3, 3, 3), "finish": torch.tensor([0.0, 0.0015, 0.5, 0.0, 0.6])}, metadata={"influgan": meta})
    with pytest.raises(LookError, match=message) as error:
        Look.from_bytes(data, "x.look")
    assert "\n" not in str(error.value) and str(error.value).startswith("x.look")


def test_brushwork_with_apply_to_background_leaves_the_person_as_shot():
    """The subject blend takes the original photo where it protects, not the painted one."""
    from pathlib import Path

    photo = Image.open(Path(__file__).resolve().parent.parent / "examples" / "content" / "astronaut.jpg").convert("RGB")
    look = Look(brushwork=Brushwork("cartoon"))
    painted = np.asarray(look.apply(photo), dtype=np.int16)
    background = np.asarray(look.apply(photo, apply_to="background"), dtype=np.int16)
    original = np.asarray(photo, dtype=np.int16)
    cheek, wall = (slice(100, 130), slice(180, 200)), (slice(20, 80), slice(330, 400))
    assert np.abs(background[cheek] - original[cheek]).mean() < 4 < np.abs(painted[cheek] - original[cheek]).mean()
    assert np.abs(background[wall] - painted[wall]).mean() < 2


def test_a_look_baked_at_a_brushwork_amount_and_protect_skin_renders_as_set(tmp_path):
    """What "Download this look" saves: the Brushwork slider's amount and Protect skin travel in the .look."""
    photo = _painted_photo()
    look = Look(lut=warm_look().lut, brushwork=Brushwork("ink", {"colour": 1.0}, "after"))
    baked = look.at(1.0, brushwork=0.6, protect_skin=0.5)
    baked.save(tmp_path / "baked.look")
    loaded = Look.load(tmp_path / "baked.look")
    assert loaded.brushwork.amount == pytest.approx(0.6) and loaded.default_protect_skin() == 0.5
    expected = np.asarray(look.apply(photo, brushwork=0.6, protect_skin=0.0))
    assert np.array_equal(np.asarray(loaded.apply(photo, protect_skin=0.0)), expected)
    assert not np.array_equal(expected, np.asarray(look.apply(photo, protect_skin=0.0)))  # 0.6 is not the full stage
    assert look.at(1.0, brushwork=0.0).brushwork is None  # the slider at 0: colour only
    assert look.at(1.0, brushwork=1.5).at(1.0, brushwork=1.5).brushwork.amount == 1.5  # capped, never past the range
    assert Brushwork.from_dict({"style": "ink"}).amount == 1.0 and "amount" not in Brushwork("ink").to_dict()
    with pytest.raises(ValueError, match="brushwork amount must be within"):
        Brushwork("ink", amount=0.0)
