"""The command line, through subprocess as a user runs it."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import synthetic_photo
from influgan import Look
from influgan.looks.cube import load_cube
from influgan.looks.lut import apply_lut_colours
from influgan.learning.lut_torch import identity_lut

ROOT = Path(__file__).resolve().parent.parent


def run(*args, check=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "influgan", *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    warm = Look(lut=identity_lut() * torch.tensor([1.0, 0.9, 0.7]))
    (root / "refs").mkdir()
    for i in range(4):
        warm.apply(synthetic_photo(200 + i, (120, 80))).save(root / "refs" / f"ref{i}.png")
    synthetic_photo(300, (90, 60)).save(root / "me.png")
    synthetic_photo(301, (64, 48)).save(root / "you.jpg", quality=90)
    run("finetune", "--refs", root / "refs", "--content", root / "me.png", "--out", root / "my.look", "--steps", 20)
    return root


def test_finetune_writes_a_look_with_progress(workspace):
    assert Look.load(workspace / "my.look").metadata["references"] == 4


def test_progress_bar_goes_to_stderr(workspace, tmp_path):
    result = run("finetune", "--refs", workspace / "refs", "--out", tmp_path / "x.look", "--steps", 3, "--adversary", "none")
    assert "fine-tune [" in result.stderr and "3/3" in result.stderr
    assert "wrote" in result.stdout


def test_stylize_keeps_names_formats_and_sizes(workspace, tmp_path):
    out = tmp_path / "out"
    run("stylize", "--look", workspace / "my.look", "--strength", "0.8", "--out", out, workspace / "me.png", workspace / "you.jpg")
    png, jpg = Image.open(out / "me.png"), Image.open(out / "you.jpg")
    assert png.format == "PNG" and png.size == (90, 60)
    assert jpg.format == "JPEG" and jpg.size == (64, 48)


def test_stylize_strength_zero_is_identity(workspace, tmp_path):
    run("stylize", "--look", workspace / "my.look", "--strength", "0", "--out", tmp_path, workspace / "me.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "me.png")), np.asarray(Image.open(workspace / "me.png")))


def test_stylize_applies_exif_rotation(workspace, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    synthetic_photo(5, (40, 20)).save(tmp_path / "rot.jpg", exif=exif.tobytes())
    run("stylize", "--look", workspace / "my.look", "--out", tmp_path / "o", tmp_path / "rot.jpg")
    assert Image.open(tmp_path / "o" / "rot.jpg").size == (20, 40)


def test_cube_export_import_and_info(workspace, tmp_path):
    run("export-cube", "--look", workspace / "my.look", "--out", tmp_path / "my.cube", "--size", 17)
    assert "LUT_3D_SIZE 17" in (tmp_path / "my.cube").read_text()
    run("import-cube", "--cube", tmp_path / "my.cube", "--out", tmp_path / "back.look", "--name", "Back")
    info = run("info", tmp_path / "back.look").stdout
    assert "Back" in info and "17³" in info  # the file's own size: resampled only when asked
    run("import-cube", "--cube", tmp_path / "my.cube", "--out", tmp_path / "big.look", "--size", 33)
    assert "33³" in run("info", tmp_path / "big.look").stdout


def test_cube_export_at_a_strength(workspace, tmp_path):
    result = run("export-cube", "--look", workspace / "my.look", "--out", tmp_path / "half.cube", "--strength", 0.5)
    assert "colour only" in result.stdout
    look = Look.load(workspace / "my.look")
    half, _ = load_cube(tmp_path / "half.cube")
    assert half.shape == look.lut.shape  # the look's own size by default
    np.testing.assert_allclose(half, (look.lut + Look().lut) / 2, atol=2e-6)


def test_hald_export_import_and_stylize(workspace, tmp_path):
    result = run("export-hald", "--look", workspace / "my.look", "--out", tmp_path / "my_hald.png")
    assert "colour only" in result.stdout and Image.open(tmp_path / "my_hald.png").size == (512, 512)
    run("import-hald", "--hald", tmp_path / "my_hald.png", "--out", tmp_path / "back.look")
    back, look = Look.load(tmp_path / "back.look"), Look.load(workspace / "my.look")
    assert back.lut.shape == (64, 64, 64, 3) and "64³" in run("info", tmp_path / "my_hald.png").stdout
    colours = np.random.default_rng(0).uniform(0, 1, (500, 3))
    assert np.abs(apply_lut_colours(colours, back.lut) - apply_lut_colours(colours, look.lut)).max() < 1.5 / 255
    run("stylize", "--look", tmp_path / "my_hald.png", "--out", tmp_path / "o", workspace / "me.png")
    assert Image.open(tmp_path / "o" / "me.png").size == (90, 60)


def test_help():
    result = run("--help")
    for command in ("finetune", "stylize", "export-cube", "import-cube", "export-hald", "import-hald", "info"):
        assert command in result.stdout
    assert "--strength" in run("stylize", "--help").stdout
    assert "--steps" in run("finetune", "--help").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["info", "missing.look"], "cannot read missing.look"),
        (["stylize", "--look", "missing.look", "--out", "o", "x.jpg"], "cannot read"),
        (["export-cube", "--look", "LOOK", "--out", "x.cube", "--size", "100"], "--size"),
        (["export-cube", "--look", "LOOK", "--out", "x.cube", "--strength", "nan"], "--strength"),
        (["export-hald", "--look", "LOOK", "--out", "x.png", "--level", "17"], "--level"),
        (["import-hald", "--hald", "LOOK", "--out", "x.look"], "is not a readable PNG image"),
        (["stylize", "--look", "LOOK", "--strength", "3", "--out", "o", "x.jpg"], "--strength"),
        (["finetune", "--refs", "REFS/ref0.png", "--out", "x.look"], "need 3 to 50"),
        (["import-cube", "--cube", "BADCUBE", "--out", "x.look"], "LUT_3D_SIZE"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(workspace, tmp_path, args, message):
    (tmp_path / "bad.cube").write_text('TITLE "x"\nLUT_3D_SIZE 100000\n')
    args = [
        a.replace("LOOK", str(workspace / "my.look")).replace("REFS", str(workspace / "refs")).replace("BADCUBE", str(tmp_path / "bad.cube"))
        for a in args
    ]
    result = subprocess.run(
        [sys.executable, "-m", "influgan", *args], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_one_bad_photo_does_not_stop_the_others(workspace, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"<html>nope</html>")
    result = run("stylize", "--look", workspace / "my.look", "--out", tmp_path / "o", tmp_path / "broken.jpg", workspace / "me.png", check=False)
    assert result.returncode == 2
    assert "broken.jpg" in result.stderr and (tmp_path / "o" / "me.png").exists()


def test_unreadable_reference_is_skipped_with_a_warning(workspace, tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for path in (workspace / "refs").iterdir():
        (refs / path.name).write_bytes(path.read_bytes())
    (refs / "zero.jpg").write_bytes(b"")
    result = run("finetune", "--refs", refs, "--out", tmp_path / "x.look", "--steps", 2)
    assert "skipped reference zero.jpg: the file is empty" in result.stderr


# --- no output ever replaces an input, two outputs never collide, and all of it is checked before any work ---
def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_stylize_never_replaces_an_input_in_the_output_folder(workspace, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    synthetic_photo(1, (40, 30)).save(tmp_path / "in" / "a.jpg")
    synthetic_photo(2, (40, 30)).save(tmp_path / "out" / "a.jpg")
    before = (tmp_path / "out" / "a.jpg").read_bytes()
    result = run("stylize", "--look", workspace / "my.look", "--out", tmp_path / "out", tmp_path / "in" / "a.jpg", tmp_path / "out" / "a.jpg")
    assert (tmp_path / "out" / "a.jpg").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-2.jpg", "a-3.jpg", "a.jpg"]
    assert result.stdout.count("wrote") == 2 and "a-2.jpg" in result.stderr


def test_stylize_gives_same_named_photos_distinct_outputs(workspace, tmp_path):
    for index, folder in enumerate(("d1", "d2")):
        (tmp_path / folder).mkdir()
        synthetic_photo(index, (40, 30)).save(tmp_path / folder / "x.jpg")
    run("stylize", "--look", workspace / "my.look", "--out", tmp_path / "o", tmp_path / "d1", tmp_path / "d2")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x-2.jpg", "x.jpg"]
    assert (tmp_path / "o" / "x.jpg").read_bytes() != (tmp_path / "o" / "x-2.jpg").read_bytes()


@pytest.mark.parametrize("link", [os.link, os.symlink])
def test_stylize_never_writes_through_a_link_to_an_input(workspace, tmp_path, link):
    (tmp_path / "d").mkdir()
    (tmp_path / "o").mkdir()
    synthetic_photo(3, (40, 30)).save(tmp_path / "d" / "x.jpg")
    before = (tmp_path / "d" / "x.jpg").read_bytes()
    link(tmp_path / "d" / "x.jpg", tmp_path / "o" / "x.jpg")
    run("stylize", "--look", workspace / "my.look", "--out", tmp_path / "o", tmp_path / "d")
    assert (tmp_path / "d" / "x.jpg").read_bytes() == before and (tmp_path / "o" / "x-2.jpg").exists()


def test_stylize_replaces_an_earlier_result_that_is_not_an_input(workspace, tmp_path):
    synthetic_photo(4, (40, 30)).save(tmp_path / "x.png")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x.png").write_bytes(b"an earlier result")
    run("stylize", "--look", workspace / "my.look", "--out", tmp_path / "o", tmp_path / "x.png")
    assert Image.open(tmp_path / "o" / "x.png").size == (40, 30)
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["x.png"]  # no temporary file left behind


def _refuse(args, cwd, message):
    result = subprocess.run([sys.executable, "-m", "influgan", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert "fine-tune [" not in result.stderr  # refused before any work
    return result


def test_finetune_refuses_to_write_over_a_reference(workspace, tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for path in (workspace / "refs").iterdir():
        (refs / path.name).write_bytes(path.read_bytes())
    before = _bytes(refs)
    _refuse(["finetune", "--refs", refs, "--out", refs / "ref0.png", "--steps", 2], tmp_path, ".look")
    (refs / "feed.look").symlink_to(refs / "ref1.png")
    _refuse(["finetune", "--refs", refs, "--out", refs / "feed.look", "--steps", 2], tmp_path, "is an input")
    (refs / "feed.look").unlink()
    assert _bytes(refs) == before


@pytest.mark.parametrize("out, message", [("nofile/x.look", "does not exist"), ("/proc/x.look", "cannot write"), (".", "is a folder")])
def test_finetune_checks_its_output_before_training(workspace, tmp_path, out, message):
    _refuse(["finetune", "--refs", workspace / "refs", "--out", out, "--steps", 50], tmp_path, message)


def test_stylize_refuses_an_output_folder_that_is_a_file(workspace, tmp_path):
    (tmp_path / "o").write_bytes(b"a file")
    _refuse(["stylize", "--look", workspace / "my.look", "--out", tmp_path / "o", workspace / "me.png"], tmp_path, "is a file")
    assert (tmp_path / "o").read_bytes() == b"a file"


def test_export_and_import_cube_refuse_to_replace_their_input(workspace, tmp_path):
    look = tmp_path / "my.look"
    look.write_bytes((workspace / "my.look").read_bytes())
    _refuse(["export-cube", "--look", look, "--out", look], tmp_path, "is an input")
    assert look.read_bytes() == (workspace / "my.look").read_bytes()
    run("export-cube", "--look", look, "--out", tmp_path / "my.cube")
    cube = (tmp_path / "my.cube").read_bytes()
    _refuse(["import-cube", "--cube", tmp_path / "my.cube", "--out", tmp_path / "my.cube"], tmp_path, "is an input")
    assert (tmp_path / "my.cube").read_bytes() == cube


def test_long_photo_names_are_shortened_not_failed(workspace, tmp_path):
    name = "é" * 125 + ".png"  # 254 bytes: its "-2" twin would not fit in 255
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        synthetic_photo(5, (40, 30)).save(tmp_path / folder / name)
    run("stylize", "--look", workspace / "my.look", "--out", tmp_path / "o", tmp_path / "a", tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert len(names) == 2 and all(len(n.encode()) <= 255 for n in names) and names[0].endswith("-2.png")


# --- subject-aware looks (issue 32): --protect-skin, --apply-to ---------------------------------------------------
def test_stylize_protects_skin_and_applies_to_the_subject(tmp_path):
    strong = Look(lut=identity_lut() ** torch.tensor([2.0, 1.0, 0.5]), name="strong")
    strong.save(tmp_path / "strong.look")
    photo = ROOT / "examples" / "content" / "astronaut.jpg"
    run("stylize", "--look", tmp_path / "strong.look", "--out", tmp_path / "all", photo)
    run("stylize", "--look", tmp_path / "strong.look", "--protect-skin", "1", "--out", tmp_path / "skin", photo)
    result = run("stylize", "--look", tmp_path / "strong.look", "--apply-to", "background", "--out", tmp_path / "bg", photo,
                 ROOT / "examples" / "content" / "rocket.jpg")
    original = np.asarray(Image.open(photo), np.int16)
    styled, skin, bg = (np.asarray(Image.open(tmp_path / d / "astronaut.jpg"), np.int16) for d in ("all", "skin", "bg"))
    cheek, wall = (slice(100, 130), slice(180, 200)), (slice(20, 80), slice(330, 400))
    assert np.abs(skin[cheek] - original[cheek]).mean() < 4 < np.abs(styled[cheek] - original[cheek]).mean() / 3
    assert np.abs(skin[wall] - styled[wall]).mean() < 2
    assert np.abs(bg[cheek] - original[cheek]).mean() < 4 and np.abs(bg[wall] - styled[wall]).mean() < 2
    assert "note: rocket.jpg: no person found: the look goes on the whole photo" in result.stderr  # one line, kept going
    assert (tmp_path / "bg" / "rocket.jpg").exists()


@pytest.mark.parametrize("args, message", [(["--protect-skin", "1.5"], "--protect-skin must be within 0..1"),
                                           (["--protect-skin", "nan"], "--protect-skin must be within 0..1")])
def test_stylize_refuses_a_bad_protect_skin(workspace, tmp_path, args, message):
    result = run("stylize", "--look", workspace / "my.look", *args, "--out", tmp_path, workspace / "me.png", check=False)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [f"error: {message}, got {args[1] if args[1] != 'nan' else 'nan'}"]
    assert not any(tmp_path.iterdir())


def test_stylize_refuses_an_unknown_apply_to(workspace, tmp_path):
    result = run("stylize", "--look", workspace / "my.look", "--apply-to", "face", "--out", tmp_path, workspace / "me.png", check=False)
    assert result.returncode == 2 and "invalid choice: 'face'" in result.stderr
