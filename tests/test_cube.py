import math

import pytest
import torch

from influgan.cube import CubeError, format_cube, load_cube, parse_cube, save_cube
from influgan.lut import identity_lut


def cube_text(size=2, rows=None, header=""):
    rows = rows if rows is not None else [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    return f'{header}TITLE "t"\nLUT_3D_SIZE {size}\n' + "\n".join(rows) + "\n"


def test_round_trip(tmp_path):
    lut = (identity_lut(9) ** 1.3).clamp(0, 1)
    save_cube(tmp_path / "a.cube", lut, title='My "look"')
    loaded, title = load_cube(tmp_path / "a.cube")
    assert torch.allclose(loaded, lut, atol=1e-6)
    assert title == "My 'look'"


def test_written_file_follows_the_spec():
    text = format_cube(identity_lut(2), "Warm")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[:4] == ['TITLE "Warm"', "LUT_3D_SIZE 2", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    data = [tuple(float(v) for v in line.split()) for line in lines[4:]]
    assert data[1] == (1.0, 0.0, 0.0)  # red varies fastest
    assert data[2] == (0.0, 1.0, 0.0)
    assert data[4] == (0.0, 0.0, 1.0)


def test_resized_export():
    text = format_cube(identity_lut(33), "x", size=17)
    lut, _ = parse_cube(text)
    assert lut.shape == (17, 17, 17, 3)
    assert torch.allclose(lut, identity_lut(17), atol=1e-6)


def test_comments_blank_lines_and_domain():
    text = "# made by hand\n\n" + cube_text(header="DOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\n") + "# end\n"
    lut, title = parse_cube(text)
    assert title == "t" and torch.allclose(lut, identity_lut(2))


def test_non_unit_domain_is_rescaled():
    rows = [f"{r * 2} {g * 2} {b * 2}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    lut, _ = parse_cube(cube_text(rows=rows, header="DOMAIN_MIN 0 0 0\nDOMAIN_MAX 2 2 2\n"))
    assert torch.allclose(lut, identity_lut(2), atol=1e-6)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no LUT_3D_SIZE"),
        ('TITLE "t"\n0 0 0\n', "before LUT_3D_SIZE"),
        (cube_text(size=100000), r"outside 2\.\.65"),
        (cube_text(size=1), r"outside 2\.\.65"),
        (cube_text(size="abc"), "whole number"),
        (cube_text(rows=["0 0 0"] * 7), "expected 2³ = 8 data rows, found 7"),
        (cube_text(rows=["0 0 0"] * 9), "more than"),
        (cube_text(rows=["0 0 nan"] + ["0 0 0"] * 7), "NaN"),
        (cube_text(rows=["0 0 inf"] + ["0 0 0"] * 7), "NaN or infinite"),
        (cube_text(rows=["0 0"] + ["0 0 0"] * 7), "needs 3 numbers"),
        (cube_text(rows=["0 0 x1"] + ["0 0 0"] * 7), "not a number"),
        ("TITLE untitled\nLUT_3D_SIZE 2\n", "quoted"),
        ("LUT_1D_SIZE 16\n", "1D LUT"),
        ("FOO 1\n", "unknown keyword"),
        (cube_text(header="DOMAIN_MIN 1 1 1\nDOMAIN_MAX 0 0 0\n"), "must exceed"),
    ],
)
def test_malformed_files_give_clear_errors(text, message):
    with pytest.raises(CubeError, match=message):
        parse_cube(text)


def test_binary_and_missing_files(tmp_path):
    (tmp_path / "bin.cube").write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(CubeError, match="not a text"):
        load_cube(tmp_path / "bin.cube")
    with pytest.raises(CubeError, match="cannot read"):
        load_cube(tmp_path / "missing.cube")


def test_values_are_clamped_to_unit_range():
    rows = ["-0.5 0 0"] + [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)][1:]
    lut, _ = parse_cube(cube_text(rows=rows))
    assert lut.min() == 0.0 and not math.isnan(float(lut.sum()))
