"""The fine-tune's distance plot, drawn as a small SVG: how far the look's colours still are from the feed's.

Drawn here rather than by a charting widget so that nothing is cut off at any width (the SVG scales as a whole,
labels included), numbers keep every digit, and the axes say what the visitor cares about: the y-axis runs from
a fixed floor of 0 ΔE up to where the instant look started, so a fall from 12 to 9 reads as a quarter of the way,
not as the whole height; the x-axis runs over all the steps asked for, so the curve grows as the look learns.
The step-to-step noise of the loss (it is measured on a random sample of colours) is smoothed before it is drawn;
the raw values stay faintly behind.

    html = distance_svg([(1, 12.3), (2, 12.1), ...], steps=200)
"""
from __future__ import annotations

import math
from typing import Sequence

WIDTH, HEIGHT = 420, 190  # the SVG's own units; it scales to its box (narrow: its text stays readable on a phone)
LEFT, RIGHT, TOP, BOTTOM = 56, 22, 10, 40  # margins that hold the tick labels and the axis titles whole
CAPTION = "Colour distance to the feed (ΔE, lower is closer)"
EMPTY = "How far the look's colours are from the feed's (ΔE) is drawn here while it learns."


def smooth(values: Sequence[float], window: int) -> list[float]:
    """An exponential moving average over about ``window`` values, bias-corrected (the first points are not
    pulled toward 0), so a falling curve reads as falling without lagging far behind."""
    alpha = 2.0 / (max(1, window) + 1.0)
    out, average, weight = [], 0.0, 0.0
    for value in values:
        average = (1.0 - alpha) * average + alpha * value
        weight = (1.0 - alpha) * weight + alpha
        out.append(average / weight)
    return out


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value - 1e-9)


def _ticks(top: float, count: int = 4) -> list[float]:
    step = _nice_ceiling(top / count)
    return [index * step for index in range(int(top / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def distance_svg(history: Sequence[tuple[int, float]], steps: int) -> str:
    """The plot of ``history`` ((step, ΔE) pairs) over ``steps`` steps as an inline SVG in a div (no user text)."""
    if not history:
        return f'<div class="distance-plot"><div class="plot-caption">{CAPTION}</div><div class="empty-note">{EMPTY}</div></div>'
    steps = max(steps, history[-1][0], 1)
    raw = [distance for _, distance in history]
    smoothed = smooth(raw, max(5, steps // 10))
    top = _nice_ceiling(max(smoothed[0], max(smoothed)) * 1.05)  # from the instant look's distance down to 0
    x_ticks = _ticks(steps, 4)
    y_ticks = _ticks(top, 4)
    top = max(top, y_ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(step: float) -> float:
        return LEFT + plot_w * step / steps

    def y(value: float) -> float:
        return TOP + plot_h * (1.0 - min(max(value, 0.0), top) / top)

    def points(values: Sequence[float]) -> str:
        return " ".join(f"{x(step):.1f},{y(value):.1f}" for (step, _), value in zip(history, values))

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="Colour distance to the feed: '
             f'{raw[-1]:.1f} ΔE at step {history[-1][0]} of {steps}" xmlns="http://www.w3.org/2000/svg">']
    for value in y_ticks:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{_label(value)}</text>')
    for step in x_ticks:
        parts.append(f'<text class="tick" x="{x(step):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_label(step)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    parts.append(f'<text class="title" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">step</text>')
    parts.append(f'<text class="title" transform="translate(13 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">ΔE</text>')
    parts.append(f'<polyline class="raw" points="{points(raw)}"/>')
    parts.append(f'<polyline class="smoothed" points="{points(smoothed)}"/>')
    parts.append("</svg>")
    return f'<div class="distance-plot"><div class="plot-caption">{CAPTION}</div>{"".join(parts)}</div>'
