"""What the public sends: bombs, huge and tiny photos, odd modes, hostile look and .cube files, absurd feeds.

Through the package API and the command line; the same inputs through the app are in test_app_hostile.py, and
simpler cases (empty, HTML, truncated, CMYK, EXIF 1–8, …) in test_images.py, test_cube.py and test_look.py.
Each case checks the message names the file and says what is wrong, and that nothing else is lost.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import png_bytes, synthetic_photo
from influgan import FinetuneSettings, Look, finetune
from influgan.looks.cube import MAX_CUBE_BYTES, MAX_CUBE_LINES, CubeError, load_cube, parse_cube
from influgan.looks.finishing import Finish
from influgan.images import ImageError, load_image, load_training_image, open_image
from influgan.looks.look import LookError
from influgan.learning.lut_torch import identity_lut

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "influgan", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def grainy_look() -> Look:
    return Look(lut=identity_lut() * torch.tensor([1.0, 0.9, 0.7]), finish=Finish(grain_amount=0.05, vignette_amount=0.3), name="warm")


# --- huge images ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "size, message",
    [
        ((20000, 20000), "bomb.png: 400 megapixels; the limit is 100 megapixels"),  # Pillow refuses it outright
        ((12000, 10000), "bomb.png: 12000×10000 is 120 megapixels; the limit is 100 megapixels"),  # Pillow only warns
    ],
)
def test_decompression_bomb_is_refused_from_its_header(tmp_path, size, message):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(*size, bit_depth=1, colour_type=0))
    assert path.stat().st_size < 60_000  # tiny file, gigabytes once decoded
    started = time.perf_counter()
    with pytest.raises(ImageError) as error:
        load_image(path)
    assert str(error.value) == message and time.perf_counter() - started < 1.0


def test_just_under_the_cap_is_allowed(tmp_path):
    """Pillow's own warning starts at 89 MP; our cap of 100 MP is the one that counts."""
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(10000, 9500, bit_depth=1, colour_type=0))
    with open_image(path) as image:
        assert image.size == (10000, 9500)


MEMORY_PROBE = """
import resource, sys, torch
from influgan import Look, load_image, save_image
from influgan.images import load_training_image
from influgan.looks.lut import identity_lut
torch.set_num_threads(2)
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = peak()
thumb = load_training_image(sys.argv[1], 1024)
after_thumb = peak()
photo = load_image(sys.argv[1])
save_image(Look(lut=identity_lut() ** 1.2).apply(photo), sys.argv[2])
print(thumb.size[0], thumb.size[1], photo.size[0], photo.size[1], after_thumb - base, peak() - base)
"""


def test_48_mp_photo_works_in_bounded_memory(tmp_path):
    """A 48 MP phone photo (8000×6000, EXIF-rotated): a cheap training thumbnail, and a full-resolution apply
    whose memory stays a few copies of the photo, in a fresh process so the peak is the photo's alone."""
    source, target = tmp_path / "phone.jpg", tmp_path / "out.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # held sideways: shown as 6000×8000
    Image.new("RGB", (8000, 6000), (150, 90, 60)).save(source, quality=90, exif=exif.tobytes())
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, source, target], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    thumb_w, thumb_h, width, height, thumb_bytes, apply_bytes = map(int, result.stdout.split())
    photo_bytes = 8000 * 6000 * 3
    assert (thumb_w, thumb_h) == (768, 1024) and (width, height) == (6000, 8000)
    assert thumb_bytes < photo_bytes / 2  # JPEG draft decoding: never the full 144 MB
    assert apply_bytes < 5 * photo_bytes  # decode, rotate, apply in strips, save: a few copies, not dozens
    assert Image.open(target).size == (6000, 8000)


# --- odd modes -----------------------------------------------------------------------------------------------
def test_16_bit_rgb_png_becomes_8_bit(tmp_path):
    path = tmp_path / "deep.png"
    path.write_bytes(png_bytes(4, 2, bit_depth=16, colour_type=2, row=struct.pack(">12H", *[0x8000, 0xFFFF, 0x0000] * 4)))
    out = load_image(path)
    assert out.mode == "RGB" and tuple(np.asarray(out)[1, 3]) == (128, 255, 0)


def test_transparency_is_flattened_on_white_unless_kept(tmp_path):
    """What a viewer shows for a see-through PNG; keep_alpha (stylize, export) keeps the alpha itself."""
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (200, 20, 20, 255)  # opaque red top half, fully transparent black bottom half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    flat = np.asarray(load_image(tmp_path / "cutout.png"))
    assert tuple(flat[0, 0]) == (200, 20, 20) and tuple(flat[3, 3]) == (255, 255, 255)
    kept = load_image(tmp_path / "cutout.png", keep_alpha=True)
    assert kept.mode == "RGBA" and np.array_equal(np.asarray(kept.getchannel("A")), rgba[..., 3])
    palette = Image.fromarray(rgba[..., :3]).convert("P")
    palette.save(tmp_path / "palette.png", transparency=palette.getpixel((3, 3)))
    assert tuple(np.asarray(load_image(tmp_path / "palette.png"))[3, 3]) == (255, 255, 255)


def test_stylized_rgba_keeps_its_alpha(tmp_path):
    rgba = synthetic_photo(1, (40, 30)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((40, 30)))
    rgba.save(tmp_path / "logo.png")
    out = grainy_look().apply(load_image(tmp_path / "logo.png", keep_alpha=True))
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out.getchannel("A")), np.asarray(rgba.getchannel("A")))


def test_animated_webp_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((0, 200, 0), (0, 0, 200))]
    path = tmp_path / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True)
    assert Image.open(path).n_frames == 2
    assert tuple(np.asarray(load_image(path))[8, 8]) == (0, 200, 0)


@pytest.mark.parametrize(
    "name, content",
    [
        ("vector.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),  # Pillow would run Ghostscript
        ("drawing.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'),
        ("report.jpg", b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"),
    ],
)
def test_documents_are_not_images(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImageError, match=f"^{name}: not an image file InfluGAN can read \\(JPEG, PNG, WebP, HEIC"):
        load_image(tmp_path / name)


def test_formats_outside_the_list_are_refused(tmp_path):
    """PCX is a real image Pillow could decode, but no phone sends one: its decoder is kept away from uploads."""
    synthetic_photo(2, (20, 10)).save(tmp_path / "old.pcx")
    with pytest.raises(ImageError, match="old.pcx: not an image file InfluGAN can read"):
        load_image(tmp_path / "old.pcx")


# --- tiny and thin -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(1, 1), (8, 8), (10000, 10), (10, 10000)])
def test_tiny_and_thin_photos_stylize_at_their_size(tmp_path, size):
    path = tmp_path / "odd.png"
    synthetic_photo(3, size).save(path)
    out = grainy_look().apply(load_image(path))
    assert out.size == size and out.mode == "RGB"


@pytest.mark.parametrize(
    "size, message",
    [
        ((1, 1), "odd.png: 1×1 px is too small (at least 32 px a side)"),
        ((8, 8), "odd.png: 8×8 px is too small"),
        ((10000, 10), "odd.png: 10000×10 px is too small"),
        ((2000, 40), "odd.png: 2000×40 px is too thin a strip to learn from (at most 8:1)"),
        ((40, 2000), "odd.png: 40×2000 px is too thin a strip"),
    ],
)
def test_tiny_and_thin_photos_cannot_teach_a_look(tmp_path, size, message):
    """Their training thumbnails would be slivers the fine-tune cannot crop; they are refused by name."""
    path = tmp_path / "odd.png"
    synthetic_photo(3, size).save(path)
    with pytest.raises(ImageError) as error:
        load_training_image(path, 512)
    assert str(error.value).startswith(message)


def test_training_image_is_shrunk(tmp_path):
    path = tmp_path / "ok.png"
    synthetic_photo(3, (320, 40)).save(path)  # 8:1, the thinnest allowed
    assert load_training_image(path, 128).size == (128, 16)


# --- reference sets ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), None])
def test_identical_references_learn_a_finite_look(colour):
    photo = Image.new("RGB", (64, 48), colour) if colour else synthetic_photo(5, (64, 48))
    look = finetune([photo] * 3, content=[synthetic_photo(6, (64, 48))], settings=FinetuneSettings(steps=2))
    assert bool(np.isfinite(look.lut).all()) and 0.0 <= float(look.lut.min()) <= float(look.lut.max()) <= 1.0


@pytest.mark.parametrize(
    "count, message",
    [
        (0, r"need 3 to 50 reference photos \(or 1–2 paintings\), got 0"),
        (1, r"need 3 to 50 reference photos, or 1–2 paintings of at least 480 px on the shorter side \(image 1 is 40 px\)"),
        (200, r"need 3 to 50 reference photos \(or 1–2 paintings\), got 200"),
    ],
)
def test_reference_count_outside_3_to_50_is_refused(count, message):
    """One small photo is neither a feed nor a painting: the message names both ways in."""
    with pytest.raises(ValueError, match=message):
        finetune([synthetic_photo(1, (40, 40))] * count)


# --- look and .cube files from strangers ---------------------------------------------------------------------
class _Payload:
    """Unpickling this runs ``open(marker, "w")``: if the marker appears, a loader executed the file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("name", ["model.safetensors", "evil.look", "evil.cube"])
def test_pickle_in_disguise_never_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / name
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises((LookError, CubeError), match=f"{name} is not an? (InfluGAN look|text .cube) file"):
        Look.load(path)
    assert not marker.exists()


def test_pickle_in_disguise_through_the_cli(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "model.safetensors").write_bytes(pickle.dumps(_Payload(marker)))
    result = cli("info", tmp_path / "model.safetensors")
    assert result.returncode == 2 and result.stderr.strip() == "error: model.safetensors is not an InfluGAN look file (bad safetensors header)"
    assert not marker.exists()


def test_look_header_nested_too_deep():
    header = b"[" * 50_000 + b"]" * 50_000
    with pytest.raises(LookError, match="deep.look is not an InfluGAN look file"):
        Look.from_bytes(struct.pack("<Q", len(header)) + header, "deep.look")


def test_look_header_promising_more_data_than_the_file_has():
    header = json.dumps(
        {
            "__metadata__": {"influgan": json.dumps({"format": "influgan.look"})},
            "lut": {"dtype": "F32", "shape": [65, 65, 65, 3], "data_offsets": [0, 65**3 * 12]},
            "finish": {"dtype": "F32", "shape": [5], "data_offsets": [65**3 * 12, 65**3 * 12 + 20]},
        }
    ).encode()
    with pytest.raises(LookError, match="short.look: damaged look file"):
        Look.from_bytes(struct.pack("<Q", len(header)) + header + bytes(64), "short.look")


def test_oversized_cube_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.cube"
    with open(path, "wb") as handle:
        handle.truncate(MAX_CUBE_BYTES + 8 * 2**20)
    with pytest.raises(CubeError, match="huge.cube is 40.0 MB; a .cube LUT is at most 32 MB"):
        load_cube(path)


def test_cube_of_endless_comments_stops_early():
    """Within the byte cap, but millions of lines: refused after a fixed number, in bounded time and memory."""
    started = time.perf_counter()
    with pytest.raises(CubeError, match=f"more than {MAX_CUBE_LINES} lines: this is not a .cube LUT"):
        parse_cube("#\n" * 2_000_000)
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_cube_line_endings(newline):
    rows = [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    lut, title = parse_cube(newline.join(['TITLE "mac"', "LUT_3D_SIZE 2", *rows]))
    assert title == "mac" and np.allclose(lut, identity_lut(2).numpy())


def test_cube_with_extreme_numbers_stays_finite():
    rows = ["1e300 -1e300 0.5"] + [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)][1:]
    text = "LUT_3D_SIZE 2\nDOMAIN_MIN -1e308 -1e308 -1e308\nDOMAIN_MAX 1e308 1e308 1e308\n" + "\n".join(rows)
    lut, _ = parse_cube(text)
    assert bool(np.isfinite(lut).all()) and -1.0 <= float(lut.min()) <= float(lut.max()) <= 2.0


@pytest.mark.parametrize(
    "body, message",
    [
        ("LUT_3D_SIZE 100000\n", "line 1: LUT_3D_SIZE 100000 is outside 2..65"),
        ("LUT_3D_SIZE 2\n" + "0 0 nan\n" * 8, "line 2: data row holds NaN or infinite values"),
        ("LUT_3D_SIZE 2\n0 0 0\n0 0 1e999\n" + "0 0 0\n" * 6, "line 3: data row holds NaN or infinite values"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 5, "expected 2³ = 8 data rows, found 5"),
        ('TITLE "x\nLUT_3D_SIZE 2\n', "line 1: TITLE must be quoted on both sides"),
        ("0" * 100_000 + "\n", "line 1 is longer than 4096 characters"),
    ],
)
def test_bad_cube_through_the_cli(tmp_path, body, message):
    (tmp_path / "bad.cube").write_text(body)
    result = cli("import-cube", "--cube", tmp_path / "bad.cube", "--out", tmp_path / "x.look")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0] and not (tmp_path / "x.look").exists()


@pytest.mark.parametrize("suffix", ["", ".look", ".cube", ".png"])
def test_cli_info_of_an_endless_file_stops_at_the_cap(tmp_path, suffix):
    """/dev/zero reports 0 bytes and never ends: every look reader caps by bytes read, not by what stat says."""
    path = Path("/dev/zero")
    if suffix:
        path = tmp_path / f"zero{suffix}"
        path.symlink_to("/dev/zero")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "influgan", "info", str(path)], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: zero{suffix}"), result.stderr
    assert any(reason in lines[0] for reason in ("over 4 MB", "over 64 MB", "longer than 4096 characters")), lines[0]
    assert time.perf_counter() - started < 30


# --- the command line with a bag of bad photos ---------------------------------------------------------------
def test_cli_stylize_writes_every_good_photo_and_names_every_bad_one(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(png_bytes(20000, 20000, bit_depth=1, colour_type=0))
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "page.jpg").write_bytes(b"<!doctype html><html><body>404</body></html>")
    buffer = io.BytesIO()
    synthetic_photo(4, (200, 150)).save(buffer, format="PNG")
    (folder / "cut.png").write_bytes(buffer.getvalue()[:-400])
    synthetic_photo(5, (64, 48)).save(folder / "good.png")
    Image.new("CMYK", (32, 32), (0, 200, 200, 0)).save(folder / "print.jpg")
    rgba = synthetic_photo(6, (30, 20)).convert("RGBA")
    rgba.putalpha(90)
    rgba.save(folder / "sticker.png")
    synthetic_photo(7, (1, 1)).save(folder / "dot.png")
    look = tmp_path / "warm.look"
    grainy_look().save(look)
    result = cli("stylize", "--look", look, "--out", tmp_path / "out", folder)
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert result.returncode == 2 and errors == [
        "error: bomb.png: 400 megapixels; the limit is 100 megapixels",
        "error: cut.png: the image data is damaged or truncated (image file is truncated)",
        "error: page.jpg: not an image file InfluGAN can read (JPEG, PNG, WebP, HEIC, TIFF, BMP, GIF)",
        "error: zero.jpg: the file is empty",
    ]
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["dot.png", "good.png", "print.jpg", "sticker.png"]
    assert Image.open(tmp_path / "out" / "sticker.png").getchannel("A").getextrema() == (90, 90)


def test_cli_refuses_200_references_before_loading_them(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for index in range(200):
        Image.new("RGB", (40, 40), (index, 100, 50)).save(refs / f"{index:03d}.png")
    result = cli("finetune", "--refs", refs, "--out", tmp_path / "x.look")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: 200 reference photos given; a look learns from at most 50: choose the ones that show it best"


def test_cli_empty_feed(tmp_path):
    (tmp_path / "refs").mkdir()
    result = cli("finetune", "--refs", tmp_path / "refs", "--out", tmp_path / "x.look")
    assert result.returncode == 2 and result.stderr.strip() == "error: need 3 to 50 readable reference photos (or 1–2 paintings), got 0"


def test_cli_skips_unusable_references_and_learns_from_the_rest(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for index in range(3):
        synthetic_photo(20 + index, (64, 48)).save(refs / f"ref{index}.png")
    synthetic_photo(9, (2000, 40)).save(refs / "strip.png")
    synthetic_photo(9, (8, 8)).save(refs / "icon.png")
    (refs / "page.jpg").write_bytes(b"<html></html>")
    result = cli("finetune", "--refs", refs, "--content", refs / "ref0.png", "--out", tmp_path / "x.look", "--steps", 1)
    assert result.returncode == 0, result.stderr
    assert "warning: skipped reference strip.png: 2000×40 px is too thin a strip to learn from (at most 8:1)" in result.stderr
    assert "warning: skipped reference icon.png: 8×8 px is too small (at least 32 px a side)" in result.stderr
    assert "warning: skipped reference page.jpg: not an image file InfluGAN can read" in result.stderr
    assert Look.load(tmp_path / "x.look").metadata["references"] == 3
