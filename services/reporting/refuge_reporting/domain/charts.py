"""Geometry of the report's SVG charts, readable without colour. Pure.

Bars of the year are solid, bars of the year before hatched; the line of the year is solid
with round markers, the year before dashed with square markers. Every bar and point carries
its number as text, so the chart reads in black and white and to a screen reader (the SVG
has a title and each mark a ``<title>``). Hidden (suppressed) values draw no mark. The line
chart has a labelled y-axis whose ticks are round numbers (1, 2 or 5 times a power of ten),
so a point's height reads against the axis as well as from its own number.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 640
BAR_HEIGHT = 260
LINE_HEIGHT = 240
MARGIN_LEFT = 40
MARGIN_BOTTOM = 70
MARGIN_TOP = 20
LINE_MARGIN_LEFT = 76  # room for the y-axis: its title, turned, and tick values like "12 000"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str
    previous_year: bool


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    groups: list[tuple[float, str]]  # (x of the group's centre, label)
    height: int = BAR_HEIGHT


def _scale(values: list[int | None]) -> int:
    return max([v for v in values if v is not None] + [1])


def bar_chart(groups: list[tuple[str, int | None, int | None]]) -> BarChart:
    """One group per label: the year's bar and the year before's, side by side."""

    top = _scale([v for _l, a, b in groups for v in (a, b)])
    plot_height = BAR_HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = (WIDTH - MARGIN_LEFT) / max(1, len(groups))
    width = min(40.0, slot / 3)
    bars, centres = [], []
    for index, (label, value, previous) in enumerate(groups):
        centre = MARGIN_LEFT + slot * (index + 0.5)
        centres.append((centre, label))
        for offset, number, before in ((-width, previous, True), (0.0, value, False)):
            if number is None:
                continue
            height = plot_height * number / top
            y = MARGIN_TOP + plot_height - height
            bars.append(Bar(centre + offset, y, width, height, number, label, before))
    return BarChart(bars, centres)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: int
    label: str


@dataclass(frozen=True)
class LineChart:
    current: list[Point]
    previous: list[Point]
    ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, int]]  # (y, value), from 0 up to the axis' top
    axis_x: float = LINE_MARGIN_LEFT
    axis_top: float = MARGIN_TOP
    axis_bottom: float = MARGIN_TOP
    height: int = LINE_HEIGHT


Y_TICKS = 5  # at most this many steps on the y-axis


def round_step(top: int, steps: int = Y_TICKS) -> int:
    """The smallest round step (1, 2 or 5 times a power of ten, at least 1) with which
    ``steps`` steps reach ``top``: ticks a reader can add up without a calculator."""

    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude * steps >= top:
                return factor * magnitude
        magnitude *= 10


def line_chart(labels: list[str], current: list[int | None], previous: list[int | None]) -> LineChart:
    """Two series over the same labels (months); a hidden value breaks no line, it is skipped."""

    largest = _scale(current + previous)
    step_value = round_step(largest)
    top = step_value * -(-largest // step_value)  # the axis ends on a tick, at or above the largest
    plot_height = LINE_HEIGHT - MARGIN_BOTTOM - MARGIN_TOP  # month names below, clear of 0
    step = (WIDTH - LINE_MARGIN_LEFT - 20) / max(1, len(labels) - 1)

    def points(values: list[int | None]) -> list[Point]:
        return [
            Point(LINE_MARGIN_LEFT + step * i, MARGIN_TOP + plot_height * (1 - v / top), v, labels[i])
            for i, v in enumerate(values)
            if v is not None
        ]

    ticks = [(LINE_MARGIN_LEFT + step * i, label) for i, label in enumerate(labels)]
    y_ticks = [
        (MARGIN_TOP + plot_height * (1 - value / top), value) for value in range(0, top + 1, step_value)
    ]
    return LineChart(
        points(current),
        points(previous),
        ticks,
        y_ticks,
        axis_top=MARGIN_TOP,
        axis_bottom=MARGIN_TOP + plot_height,
    )


def polyline(points: list[Point]) -> str:
    return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in points)
