"""The fine-tune's distance plot (influgan/serving/plot.py): axes from 0 to the start, every digit, smoothed."""
import re

import numpy as np

from influgan.serving.plot import EMPTY, HEIGHT, WIDTH, distance_svg, smooth


def falling(steps: int = 200, seed: int = 0) -> list[tuple[int, float]]:
    """A distance falling from 12 to 9 ΔE with step-to-step noise of ±0.8, as the fine-tune's loss is."""
    rng = np.random.default_rng(seed)
    return [(step, 9.0 + 3.0 * np.exp(-step / 60) + rng.normal(0, 0.8)) for step in range(1, steps + 1)]


def test_the_smoothed_curve_falls_where_the_raw_one_zigzags():
    history = falling()
    steps = np.array([step for step, _ in history])
    raw, true = np.array([d for _, d in history]), 9.0 + 3.0 * np.exp(-steps / 60)
    smoothed = np.array(smooth(raw, 20))  # what distance_svg draws for 200 steps
    assert (np.diff(raw) > 0).mean() > 0.4  # the raw loss goes up nearly as often as down
    assert np.std(smoothed[20:] - true[20:]) < 0.3 * np.std(raw - true)  # the noise mostly gone
    assert smoothed[-1] < smoothed[0] - 2 and abs(smoothed[0] - raw[0]) < 1e-9  # it falls; no pull toward 0 at the start


def test_the_axes_run_from_zero_to_the_start_and_over_all_steps():
    svg = distance_svg(falling(50), steps=200)
    ticks = re.findall(r'class="tick"[^>]*>([^<]+)<', svg)
    y_labels, x_labels = ticks[: len(ticks) - 5], ticks[-5:]
    assert y_labels[0] == "0" and float(y_labels[-1]) >= 12  # a fixed floor of 0 ΔE; the top holds the start
    assert x_labels == ["0", "50", "100", "150", "200"]  # the whole run, so the curve grows as it learns
    assert "10" in y_labels or "12.5" in y_labels or "15" in y_labels  # two-digit values keep both digits


def test_every_point_and_label_lies_inside_the_drawing():
    svg = distance_svg(falling(1000), steps=1000)
    for x, y in re.findall(r"([\d.]+),([\d.]+)", " ".join(re.findall(r'points="([^"]+)"', svg))):
        assert 0 <= float(x) <= WIDTH and 0 <= float(y) <= HEIGHT
    assert len(re.findall(r'points="([^"]+)"', svg)[0].split()) == 1000


def test_nothing_learned_yet_says_what_will_appear():
    assert EMPTY in distance_svg([], 200)
