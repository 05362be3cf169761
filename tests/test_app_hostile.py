"""The app against what the public uploads, through gradio_client as a visitor's browser would send it.

Each bad file is named with its reason and skipped; every good one, in whatever mode, is kept and works; a bad
look file leaves the visitor's other looks alone. The same inputs through the package and CLI are in
test_hostile_inputs.py.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import png_bytes, synthetic_photo

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from app_server import running_app  # noqa: E402
from influgan.images import save_image  # noqa: E402
from influgan.looks.look import Look  # noqa: E402
from test_app import value  # noqa: E402

STEPS = 10
NOT_AN_IMAGE = "not an image file InfluGAN can read (JPEG, PNG, WebP, HEIC, TIFF, BMP, GIF)"
# files no part of the app can use, and what the visitor is told about each
UNREADABLE = {
    "zero.jpg": "zero.jpg: the file is empty",
    "page.jpg": f"page.jpg: {NOT_AN_IMAGE}",
    "cut.jpg": "cut.jpg: the image data is damaged or truncated (image file is truncated",
    "cut.png": "cut.png: the image data is damaged or truncated (image file is truncated",
    "bomb.png": "bomb.png: 400 megapixels; the limit is 100 megapixels",
}
# photos too small for anything (one rule, one message: to learn from or to stylize)
TOO_SMALL = {
    "dot.png": "dot.png: 1×1 px is too small (at least 32 px a side)",
    "icon.png": "icon.png: 8×8 px is too small (at least 32 px a side)",
    "line.png": "line.png: 10000×10 px is too small (at least 32 px a side)",
}
# photos that can be stylized but not learned from
UNTEACHABLE = {
    **TOO_SMALL,
    "strip.png": "strip.png: 2000×40 px is too thin a strip to learn from (at most 8:1)",
}
# good photos in every odd mode, and the size each is shown at (EXIF rotation applied)
GOOD = {
    "ref0.png": (160, 120), "ref1.png": (160, 120), "ref2.png": (160, 120), "print.jpg": (64, 48),
    "deep.png": (64, 48), "palette.png": (64, 48), "sticker.png": (64, 48), "grey.png": (64, 48),
    "anim.gif": (64, 48), "moving.webp": (64, 48), "phone.heic": (64, 48), "rotated.jpg": (48, 64),
}


@pytest.fixture(scope="module")
def url():
    with running_app(steps=STEPS) as address:
        yield address


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    """One file for every case above."""
    folder = tmp_path_factory.mktemp("bag")
    photo = synthetic_photo(40, (64, 48))
    for index in range(3):
        synthetic_photo(41 + index, (160, 120)).save(folder / f"ref{index}.png")
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "page.jpg").write_bytes(b"<!DOCTYPE html><html><head><title>Instagram</title></head></html>")
    for name, fmt in (("cut.jpg", "JPEG"), ("cut.png", "PNG")):
        buffer = io.BytesIO()
        synthetic_photo(45, (400, 300)).save(buffer, format=fmt)
        (folder / name).write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (folder / "bomb.png").write_bytes(png_bytes(20000, 20000, bit_depth=1, colour_type=0))
    for name, size in (("dot.png", (1, 1)), ("icon.png", (8, 8)), ("line.png", (10000, 10)), ("strip.png", (2000, 40))):
        synthetic_photo(46, size).save(folder / name)
    photo.convert("CMYK").save(folder / "print.jpg")
    Image.fromarray((np.asarray(photo.convert("L"), dtype=np.uint16) * 257)).save(folder / "deep.png")
    photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(folder / "palette.png")
    sticker = photo.convert("RGBA")
    sticker.putalpha(Image.linear_gradient("L").resize(photo.size))
    sticker.save(folder / "sticker.png")
    photo.convert("L").save(folder / "grey.png")
    photo.save(folder / "anim.gif", save_all=True, append_images=[synthetic_photo(47, (64, 48))])
    photo.save(folder / "moving.webp", save_all=True, append_images=[synthetic_photo(47, (64, 48))])
    save_image(photo, folder / "phone.heic")  # registers pillow-heif's encoder first
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(folder / "rotated.jpg", exif=exif.tobytes())
    return folder


def uploads(folder: Path, names) -> list:
    return [handle_file(str(folder / name)) for name in names]


@pytest.fixture(scope="module")
def visitor(url, bag):
    """A visitor who dropped the whole bag on both the References and the Stylize tab."""
    client = Client(url, verbose=False)
    names = [*UNREADABLE, *UNTEACHABLE, *GOOD]
    client.references = client.predict(uploads(bag, names), api_name="/add_references")
    client.photos = client.predict(uploads(bag, names), "Golden hour", 100, 0, 0, api_name="/add_photos")
    return client


def test_references_keep_every_good_mode_and_name_every_bad_file(visitor):
    import app

    gallery, notes = visitor.references[:2]
    assert sorted(item["caption"] for item in gallery) == sorted(GOOD)
    assert f"**{len(GOOD)} reference photos** — ready to learn the look." in notes
    for message in [*UNREADABLE.values(), *UNTEACHABLE.values()]:
        assert f"- {app.md(message)}" in notes


def test_photos_keep_every_stylizable_file(visitor):
    gallery, (before, after) = visitor.photos[:2]
    assert sorted(item["caption"] for item in gallery) == sorted([*GOOD, "strip.png"])  # too small: refused, as a reference is
    assert Image.open(before).size == Image.open(after).size == (1024, 20)  # the first new photo is shown: strip.png, at preview size


def test_full_size_download_of_every_mode(visitor):
    archive = value(visitor.predict("Faded film", 100, 30, 30, api_name="/download"))
    with zipfile.ZipFile(archive) as zipped:
        sizes = {}
        for name in zipped.namelist():
            with zipped.open(name) as handle:
                image = Image.open(handle)
                image.load()
            sizes[name.rsplit("_faded_film", 1)[0]] = (image.size, image.mode)
    expected = {Path(name).stem: size for name, size in {**GOOD, "strip.png": (2000, 40)}.items()}
    assert {stem: size for stem, (size, _) in sizes.items()} == expected
    assert sizes["sticker"][1] == "RGBA" and sizes["print"][1] == "RGB"  # alpha kept; CMYK comes out as sRGB


def test_finetune_skips_photos_too_thin_to_learn_from(visitor):
    """The Stylize tab holds a 2000×40 photo: it is left out of the fine-tune, not fatal."""
    status, _, _, downloads, _ = visitor.predict("Odd modes", STEPS, 0, api_name="/finetune")
    assert f"learned from {len(GOOD)} photos" in status
    look = Look.load(next(p for p in downloads if p.endswith(".look")))
    assert look.metadata["content_photos"] == len(GOOD) and bool(np.isfinite(look.lut).all())


def test_adding_more_bad_files_loses_nothing(visitor, bag):
    gallery, notes = visitor.predict(uploads(bag, ["zero.jpg", "bomb.png", "ref0.png"]), api_name="/add_references")[:2]
    assert len(gallery) == len(GOOD) + 1 and r"- zero\.jpg: the file is empty" in notes


def test_photo_warning_names_each_bad_file(bag):
    """The Stylize tab tells its problems in a warning; called here in-process, where gr.Warning is a warning."""
    import app

    session = app.sessions().create()
    with pytest.warns(UserWarning) as caught:
        updates = app.add_photos([str(bag / name) for name in [*UNREADABLE, "ref0.png"]], None, 100, 0, 0, session)
    text = str(caught[-1].message)
    assert len(updates[app.photo_gallery]) == 1 and text.startswith("Skipped ") and text.endswith(". The other photos were kept.")
    for message in UNREADABLE.values():
        assert message in text
    session.close()
    assert not session.folder.exists()


def test_200_references_keep_the_first_50_usable(url, tmp_path):
    paths = [tmp_path / "broken.jpg"]
    paths[0].write_bytes(b"<html></html>")
    for index in range(199):
        paths.append(tmp_path / f"{index:03d}.jpg")
        Image.new("RGB", (40, 40), (index, 120, 200 - index)).save(paths[-1], quality=80)
    client = Client(url, verbose=False)
    import app

    gallery, notes = client.predict([handle_file(str(p)) for p in paths], api_name="/add_references")[:2]
    assert len(gallery) == 50 and gallery[-1]["caption"] == "049.jpg"  # the broken one did not cost a place
    assert f"- {app.md(f'broken.jpg: {NOT_AN_IMAGE}')}" in notes
    assert "- 149 more photos: a feed holds at most 50 photos, so the first 50 usable ones were kept" in notes
    gallery, notes = client.predict(uploads(tmp_path, ["150.jpg"]), api_name="/add_references")[:2]
    assert len(gallery) == 50 and "- 1 more photo: a feed holds at most 50 photos" in notes


def test_one_empty_and_identical_feeds(url, bag):
    client = Client(url, verbose=False)
    gallery, notes = client.predict([], api_name="/add_references")[:2]
    assert gallery == [] and notes == ""
    client.predict(uploads(bag, ["ref0.png"]), api_name="/add_references")
    with pytest.raises(AppError, match=r"Add at least 3 reference photos on the References tab first \(you have 1\), or one or two paintings of at least 480 px\."):
        client.predict("One", STEPS, 0, api_name="/finetune")
    client.predict(uploads(bag, ["ref0.png", "ref0.png"]), api_name="/add_references")  # the same photo thrice
    status, _, _, downloads, _ = client.predict("Same", STEPS, 0, api_name="/finetune")
    assert "learned from 3 photos" in status
    assert bool(np.isfinite(Look.load(next(p for p in downloads if p.endswith(".look"))).lut).all())


class _Payload:
    """Unpickling this creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hostile_look_files_are_refused_and_the_good_ones_kept(url, tmp_path):
    client = Client(url, verbose=False)
    good = tmp_path / "mine.cube"
    good.write_text('TITLE "Mine"\nLUT_3D_SIZE 2\n' + "".join(f"{r} {g} {b * 0.5}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1)))
    assert client.predict(handle_file(str(good)), api_name="/upload_look")["value"] == "Mine"
    marker = tmp_path / "pwned"
    (tmp_path / "evil.look").write_bytes(pickle.dumps(_Payload(marker)))
    (tmp_path / "size.cube").write_text('TITLE "x"\nLUT_3D_SIZE 100000\n')
    (tmp_path / "nan.cube").write_text("LUT_3D_SIZE 2\n" + "nan 0 0\n" * 8)
    (tmp_path / "rows.cube").write_text("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7)
    with open(tmp_path / "huge.cube", "wb") as handle:
        handle.truncate(33 * 2**20)
    refusals = {
        "evil.look": "evil.look is not an InfluGAN look file (bad safetensors header)",
        "size.cube": "line 2: LUT_3D_SIZE 100000 is outside 2..65",
        "nan.cube": "line 2: unknown keyword 'nan'",
        "rows.cube": "expected 2³ = 8 data rows, found 7",
        "huge.cube": "huge.cube is 33.0 MB; a .cube LUT is at most 32 MB",
    }
    for name, message in refusals.items():
        with pytest.raises(AppError) as error:
            client.predict(handle_file(str(tmp_path / name)), api_name="/upload_look")
        assert message in str(error.value)
    assert not marker.exists()
    downloads = value(client.predict("Mine", 100, 0, 0, api_name="/download_look"))  # the good look survived the bad uploads
    assert Look.load(next(p for p in downloads if p.endswith(".look"))).name == "Mine"


def test_session_folders_are_never_named_by_the_client(url, bag):
    """The session hash comes from the client; no folder is named after it, so no hash can reach another's files."""
    import app

    client = Client(url, verbose=False)
    client.predict(uploads(bag, ["ref0.png"]), api_name="/add_references")
    folders = [p for p in app.sessions_root().iterdir() if p.is_dir()]
    assert folders and not any(client.session_hash in str(folder) for folder in folders)
    assert all(len(folder.name) == 32 for folder in folders)  # 128 random bits each


def test_when_no_photo_can_be_saved_it_says_so(bag):
    """Photos read fine when added but unreadable at save time (the disk changed under them): an error naming them,
    not an empty zip."""
    import gradio as gr

    import app

    session = app.sessions().create()
    app.add_photos([str(bag / "ref0.png"), str(bag / "print.jpg")], None, 100, 0, 0, session)
    for photo in session.photos:
        photo.original.write_bytes(b"damaged since")
    with pytest.raises(gr.Error, match=r"None of your photos could be saved: ref0.png: .*; print.jpg: "):
        app.export_photos("Faded film", 100, 0, 0, session)
    assert not [p for p in session.folder.rglob("*.zip")]
    session.close()


def test_the_upload_sweep_leaves_what_a_waiting_request_has_yet_to_read():
    """Uploads older than the sweep's age are deleted by housekeeping; a request that arrived with them and waits for
    the memory budget (other visitors' big photos) keeps them: it marks them in use before it waits."""
    import os
    import threading
    import time
    import uuid

    import app
    from influgan.serving.session import sweep_files

    folder = app.CACHE_DIR / f"sweep-test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    paths = [folder / f"photo{index}.png" for index in range(2)]
    for index, path in enumerate(paths):
        synthetic_photo(index, (64, 48)).save(path)
        an_hour_ago = time.time() - 3600
        os.utime(path, (an_hour_ago, an_hour_ago))
    session, result = app.sessions().create(), {}
    try:
        with app.MEMORY.reserve(app.MEMORY.capacity):  # the server busy: the request waits for memory
            worker = threading.Thread(target=lambda: result.update(app.add_photos([str(p) for p in paths], None, 100, 0, 0, session)))
            worker.start()
            deadline = time.time() + 10
            while paths[-1].stat().st_mtime < time.time() - 60 and time.time() < deadline:  # until the request has begun
                time.sleep(0.01)
            swept = sweep_files(folder, older_than=600)  # housekeeping comes round meanwhile
        worker.join(timeout=60)
        assert swept == 0 and all(p.exists() for p in paths)
        assert len(result[app.photo_gallery]) == 2  # both read once the memory was free
    finally:
        session.close()
        for path in paths:
            path.unlink(missing_ok=True)
        if folder.exists():
            folder.rmdir()
