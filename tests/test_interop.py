"""Looks that travel, checked against OpenColorIO (the official wheel) as the reference implementation.

- Every built-in look exported as .cube (17, 33, 65) and applied by OpenColorIO's CPU processor and by InfluGAN
  on the same photo: within 1 level (8-bit).
- Files written by OpenColorIO's baker (``iridas_cube``; ``resolve_cube`` with a 1D shaper) read by InfluGAN
  and applied: within 1 level of OpenColorIO applying the same file.
- Hald CLUTs: InfluGAN's export (levels 8, 12) equals OpenColorIO applying the exported look to an identity Hald;
  a Hald made that way from a grade (as darktable or G'MIC make one) and read by InfluGAN matches OpenColorIO
  applying the Hald's own table (levels 2..8) or, for level 12 (144³, more than OpenColorIO takes), the grade.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio
import pytest
from PIL import Image

from influgan.looks.finishing import Finish
from influgan.looks.look import Look

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = sorted((ROOT / "weights" / "looks").glob("*.look"))


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real photo (shipped example) above a patch of random colours (saturated edges of the cube included)."""
    image = Image.open(ROOT / "examples" / "content" / "coffee.jpg").convert("RGB")
    image.thumbnail((320, 320))
    rng = np.random.default_rng(0)
    patch = rng.integers(0, 256, (96, image.width, 3), dtype=np.uint8)
    patch[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]]
    return Image.fromarray(np.concatenate([np.asarray(image), patch]))


def ocio_apply(transform, image: Image.Image, config: ocio.Config | None = None) -> np.ndarray:
    """OpenColorIO's CPU processor on an 8-bit image, rounded back to 8 bits. Returns (H, W, 3) float32."""
    processor = (config or ocio.Config.CreateRaw()).getProcessor(transform).getDefaultCPUProcessor()
    pixels = np.ascontiguousarray(np.asarray(image, dtype=np.float32) / 255.0)
    processor.applyRGB(pixels)  # in place
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0)


def ocio_file(path: Path) -> ocio.FileTransform:
    return ocio.FileTransform(src=str(path), interpolation=ocio.INTERP_LINEAR)


def levels_apart(ours: Image.Image, reference: np.ndarray) -> float:
    return float(np.abs(np.asarray(ours, dtype=np.float64) - reference).max())


def identity_hald(level: int) -> Image.Image:
    """The identity Hald CLUT, made from its definition: red fastest, then green, then blue, row by row."""
    axis = np.round(np.linspace(0, 255, level**2)).astype(np.uint8)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    return Image.fromarray(np.stack([r, g, b], -1).reshape(level**3, level**3, 3), "RGB")


@pytest.fixture(autouse=True)
def fresh_ocio_cache():
    ocio.ClearAllCaches()  # OpenColorIO caches files by path


# --- exports -------------------------------------------------------------------------------------------------
def test_there_are_built_in_looks():
    assert len(BUILTIN) >= 5


@pytest.mark.parametrize("size", [17, 33, 65])
@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_builtin_look_exported_as_cube_matches_opencolorio(tmp_path, photo, path, size):
    look = Look.load(path)
    cube = tmp_path / f"{path.stem}_{size}.cube"
    look.to_cube(cube, size=size)
    reference = ocio_apply(ocio_file(cube), photo)
    assert levels_apart(Look.load(cube).apply(photo), reference) <= 1.0
    if size >= look.lut.shape[0]:  # no coarser than the look itself: the export is the look
        assert levels_apart(look.apply(photo, finish=Finish()), reference) <= 1.0


@pytest.mark.parametrize("strength", [0.4, 1.3])
def test_export_at_a_strength_matches_the_app_at_that_strength(tmp_path, photo, strength):
    look = Look.load(BUILTIN[0])
    look.to_cube(tmp_path / "x.cube", strength=strength)
    reference = ocio_apply(ocio_file(tmp_path / "x.cube"), photo)
    assert levels_apart(look.apply(photo, strength=strength, finish=Finish()), reference) <= 1.0


@pytest.mark.parametrize("name", ["Summer #2", "Film look"])
def test_opencolorio_reads_the_title_we_write(tmp_path, photo, name):
    look = Look.load(BUILTIN[1])
    look.name = name
    look.to_cube(tmp_path / "t.cube")
    ocio_apply(ocio_file(tmp_path / "t.cube"), photo)  # raises if OpenColorIO refuses the file
    assert Look.load(tmp_path / "t.cube").name == name


# --- imports of files OpenColorIO's baker writes -------------------------------------------------------------
def grading_config() -> ocio.Config:
    """A config whose 'graded' space is a CDL grade (slope, offset, power, saturation) and a channel mix, with
    outputs beyond 0..1, and a log shaper space as a baker uses for a Resolve .cube."""
    config = ocio.Config.CreateRaw()
    config.addColorSpace(ocio.ColorSpace(name="plain"))
    grade = ocio.GroupTransform()
    cdl = ocio.CDLTransform()
    cdl.setSlope([1.15, 0.95, 0.8])
    cdl.setOffset([0.03, 0.0, -0.02])
    cdl.setPower([0.85, 1.0, 1.2])
    cdl.setSat(1.3)
    grade.appendTransform(cdl)
    grade.appendTransform(ocio.MatrixTransform([0.9, 0.15, 0, 0, 0.05, 0.9, 0.05, 0, -0.05, 0.2, 0.85, 0, 0, 0, 0, 1]))
    graded = ocio.ColorSpace(name="graded")
    graded.setTransform(grade, ocio.COLORSPACE_DIR_FROM_REFERENCE)
    config.addColorSpace(graded)
    log = ocio.LogAffineTransform()
    log.setBase(2.0)
    log.setLinSideOffsetValue([0.01] * 3)
    log.setLogSideSlopeValue([1 / 7] * 3)
    log.setLogSideOffsetValue([1.0] * 3)
    shaper = ocio.ColorSpace(name="shaper")
    shaper.setTransform(log, ocio.COLORSPACE_DIR_FROM_REFERENCE)
    config.addColorSpace(shaper)
    return config


def bake(path: Path, form: str, size: int, shaper_size: int = 0) -> Path:
    baker = ocio.Baker()
    baker.setConfig(grading_config())
    baker.setFormat(form)
    baker.setInputSpace("plain")
    baker.setTargetSpace("graded")
    baker.setCubeSize(size)
    if shaper_size:
        baker.setShaperSpace("shaper")
        baker.setShaperSize(shaper_size)
    path.write_text(baker.bake())
    return path


@pytest.mark.parametrize("size", [17, 33, 65])
def test_opencolorio_iridas_cube_reads_at_its_own_size(tmp_path, photo, size):
    path = bake(tmp_path / f"iridas_{size}.cube", "iridas_cube", size)
    look = Look.load(path)
    assert look.lut.shape == (size, size, size, 3) and look.lut.max() > 1.05  # entries beyond 1 are kept
    assert levels_apart(look.apply(photo), ocio_apply(ocio_file(path), photo)) <= 1.0


@pytest.mark.parametrize("size", [17, 33])
def test_opencolorio_resolve_cube_with_a_shaper(tmp_path, photo, size):
    path = bake(tmp_path / f"resolve_{size}.cube", "resolve_cube", size, shaper_size=1024)
    assert path.read_text().startswith("LUT_1D_SIZE 1024\nLUT_1D_INPUT_RANGE")
    look = Look.load(path)
    assert look.lut.shape == (65, 65, 65, 3)  # shaper and table composed into one table
    assert levels_apart(look.apply(photo), ocio_apply(ocio_file(path), photo)) <= 1.0


# --- Hald CLUTs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [8, 12])
def test_hald_export_equals_opencolorio_on_an_identity_hald(tmp_path, level):
    look = Look.load(BUILTIN[2])
    look.to_cube(tmp_path / "look.cube")
    look.to_hald(tmp_path / "look.png", level=level)
    ours = Image.open(tmp_path / "look.png")
    assert ours.size == (level**3, level**3)
    assert levels_apart(ours, ocio_apply(ocio_file(tmp_path / "look.cube"), identity_hald(level))) <= 1.0


def lut3d_transform(table: np.ndarray) -> ocio.Lut3DTransform:
    """An OpenColorIO 3D LUT from a table (S, S, S, 3) indexed [b, g, r]; OpenColorIO lists blue fastest."""
    transform = ocio.Lut3DTransform()
    transform.setGridSize(table.shape[0])
    transform.setData(np.ascontiguousarray(table.transpose(2, 1, 0, 3), dtype=np.float32).reshape(-1))
    transform.setInterpolation(ocio.INTERP_LINEAR)
    return transform


def graded_hald(path: Path, level: int) -> np.ndarray:
    """A Hald made as darktable or G'MIC make one: the grade applied to an identity Hald (8-bit entries)."""
    hald = ocio_apply(ocio.ColorSpaceTransform(src="plain", dst="graded"), identity_hald(level), grading_config()).astype(np.uint8)
    Image.fromarray(hald).save(path)
    return hald


@pytest.mark.parametrize("level", [2, 4, 8])
def test_hald_reads_like_opencolorio_applying_its_table(tmp_path, photo, level):
    hald = graded_hald(tmp_path / "graded.png", level)
    look = Look.load(tmp_path / "graded.png")
    assert look.lut.shape[0] == level**2
    reference = ocio_apply(lut3d_transform(hald.reshape((level**2,) * 3 + (3,)) / 255.0), photo)
    assert levels_apart(look.apply(photo), reference) <= 1.0


def test_opencolorio_layout_of_a_table():
    """The check above relies on handing OpenColorIO the table in its order: an identity stays identity."""
    table = np.random.default_rng(0).uniform(0, 1, (5, 5, 5, 3))
    colour = Image.fromarray(np.uint8([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]]))
    np.testing.assert_allclose(ocio_apply(lut3d_transform(table), colour)[0], np.round(np.clip([table[0, 0, 4], table[0, 4, 0], table[4, 0, 0]], 0, 1) * 255))


def test_level_12_hald_is_resampled_to_65_and_stays_close_to_the_grade(tmp_path, photo):
    """144³ points are more than a look holds (65³): resampled by trilinear interpolation of the Hald. OpenColorIO
    takes at most 129³, so the reference is the grade itself; 8-bit entries clamped at the grid keep it within 2."""
    graded_hald(tmp_path / "graded.png", 12)
    look = Look.load(tmp_path / "graded.png")
    assert look.lut.shape[0] == 65
    reference = ocio_apply(ocio.ColorSpaceTransform(src="plain", dst="graded"), photo, grading_config())
    ours = np.asarray(look.apply(photo), dtype=np.float64)
    assert np.abs(ours - reference).max() <= 2.0 and np.abs(ours - reference).mean() < 0.3

