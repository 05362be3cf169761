import math
import tracemalloc

import numpy as np
import pytest

from influgan.looks.cube import MAX_LINE_CHARS, CubeError, format_cube, load_cube, parse_cube, save_cube
from influgan.looks.lut import apply_lut_colours, identity_lut


def cube_text(size=2, rows=None, header=""):
    rows = rows if rows is not None else [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    return f'{header}TITLE "t"\nLUT_3D_SIZE {size}\n' + "\n".join(rows) + "\n"


def test_round_trip(tmp_path):
    lut = identity_lut(9) ** 1.3
    save_cube(tmp_path / "a.cube", lut, title='My "look"')
    loaded, title = load_cube(tmp_path / "a.cube")
    np.testing.assert_allclose(loaded, lut, atol=1e-6)
    assert title == "My 'look'"


@pytest.mark.parametrize("title", ["Summer #2", "#1 look", "50% warmer ; (v2)"])
def test_title_with_hash_survives_a_round_trip(tmp_path, title):
    save_cube(tmp_path / "a.cube", identity_lut(2), title=title)
    assert load_cube(tmp_path / "a.cube")[1] == title


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
    np.testing.assert_allclose(lut, identity_lut(17), atol=1e-6)


def test_comments_blank_lines_and_domain():
    text = "# made by hand\n\n" + cube_text(header="DOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\n") + "# end\n"
    lut, title = parse_cube(text)
    assert title == "t" and np.allclose(lut, identity_lut(2))


def test_non_unit_domain_is_rescaled():
    rows = [f"{r * 2} {g * 2} {b * 2}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    lut, _ = parse_cube(cube_text(rows=rows, header="DOMAIN_MIN 0 0 0\nDOMAIN_MAX 2 2 2\n"))
    np.testing.assert_allclose(lut, identity_lut(2), atol=1e-6)


@pytest.mark.parametrize("size", [2, 17, 33, 65])
def test_the_file_keeps_its_own_size(size):
    lut = identity_lut(size) ** 0.8
    loaded, _ = parse_cube(format_cube(lut))
    assert loaded.shape == (size, size, size, 3)
    np.testing.assert_allclose(loaded, lut, atol=1e-6)


def test_quotes_inside_a_quoted_title_are_kept():
    rows = "\n".join(f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1))
    assert parse_cube(f'TITLE "<img src="x"> #1"\nLUT_3D_SIZE 2\n{rows}')[1] == '<img src="x"> #1'


def test_unquoted_title_and_lower_case_keywords():
    """What OpenColorIO reads: keywords in any case, TITLE with or without quotes."""
    rows = [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    lut, title = parse_cube("title Film look   # graded by hand\nlut_3d_size 2\ndomain_min 0 0 0\nDomain_Max 1 1 1\n" + "\n".join(rows))
    assert title == "Film look" and np.allclose(lut, identity_lut(2))


def test_shaper_then_3d_table():
    """The Resolve form: a 1D shaper (its rows first), then the 3D table fed by the shaper's output."""
    shaper = np.linspace(0, 1, 9) ** 0.5  # every channel: square root
    table = identity_lut(3) ** 2.0  # squares each channel: together, the identity
    text = "LUT_1D_SIZE 9\nLUT_1D_INPUT_RANGE 0 1\nLUT_3D_SIZE 3\nLUT_3D_INPUT_RANGE 0.0 1.0\n"
    text += "\n".join(f"{v} {v} {v}" for v in shaper) + "\n" + "\n".join(" ".join(map(str, row)) for row in table.reshape(-1, 3))
    lut, _ = parse_cube(text)
    assert lut.shape == (65, 65, 65, 3)  # shaper and table composed into one table of the largest size
    colours = np.random.default_rng(0).uniform(0, 1, (200, 3))
    expected = apply_lut_colours(np.interp(colours, np.linspace(0, 1, 9), shaper), table)  # shaper (linear), then 3D
    np.testing.assert_allclose(apply_lut_colours(colours, lut), expected, atol=2e-3)


def test_1d_only_file_gives_per_channel_curves():
    text = "LUT_1D_SIZE 3\n0 0 0\n0.25 0.5 0.75\n1 1 1\n"
    lut, _ = parse_cube(text)
    np.testing.assert_allclose(lut[32, 32, 32], [0.25, 0.5, 0.75], atol=1e-6)  # mid grey → the middle row


def test_entries_outside_the_unit_range_are_kept_for_interpolation():
    rows = ["-0.5 0 0"] + [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)][1:-1] + ["1.4 1.4 1.4"]
    lut, _ = parse_cube(cube_text(rows=rows))
    assert lut.min() == pytest.approx(-0.5) and lut.max() == pytest.approx(1.4)
    again, _ = parse_cube(format_cube(lut))  # and they are exported as they are
    np.testing.assert_allclose(again, lut, atol=1e-6)


def test_one_huge_line_costs_little_memory(tmp_path):
    """A 30 MB file of one line is refused after reading MAX_LINE_CHARS of it, not after reading it all."""
    path = tmp_path / "line.cube"
    path.write_bytes(b"0" * (30 * 2**20))
    tracemalloc.start()
    try:
        with pytest.raises(CubeError, match=f"line 1 is longer than {MAX_LINE_CHARS} characters"):
            load_cube(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


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
        ('TITLE "untitled\nLUT_3D_SIZE 2\n', "quoted on both sides"),
        ("LUT_1D_SIZE 16\n", "expected 16 data rows, found 0"),
        ("LUT_1D_SIZE 1\n", r"outside 2\.\.65536"),
        ("LUT_3D_SIZE 2\nLUT_3D_SIZE 2\n", "a second LUT_3D_SIZE"),
        ("LUT_1D_SIZE 2\nLUT_3D_SIZE 2\n" + "0 0 0\n" * 11, r"expected 10 data rows, found 11|more than 10 data rows"),
        ("LUT_1D_SIZE 2\nLUT_1D_INPUT_RANGE 1 0\n0 0 0\n1 1 1\n", "must exceed"),
        ("LUT_3D_INPUT_RANGE 0\n", "needs 2 numbers"),
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


def test_absurd_values_are_limited():
    rows = ["-50 0 0"] + [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)][1:]
    lut, _ = parse_cube(cube_text(rows=rows))
    assert lut.min() == -1.0 and not math.isnan(float(lut.sum()))
