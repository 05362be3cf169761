"""Property-based tests: the .cube parser, the look loader and the image loader on random and mangled bytes.

Whatever they are given, they return a result or raise their one documented error (CubeError, LookError,
ImageError) with a message, quickly; nothing else escapes.
"""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import synthetic_photo
from influgan.looks.cube import CubeError, format_cube, load_cube, parse_cube
from influgan.images import ImageError, load_image
from influgan.looks.look import Look, LookError
from influgan.looks.lut import ENTRY_MAX, ENTRY_MIN, identity_lut

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SECONDS = 5.0  # far above what any single input takes; a slower one counts as a hang


def _valid_files() -> list[bytes]:
    """Small valid files in every format the loader reads: the seeds that mangling starts from."""
    photo = synthetic_photo(7, (24, 16))
    try:  # InfluGAN registers HEIC on the first HEIC file; the seeds are written before any is read
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:
        pass
    files = []
    for fmt, kwargs in [("JPEG", {}), ("PNG", {}), ("WEBP", {}), ("GIF", {}), ("TIFF", {}), ("BMP", {}), ("HEIF", {})]:
        buffer = io.BytesIO()
        try:
            photo.save(buffer, format=fmt, **kwargs)
        except (KeyError, OSError, ValueError):  # a format this Pillow cannot write
            continue
        files.append(buffer.getvalue())
    return files


VALID_FILES = _valid_files()
CUBE = format_cube(identity_lut(3), "seed")


@st.composite
def mangled(draw, seeds: list[bytes]) -> bytes:
    """A valid file with some bytes overwritten, some cut off, or junk appended; or plain random bytes."""
    kind = draw(st.sampled_from(["random", "flip", "truncate", "append"]))
    if kind == "random":
        return draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from(seeds)))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind == "append":
        return bytes(data) + draw(st.binary(max_size=256))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def timed(function, *args):
    started = time.perf_counter()
    try:
        return function(*args)
    finally:
        assert time.perf_counter() - started < SECONDS


@FUZZ
@given(data=mangled(VALID_FILES))
def test_image_loader_raises_only_image_error(tmp_path, data):
    path = tmp_path / "upload.jpg"
    path.write_bytes(data)
    try:
        image = timed(load_image, path)
    except ImageError as error:
        assert str(error).startswith("upload.jpg: ") and len(str(error)) > len("upload.jpg: ") + 5
    else:
        assert image.mode == "RGB" and image.width * image.height >= 1


@FUZZ
@given(text=st.one_of(st.text(max_size=400), mangled([CUBE.encode()]).map(lambda b: b.decode("latin-1"))))
def test_cube_parser_raises_only_cube_error(text):
    try:
        lut, _ = timed(parse_cube, text)
    except CubeError as error:
        assert str(error)
    else:
        assert lut.ndim == 4 and bool(np.isfinite(lut).all()) and ENTRY_MIN <= float(lut.min()) <= float(lut.max()) <= ENTRY_MAX


@FUZZ
@given(lines=st.lists(st.sampled_from(["TITLE \"x\"", "LUT_3D_SIZE 2", "LUT_3D_SIZE 65", "LUT_1D_SIZE 2", "lut_1d_input_range 0 1e308", "DOMAIN_MIN -1e308 0 0",
                                       "DOMAIN_MAX 1e308 1 1", "DOMAIN_MAX 1e-300 1 1", "0 0 0", "1e300 -1e300 0.5",
                                       "1 1 1", "# note", "", "nan 0 0", "0 0 inf"]), max_size=40))
def test_cube_parser_on_plausible_lines(lines):
    """Lines that each look right, in any order and number: the parser's state machine, not its tokenizer."""
    try:
        lut, _ = timed(parse_cube, "\n".join(lines))
    except CubeError:
        return
    assert bool(np.isfinite(lut).all()) and ENTRY_MIN <= float(lut.min()) <= float(lut.max()) <= ENTRY_MAX


@FUZZ
@given(data=st.binary(max_size=512))
def test_cube_file_loader_raises_only_cube_error(tmp_path, data):
    path = tmp_path / "upload.cube"
    path.write_bytes(data)
    with pytest.raises(CubeError):
        load_cube(path)  # random bytes are never a whole .cube


@pytest.fixture(scope="module")
def look_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("look") / "seed.look"
    Look(lut=identity_lut(3) * 0.9, name="seed").save(path)
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_look_loader_raises_only_look_error(look_bytes, data):
    blob = data.draw(mangled([look_bytes]))
    try:
        look = timed(Look.from_bytes, blob, "upload.look")
    except LookError as error:
        assert "upload.look" in str(error)
    else:
        assert bool(np.isfinite(look.lut).all()) and np.isfinite(look.finish.grain_amount)
