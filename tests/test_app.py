"""API tests of app.py through gradio_client, against the app served on 127.0.0.1 (no browser)."""
from __future__ import annotations

import json
import re
import zipfile

import httpx
import numpy as np
import pytest
from conftest import synthetic_photo
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from app_server import running_app  # noqa: E402
from influgan.looks.look import Look  # noqa: E402

STEPS = 10


def value(update):
    """What an output holds, whether the handler gave a plain value or a ``gr.update(value=…)``."""
    return update.get("value") if isinstance(update, dict) and "__type__" in update else update


@pytest.fixture(scope="module")
def url():
    with running_app(steps=STEPS) as address:
        yield address


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app_files")
    refs = []
    for seed in range(4):
        path = folder / f"ref_{seed}.png"
        synthetic_photo(seed + 10, (160, 120)).save(path)
        refs.append(path)
    broken = folder / "broken.jpg"
    broken.write_bytes(b"this is not a photo")
    tiny = folder / "tiny.png"
    synthetic_photo(3, (16, 12)).save(tiny)
    photo = folder / "me.png"
    synthetic_photo(99, (1600, 1200)).save(photo)
    second = folder / "second.jpg"
    synthetic_photo(98, (300, 200)).save(second, quality=95)
    return {"refs": refs, "broken": broken, "tiny": tiny, "photo": photo, "second": second, "folder": folder}


@pytest.fixture(scope="module")
def client(url, files):
    """One visitor who has uploaded references and a photo and learned a look (shared by the tests below)."""
    visitor = Client(url, verbose=False)
    uploads = [handle_file(str(p)) for p in [*files["refs"], files["broken"], files["tiny"]]]
    visitor.references = visitor.predict(uploads, api_name="/add_references")
    visitor.photos = visitor.predict([handle_file(str(files["photo"]))], "Golden hour", 100, 0, 0, api_name="/add_photos")
    visitor.training = visitor.predict("Test look", STEPS, 0, api_name="/finetune")
    return visitor


def test_references_keep_good_files_and_list_bad_ones(client):
    gallery, notes, palette, histograms, upload_box = client.references[:5]
    assert len(gallery) == 4 and upload_box is None  # the drop zone is emptied for the next photos
    assert "4 reference photos" in notes and r"broken\.jpg" in notes and r"tiny\.png" in notes and "too small" in notes
    assert Image.open(palette).size == (640, 120) and Image.open(histograms).size == (640, 200)


def test_photo_preview_is_preview_size(client):
    gallery, (before, after), upload_box = client.photos
    assert len(gallery) == 1 and upload_box is None
    assert Image.open(before).size == (1024, 768) and Image.open(after).size == (1024, 768)


def test_finetune_gives_look_and_cube(client):
    status, preview, plot, downloads, dropdown = client.training
    assert "Test look" in status and "learned from 4 photos" in status
    assert Image.open(preview).mode == "RGB"
    raw = re.search(r'class="raw" points="([^"]+)"', plot)[1].split()
    assert len(raw) == STEPS and "ΔE" in plot  # ΔE to the feed, a point per step
    look_file = next(p for p in downloads if p.endswith(".look"))
    cube_file = next(p for p in downloads if p.endswith(".cube"))
    look = Look.load(look_file)
    assert look.name == "Test look" and look.lut.shape == (33, 33, 33, 3)
    assert Look.load(cube_file).lut.shape == (33, 33, 33, 3)
    assert dropdown["value"] == "Test look"


def test_strength_changes_the_preview(client):
    (before, half), *boxes = client.predict("Test look", 50, 0, 0, api_name="/preview_strength")
    (_, full), *_ = client.predict("Test look", 150, 0, 0, api_name="/preview_strength")
    assert all(box == {"__type__": "update"} for box in boxes)  # in range: the boxes are left as they are
    arrays = [np.asarray(Image.open(p), dtype=np.int16) for p in (before, half, full)]
    assert all(a.shape == (768, 1024, 3) for a in arrays)
    assert np.abs(arrays[2] - arrays[0]).mean() > np.abs(arrays[1] - arrays[0]).mean() > 0.5


def test_download_full_resolution(client, files):
    path = value(client.predict("Test look", 100, 10, 20, api_name="/download"))
    out = Image.open(path)
    assert path.endswith(".png") and out.size == (1600, 1200) and out.mode == "RGB"


def test_strength_zero_returns_the_input(client, files):
    path = value(client.predict("Test look", 0, 0, 0, api_name="/download"))
    out = np.asarray(Image.open(path), dtype=np.int16)
    original = np.asarray(Image.open(files["photo"]).convert("RGB"), dtype=np.int16)
    assert out.shape == original.shape and np.abs(out - original).max() <= 1


def test_download_look_files_at_the_current_strength(client):
    full = value(client.predict("Golden hour", 100, 0, 0, api_name="/download_look"))
    half = value(client.predict("Golden hour", 50, 0, 0, api_name="/download_look"))
    assert sorted(p.rsplit(".", 1)[1] for p in full) == ["cube", "look", "png"]
    cubes = [Look.load(next(p for p in paths if p.endswith(".cube"))).lut for paths in (full, half)]
    look = Look.load(next(p for p in full if p.endswith(".look")))
    assert np.abs(cubes[0] - look.lut).max() < 1e-5  # at 100 % the .cube is the look's colour
    identity = Look().lut
    assert np.abs(cubes[1] - (identity + 0.5 * (cubes[0] - identity))).max() < 1e-4


def test_download_this_look_carries_the_brushwork_amount_and_protect_skin(client):
    """A painted built-in downloaded with Brushwork at 60 % and Protect skin at 40 %: the .look carries both, and says so."""
    paths = value(client.predict("Pencil sketch", 100, 0, 0, 40, "whole", 60, api_name="/download_look"))
    look_file = next(p for p in paths if p.endswith(".look"))
    assert look_file.endswith("_brushwork_skin-protected.look")
    baked = Look.load(look_file)
    assert baked.brushwork.amount == pytest.approx(0.6) and baked.default_protect_skin() == pytest.approx(0.4)
    off = value(client.predict("Pencil sketch", 100, 0, 0, 0, "whole", 0, api_name="/download_look"))
    assert Look.load(next(p for p in off if p.endswith(".look"))).brushwork is None


def test_download_this_look_carries_the_sliders_and_each_file_says_what_it_carries(client, files):
    """The .look as set: 75 % strength, grain 50 %, vignette −40 % (lighter corners); applied at 100 % it gives
    the preview's picture. The .cube and the Hald carry the colour at 75 %, and say "colour-only"."""
    from influgan.looks.finishing import grain_from_slider

    paths = value(client.predict("Test look", 75, 50, -40, api_name="/download_look"))
    look_file, cube_file, hald_file = (next(p for p in paths if p.endswith(suffix)) for suffix in (".look", ".cube", ".png"))
    assert "75pct_grain_vignette.look" in look_file and "75pct_colour-only.cube" in cube_file and "75pct_colour-only_hald.png" in hald_file
    baked, original = Look.load(look_file), Look.load(next(p for p in client.training[3] if p.endswith(".look")))
    assert baked.finish.grain_amount == pytest.approx(0.75 * grain_from_slider(50), abs=1e-4)
    assert baked.finish.vignette_amount == pytest.approx(0.75 * -0.4, abs=1e-4)
    assert np.abs(baked.lut - original.colour_lut(0.75)).max() < 1e-5
    assert np.abs(Look.load(cube_file).lut - original.colour_lut(0.75)).max() < 1e-5
    (before, after), *_ = client.predict("Test look", 75, 50, -40, api_name="/preview_strength")
    again = baked.apply(Image.open(before))  # the downloaded look at 100 % is the preview (grain averaged out: it is a JPEG)
    small = [np.asarray(image.resize((128, 96), Image.Resampling.BOX), dtype=np.int16) for image in (again, Image.open(after))]
    assert np.abs(small[0] - small[1]).mean() < 1.0


def test_many_photos_download_as_zip(url, files):
    visitor = Client(url, verbose=False)
    photos = [handle_file(str(files["second"])), handle_file(str(files["broken"])), handle_file(str(files["photo"]))]
    gallery = visitor.predict(photos, "Faded film", 100, 0, 0, api_name="/add_photos")[0]
    assert len(gallery) == 2  # the broken file is skipped, the others kept
    archive = value(visitor.predict("Faded film", 80, 0, 0, api_name="/download"))
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
        assert len(names) == 2 and names[0].startswith("me_") and names[1].startswith("second_")
        with zipped.open(names[1]) as handle:
            assert Image.open(handle).size == (300, 200)


def test_uploaded_cube_becomes_a_look(url, files, client):
    downloads = client.training[3]
    cube_file = next(p for p in downloads if p.endswith(".cube"))
    visitor = Client(url, verbose=False)
    dropdown = visitor.predict(handle_file(cube_file), api_name="/upload_look")
    assert dropdown["value"] == "Test look" and ["Test look", "Test look"] in dropdown["choices"]
    fake = files["folder"] / "fake.look"
    fake.write_bytes(b"not a look at all")
    with pytest.raises(AppError, match="fake.look is not an InfluGAN look file"):
        visitor.predict(handle_file(str(fake)), api_name="/upload_look")
    with pytest.raises(AppError, match="Invalid file type"):  # refused by the upload component itself
        visitor.predict(handle_file(str(files["broken"])), api_name="/upload_look")


def test_sessions_are_isolated(url, client):
    stranger = Client(url, verbose=False)
    with pytest.raises(AppError, match="Add at least 3 reference photos"):
        stranger.predict("Stolen", STEPS, 0, api_name="/finetune")
    with pytest.raises(AppError, match="Choose a look"):  # the first visitor's look is not offered to others
        stranger.predict("Test look", 100, 0, 0, api_name="/download_look")


def test_all_bad_references_name_each_reason(url, files):
    visitor = Client(url, verbose=False)
    with pytest.raises(AppError, match=r"None of these files could be used as reference photos: broken.jpg: not an image file .*; tiny.png: 16×12 px is too small"):
        visitor.predict([handle_file(str(files["broken"])), handle_file(str(files["tiny"]))], api_name="/add_references")


# --- numbers from the API are checked, never a bare "Error" ----------------------------------------------------
def call_raw(url: str, api_name: str, data_json: str) -> str:
    """Call an endpoint with a hand-written JSON body (NaN is valid for Python's JSON, not for gradio_client)."""
    event = httpx.post(f"{url}gradio_api/call/{api_name}", content='{"data": ' + data_json + "}",
                       headers={"content-type": "application/json"}, timeout=30).json()["event_id"]
    return httpx.get(f"{url}gradio_api/call/{api_name}/{event}", timeout=60).text


@pytest.mark.parametrize("strength, named", [("NaN", "0..150"), ("Infinity", "inf"), ("1e309", "inf"), ('"lots"', "lots"), ("[1]", "[1]")])
def test_a_bad_slider_value_is_named(url, client, strength, named):
    text = call_raw(url, "preview_strength", f'["Golden hour", {strength}, 0, 0, null, 0, "whole", 100]')  # raw: every input
    assert "event: error" in text
    message = json.loads(text.split("data: ", 1)[1])["error"]
    assert message.startswith("Strength must be a number within 0..150") and named in message and "\n" not in message


def test_a_number_out_of_range_is_clamped_and_the_box_says_so(client):
    """999 typed into the strength box: the preview is rendered at 150 %, and the box is set to 150."""
    (_, at_999), box, grain, vignette, _ = client.predict("Test look", 999, -5, 0, api_name="/preview_strength")
    (_, at_150), *_ = client.predict("Test look", 150, 0, 0, api_name="/preview_strength")
    assert value(box) == 150 and value(grain) == 0 and vignette == {"__type__": "update"}
    assert np.abs(np.asarray(Image.open(at_999), dtype=np.int16) - np.asarray(Image.open(at_150), dtype=np.int16)).max() <= 2


@pytest.mark.parametrize("api_name, data, named", [
    ("finetune", '["x", 10, NaN, null]', "Seed must be a number"),  # was: "Could not preprocess … cannot convert float NaN to integer"
    ("finetune", '["x", "ten", 0, null]', "Training steps must be a number"),
    ("add_photos", '[[{"path": 5}], "Golden hour", 100, 0, 0, null]', "could not be read"),
    ("add_references", '[{"meta": 1}, null]', "could not be read"),
    ("upload_look", '[{"value": 1}, null]', "could not be read"),
    ("choose_look", '[["<img src=x>"], 100, null, 100, "whole", 0]', "Choose a look"),
    ("preview_grain", '["Golden hour", 100, {"value": 5}, 0, null, 0, "whole"]', "Grain must be a number"),
])
def test_a_malformed_call_gets_one_readable_line(url, api_name, data, named):
    text = call_raw(url, api_name, data)
    assert "event: error" in text, text
    message = json.loads(text.split("data: ", 1)[1])["error"]
    assert named in message and "\n" not in message and "Original error" not in message and "<img" not in message and len(message) < 400


@pytest.mark.parametrize("given", ["secret.jpg", "weights/looks/golden_hour.look", "../../etc/passwd"])
def test_a_relative_path_is_named_as_given_not_resolved_on_the_server(url, given):
    import os

    text = call_raw(url, "add_references", '[[{"path": "%s", "meta": {"_type": "gradio.FileData"}}], null]' % given)
    message = json.loads(text.split("data: ", 1)[1])["error"]
    assert given in message and os.getcwd() not in message and "\n" not in message


def test_monitoring_is_off(url):
    for path in ("monitoring/summary", "gradio_api/monitoring/summary"):
        response = httpx.get(f"{url}{path}", timeout=10)
        assert response.status_code in (403, 404) and "fn_name" not in response.text and "success_rate" not in response.text


def test_a_photo_too_small_is_refused_as_a_reference_is(url, files):
    """One rule, one message: a 1×1 PNG (or 16×12) is refused on the Stylize tab as on the References tab."""
    visitor = Client(url, verbose=False)
    with pytest.raises(AppError, match=r"tiny.png: 16×12 px is too small \(at least 32 px a side\)"):
        visitor.predict([handle_file(str(files["tiny"]))], "Golden hour", 100, 0, 0, api_name="/add_photos")


def test_control_characters_are_cleaned_from_names_on_the_way_in(url, tmp_path):
    """NUL and U+202E (which reverses the text after it) leave a look's name and a photo's name before they are
    shown or name a file."""
    cube = tmp_path / "odd.cube"
    cube.write_text('TITLE "evil\u202egnp.exe"\nLUT_3D_SIZE 2\n' + "".join(f"{r} {g} {b}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1)), encoding="utf-8")
    photo = tmp_path / "me\u202egpj.png"
    synthetic_photo(8, (64, 48)).save(photo)
    visitor = Client(url, verbose=False)
    name = visitor.predict(handle_file(str(cube)), api_name="/upload_look")["value"]
    assert name == "evilgnp.exe"
    gallery = visitor.predict([handle_file(str(photo))], name, 100, 0, 0, api_name="/add_photos")[0]
    assert gallery[0]["caption"] == "megpj.png"
    saved = value(visitor.predict(name, 100, 0, 0, api_name="/download"))
    assert "\u202e" not in saved and "\x00" not in saved


def test_a_look_with_a_huge_number_in_its_metadata_is_refused_by_name(url, tmp_path):
    look = tmp_path / "digits.look"
    Look(name="Digits").save(look)
    data = look.read_bytes()
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_length])
    meta = json.loads(header["__metadata__"]["influgan"])
    meta["references"] = "__BIG__"
    header["__metadata__"]["influgan"] = json.dumps(meta).replace('"__BIG__"', "9" * 5000)
    encoded = json.dumps(header).encode()
    look.write_bytes(len(encoded).to_bytes(8, "little") + encoded + data[8 + header_length :])
    visitor = Client(url, verbose=False)
    with pytest.raises(AppError, match="digits.look"):
        visitor.predict(handle_file(str(look)), api_name="/upload_look")


def test_long_names_are_shortened_not_fatal(url, tmp_path):
    photo = tmp_path / ("p" * 240 + ".png")  # with "_<look name>" the result's name would pass 255 bytes
    synthetic_photo(5, (64, 48)).save(photo)
    visitor = Client(url, verbose=False)
    visitor.predict([handle_file(str(photo))], "Golden hour", 100, 0, 0, api_name="/add_photos")
    look = tmp_path / "long.cube"
    look.write_text(f'TITLE "{"L" * 300}"\nLUT_3D_SIZE 2\n' + "".join(f"{r} {g} {b}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1)))
    name = visitor.predict(handle_file(str(look)), api_name="/upload_look")["value"]
    saved = value(visitor.predict(name, 100, 0, 0, api_name="/download"))
    assert Image.open(saved).size == (64, 48)


def test_a_hald_clut_travels_both_ways(url, client):
    downloads = value(client.predict("Test look", 100, 0, 0, api_name="/download_look"))
    hald = next(p for p in downloads if p.endswith(".png"))
    assert Image.open(hald).size == (512, 512)  # level 8
    visitor = Client(url, verbose=False)
    dropdown = visitor.predict(handle_file(hald), api_name="/upload_look")
    back = Look.load(hald)
    original = Look.load(next(p for p in downloads if p.endswith(".look")))
    from influgan.looks.lut import resample_lut

    assert back.lut.shape == (64, 64, 64, 3) and dropdown["value"] == back.name
    assert np.abs(resample_lut(back.lut, 33) - original.lut).max() < 2 / 255  # 8-bit entries


# --- clips -----------------------------------------------------------------------------------------------------
def test_a_clip_gets_a_preview_frame_and_renders_with_its_sound(url, tmp_path):
    import av

    from test_video import make_clip

    clip = tmp_path / "holiday.mp4"
    make_clip(clip, size=(160, 96), frames=24, fps=24, audio="aac")
    visitor = Client(url, verbose=False)
    gallery, (before, after) = visitor.predict([handle_file(str(clip))], "Golden hour", 100, 0, 0, api_name="/add_photos")[:2]
    assert gallery[0]["caption"] == "▶ holiday.mp4"
    assert Image.open(before).size == (160, 96) and Image.open(after).size == (160, 96)  # the first frame, with the look
    status, video = visitor.predict("Golden hour", 80, 20, 20, api_name="/render_video")[:2]
    assert "holiday.mp4" in status
    path = video["video"] if isinstance(video, dict) else video
    with av.open(path) as result:
        assert result.streams.video[0].frames == 24 and len(result.streams.audio) == 1
    with pytest.raises(AppError, match="Upload a photo first"):  # full-size saving is for photos; the clip is rendered
        visitor.predict("Golden hour", 100, 0, 0, api_name="/download")


def test_a_clip_that_is_not_one_is_named(url, tmp_path):
    fake = tmp_path / "broken.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
    visitor = Client(url, verbose=False)
    with pytest.raises(AppError, match="broken.mp4"):
        visitor.predict([handle_file(str(fake))], "Golden hour", 100, 0, 0, api_name="/add_photos")


def test_a_learned_grain_and_vignette_show_on_the_sliders_and_stay_in_the_look_file(url, tmp_path, monkeypatch):
    from test_finish_estimate import jpeg_feed

    from influgan import Finish
    from influgan.learning import finish_estimate
    from influgan.looks.finishing import slider_from_grain

    flat = {"black": np.zeros(finish_estimate.RADIAL_BINS), "white": np.zeros(finish_estimate.RADIAL_BINS)}
    monkeypatch.setattr(finish_estimate, "load_natural_texture", lambda: flat)  # synthetic scenes: no lens falloff
    paths = []
    for index, image in enumerate(jpeg_feed(Finish(grain_amount=4.0, grain_size=0.004, vignette_amount=0.4, vignette_radius=0.5), count=6)):
        paths.append(tmp_path / f"feed_{index}.jpg")
        paths[-1].write_bytes(image.fp.getvalue())  # the JPEG as saved, tables and all
    visitor = Client(url, verbose=False)
    visitor.predict([handle_file(str(p)) for p in paths], api_name="/add_references")
    downloads = visitor.predict("Grainy", STEPS, 0, api_name="/finetune")[3]
    learned = Look.load(next(p for p in downloads if p.endswith(".look"))).finish
    assert learned.grain_amount == pytest.approx(4.0, rel=0.25) and learned.vignette_amount == pytest.approx(0.4, abs=0.06)
    grain, vignette = visitor.predict("Grainy", 100, api_name="/choose_look")[:2]  # what picking the look sets
    assert value(grain) == pytest.approx(slider_from_grain(learned.grain_amount), abs=0.1)  # the perceptual scale
    assert value(vignette) == pytest.approx(100 * learned.vignette_amount, abs=0.1)


def test_a_look_learned_from_a_painting_says_one_painting(url, tmp_path):
    """One painting is a feed (its quarters read for colour): the status counts one painting and advises a second,
    not "4 posts, add posts"."""
    painting = tmp_path / "painting.png"
    synthetic_photo(11, (640, 480)).save(painting)
    visitor = Client(url, verbose=False)
    visitor.predict([handle_file(str(painting))], api_name="/add_references")
    status = visitor.predict("From a painting", STEPS, 0, api_name="/finetune")[0]
    assert "learned from 1 painting in" in status and "a second painting" in status and "Add posts" not in status


# --- one look, whichever door ------------------------------------------------------------------------------------
def grainy_vignetted_feed(folder, count: int = 12):
    """A feed as a creator posts it: scenes through a warm look, a vignette of 0.35 and luminance grain of RMS 0.035
    (0..1), saved as 1080 px JPEGs at quality 85."""
    from test_finish_estimate import scene

    from influgan import Finish

    look = Look(lut=Look().lut * np.array([1.0, 0.93, 0.8], dtype=np.float32), finish=Finish(vignette_amount=0.35, vignette_radius=0.5))
    paths = []
    for index in range(count):
        rng = np.random.default_rng(index)
        styled = np.asarray(look.apply(scene(index, (1080, 720)), seed=index), dtype=np.float32) / 255.0
        styled = styled + rng.normal(0.0, 0.035, styled.shape[:2])[..., None]  # luminance grain: the same on R, G, B
        paths.append(folder / f"post_{index:02d}.jpg")
        Image.fromarray((np.clip(styled, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB").save(paths[-1], quality=85)
    return paths


def test_the_cli_the_app_and_the_python_api_learn_the_same_look(url, tmp_path):
    """The same files, settings and seed through every door give the same look: LUT and finish (grain and
    vignette learned by all three, not dropped by one)."""
    import influgan
    from test_cli import run

    paths = grainy_vignetted_feed(tmp_path)
    run("finetune", "--refs", *paths, "--out", tmp_path / "cli.look", "--steps", 10, "--seed", 3)
    cli = Look.load(tmp_path / "cli.look")
    python = influgan.finetune([str(p) for p in paths], settings=influgan.FinetuneSettings(steps=10, seed=3))
    visitor = Client(url, verbose=False)
    visitor.predict([handle_file(str(p)) for p in paths], api_name="/add_references")
    downloads = visitor.predict("Same look", 10, 3, api_name="/finetune")[3]
    app = Look.load(next(p for p in downloads if p.endswith(".look")))

    assert cli.finish.grain_amount > 2.0 and cli.finish.vignette_amount > 0.15  # the feed's (0 before: read at 512 px)
    for other in (python, app):
        for key, learned in cli.finish.to_dict().items():
            assert other.finish.to_dict()[key] == pytest.approx(learned, abs=1e-6), key
        assert np.abs(other.lut - cli.lut).max() < 1e-4


# --- subject-aware looks (issue 32): Protect skin and Apply to on the Stylize tab -------------------------------------
def test_protect_skin_and_apply_to_in_the_preview_and_the_full_size_photo(url):
    visitor = Client(url, verbose=False)
    astronaut = Image.open("examples/content/astronaut.jpg").convert("RGB")
    visitor.predict([handle_file("examples/content/astronaut.jpg")], "Teal & orange", 150, 0, 0, api_name="/add_photos")
    (before, styled), *_ = visitor.predict("Teal & orange", 150, 0, 0, 0, "whole", api_name="/preview_protect_skin")
    (_, kept), *_ = visitor.predict("Teal & orange", 150, 0, 0, 100, "whole", api_name="/preview_protect_skin")
    _, background = visitor.predict("Teal & orange", 150, 0, 0, 0, "background", api_name="/preview_apply_to")
    original, styled, kept, background = (np.asarray(Image.open(p).convert("RGB"), np.int16) for p in (before, styled, kept, background))
    cheek, wall = (slice(100, 130), slice(180, 200)), (slice(20, 80), slice(330, 400))
    assert np.abs(kept[cheek] - original[cheek]).mean() < 4 < np.abs(styled[cheek] - original[cheek]).mean() / 2
    assert np.abs(kept[wall] - styled[wall]).mean() < 3  # (JPEG previews)
    assert np.abs(background[cheek] - original[cheek]).mean() < 4 and np.abs(background[wall] - styled[wall]).mean() < 3
    full = np.asarray(Image.open(value(visitor.predict("Teal & orange", 150, 0, 0, 100, "subject", api_name="/download"))).convert("RGB"), np.int16)
    assert full.shape == (512, 512, 3)
    assert np.abs(full[wall] - np.asarray(astronaut, np.int16)[wall]).mean() < 3  # subject only: the wall is as it was
    with pytest.raises(AppError, match="not in the list of choices"):  # Gradio checks the choice itself
        visitor.predict("Teal & orange", 150, 0, 0, 0, "face", api_name="/preview_apply_to")
    text = call_raw(url, "preview_protect_skin", '["Teal & orange", 150, 0, 0, null, NaN, "whole", 100]')  # past Gradio's check
    assert "event: error" in text and "Protect skin must be a number within 0..100" in text


def test_picking_a_look_sets_protect_skin_to_its_own_and_keeps_apply_to(url, tmp_path):
    """A .look that carries Protect skin 60 % (as Download this look saves it) sets the slider when it is picked, so
    the preview shows what the CLI and Python give with that look; the Apply to choice still holds; a look without
    its own leaves the slider where the visitor put it."""
    visitor = Client(url, verbose=False)
    visitor.predict([handle_file("examples/content/astronaut.jpg")], "Teal & orange", 150, 0, 0, api_name="/add_photos")
    teal = Look.load("weights/looks/teal_orange.look")
    teal.metadata["protect_skin"] = 0.6
    teal.name = "Kind to skin"
    teal.save(tmp_path / "kind.look")
    name = value(visitor.predict(handle_file(str(tmp_path / "kind.look")), api_name="/upload_look"))
    _, _, protect, (before, after) = visitor.predict(name, 100, 100, "background", api_name="/choose_look")
    assert value(protect) == pytest.approx(60)
    original, shown = (np.asarray(Image.open(p).convert("RGB"), np.int16) for p in (before, after))
    expected = np.asarray(teal.apply(Image.open(before).convert("RGB"), apply_to="background"), np.int16)  # its own 60 %
    cheek, wall = (slice(100, 130), slice(180, 200)), (slice(20, 80), slice(330, 400))
    assert np.abs(shown[cheek] - original[cheek]).mean() < 3  # the person is kept (apply to background)
    assert np.abs(shown[wall] - expected[wall]).mean() < 3 < np.abs(shown[wall] - original[wall]).mean()
    _, _, protect, *_ = visitor.predict("Teal & orange", 100, 100, "whole", 35, api_name="/choose_look")
    assert value(protect) == 35  # a look without its own leaves the slider as the visitor set it


def test_brushwork_slider_paints_the_preview_and_the_full_size_photo(client, files, tmp_path):
    from influgan.images import load_image
    from influgan.looks.lut import identity_lut
    from influgan.looks.painterly import Brushwork

    colour = Look(lut=identity_lut() ** 1.1, name="Painted")
    painted = Look(lut=colour.lut, name="Painted", brushwork=Brushwork("cartoon"))
    painted.save(tmp_path / "painted.look")
    dropdown = client.predict(handle_file(str(tmp_path / "painted.look")), api_name="/upload_look")
    name = value(dropdown)
    (before, none), *_ = client.predict(name, 100, 0, 0, 0, "whole", 0, api_name="/preview_brushwork")
    (_, full), *_ = client.predict(name, 100, 0, 0, 0, "whole", 100, api_name="/preview_brushwork")
    with Image.open(before) as photo:
        expected_none = np.asarray(colour.apply(photo), dtype=np.int16)
        expected_full = np.asarray(painted.apply(photo), dtype=np.int16)
    none, full = (np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in (none, full))
    near_none, near_full = np.abs(none - expected_none).mean(), np.abs(full - expected_full).mean()
    assert near_none < 3.5 and near_full < 3.5  # 0 %: colour only; 100 %: the cartoon (the preview files are JPEGs)
    assert np.abs(full - none).mean() > 3 * max(near_none, near_full)
    saved = value(client.predict(name, 100, 0, 0, 0, "whole", 100, api_name="/download"))
    result = np.asarray(Image.open(saved).convert("RGB"), dtype=np.int16)
    expected = np.asarray(painted.apply(load_image(files["photo"])), dtype=np.int16)
    assert result.shape == (1200, 1600, 3) and np.abs(result - expected).mean() < 1.0


def test_a_bad_brushwork_value_is_named_and_one_out_of_range_clamped(url):
    text = call_raw(url, "preview_brushwork", '["Golden hour", 100, 0, 0, null, 0, "whole", NaN]')
    assert "event: error" in text and "Brushwork must be a number within 0..150" in json.loads(text.split("data: ", 1)[1])["error"]
    text = call_raw(url, "preview_brushwork", '["Golden hour", 100, 0, 0, null, 0, "whole", 151]')  # clamped, in its box too
    assert "event: complete" in text and json.loads(text.split("data: ", 1)[1])[4] == {"__type__": "update", "value": 150.0}
