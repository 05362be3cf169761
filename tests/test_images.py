import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from influgan.images import (
    MAX_PIXELS,
    ImageError,
    find_images,
    image_to_tensor,
    load_image,
    save_image,
    tensor_to_image,
    thumbnail,
)


def save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def test_plain_rgb(tmp_path, photo):
    out = load_image(save(photo, tmp_path / "a.png"))
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), np.asarray(photo))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    # A 4×2 image with a red top-left pixel; after orientation the marker must land where a viewer shows it.
    array = np.zeros((2, 4, 3), np.uint8)
    array[0, 0] = (255, 0, 0)
    image = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(save(image, tmp_path / "o.png", exif=exif.tobytes()))
    expected = {1: (4, 2), 2: (4, 2), 3: (4, 2), 4: (4, 2), 5: (2, 4), 6: (2, 4), 7: (2, 4), 8: (2, 4)}
    assert out.size == expected[orientation]
    red = np.argwhere(np.asarray(out)[..., 0] == 255)
    where = {1: (0, 0), 2: (0, 3), 3: (1, 3), 4: (1, 0), 5: (0, 0), 6: (0, 1), 7: (3, 1), 8: (3, 0)}
    assert [tuple(r) for r in red] == [where[orientation]]


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red ink mix
    out = load_image(save(cmyk, tmp_path / "c.jpg"))
    r, g, b = np.asarray(out).reshape(-1, 3).mean(0)
    assert out.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_16_bit_grayscale_png(tmp_path):
    array = np.linspace(0, 65535, 64 * 8).astype(np.uint16).reshape(8, 64)
    out = load_image(save(Image.fromarray(array), tmp_path / "g16.png"))
    values = np.asarray(out)[..., 0]
    assert out.mode == "RGB" and values.min() == 0 and values.max() == 255


def test_palette_grayscale_and_la(tmp_path, photo):
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    assert load_image(save(palette, tmp_path / "p.png")).mode == "RGB"
    gray = photo.convert("L")
    out = load_image(save(gray, tmp_path / "l.png"))
    assert out.mode == "RGB" and np.array_equal(np.asarray(out)[..., 0], np.asarray(gray))
    la = photo.convert("LA")
    assert load_image(save(la, tmp_path / "la.png"), keep_alpha=True).mode == "RGBA"


def test_alpha_kept_or_flattened(tmp_path, photo):
    rgba = photo.convert("RGBA")
    rgba.putalpha(100)
    path = save(rgba, tmp_path / "a.png")
    assert load_image(path).mode == "RGB"
    kept = load_image(path, keep_alpha=True)
    assert kept.mode == "RGBA" and kept.getchannel("A").getextrema() == (100, 100)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    out = load_image(path)
    assert tuple(np.asarray(out)[0, 0]) == (255, 0, 0)


def test_srgb_icc_profile_leaves_pixels_alone(tmp_path, photo):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = load_image(save(photo, tmp_path / "icc.png", icc_profile=icc))
    assert np.abs(np.asarray(out, dtype=int) - np.asarray(photo, dtype=int)).max() <= 2


def test_broken_icc_profile_does_not_lose_the_photo(tmp_path, photo):
    out = load_image(save(photo, tmp_path / "badicc.png", icc_profile=b"not a profile"))
    assert np.array_equal(np.asarray(out), np.asarray(photo))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"<html><body>not a photo</body></html>", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|damaged"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_truncated_jpeg_and_png(tmp_path, photo):
    for suffix in ("jpg", "png"):
        buffer = io.BytesIO()
        photo.resize((400, 300)).save(buffer, format="JPEG" if suffix == "jpg" else "PNG")
        path = tmp_path / f"cut.{suffix}"
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        with pytest.raises(ImageError, match="damaged or truncated"):
            load_image(path)


def test_decompression_bomb_is_refused_with_the_cap(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)
    assert path.stat().st_size < 200_000
    with pytest.raises(ImageError, match=f"400 megapixels; the limit is {MAX_PIXELS // 1_000_000} megapixels"):
        load_image(path)


def test_pixel_cap_is_configurable(tmp_path, photo):
    with pytest.raises(ImageError, match="the limit is"):
        load_image(save(photo, tmp_path / "a.png"), max_pixels=100)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "nope.jpg")


def test_tiny_and_extreme_aspect_images(tmp_path):
    for size in [(1, 1), (8, 8), (10000, 10)]:
        out = load_image(save(Image.new("RGB", size, (1, 2, 3)), tmp_path / f"{size[0]}x{size[1]}.png"))
        assert out.size == size


def test_heic_when_supported(tmp_path, photo):
    """HEIC (pillow-heif) is registered when the first HEIC photo is opened or written, in any process."""
    pytest.importorskip("pillow_heif")
    path = tmp_path / "a.heic"
    try:
        save_image(photo, path)
    except (OSError, KeyError, ValueError):
        pytest.skip("this libheif cannot encode HEIC")
    assert load_image(path).size == photo.size
    fresh = subprocess.run(
        [sys.executable, "-c", f"from influgan.images import load_image; print(*load_image({str(path)!r}).size)"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert fresh.stdout.split() == [str(photo.width), str(photo.height)], fresh.stderr


def test_jpeg_draft_decodes_small(tmp_path):
    big = Image.new("RGB", (2000, 1500), (10, 200, 30))
    out = load_image(save(big, tmp_path / "big.jpg"), draft_size=256)
    assert 256 <= max(out.size) < 2000


def test_tensor_round_trip_and_thumbnail(photo):
    tensor = image_to_tensor(photo)
    assert tensor.shape == (3, photo.height, photo.width) and 0 <= float(tensor.min()) <= float(tensor.max()) <= 1
    assert np.array_equal(np.asarray(tensor_to_image(tensor)), np.asarray(photo))
    assert max(thumbnail(photo, 32).size) == 32


def test_save_by_extension(tmp_path, photo):
    save_image(photo.convert("RGBA"), tmp_path / "x.jpg")
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    save_image(photo, tmp_path / "x.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), np.asarray(photo))


def test_find_images(tmp_path, photo):
    (tmp_path / "sub").mkdir()
    save(photo, tmp_path / "sub" / "b.png")
    save(photo, tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in find_images([tmp_path])] == ["a.jpg", "b.png"]
    with pytest.raises(ImageError, match="no such file"):
        find_images([tmp_path / "missing"])
