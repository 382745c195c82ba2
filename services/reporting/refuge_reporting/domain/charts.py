"""Geometry of the report's SVG charts, readable without colour. Pure.

Bars of the year are solid, bars of the year before hatched; the line of the year is solid
with round markers, the year before dashed with square markers. Every bar and point carries
its number as text, so the chart reads in black and white and to a screen reader (the SVG
has a title and each mark a ``<title>``). Hidden (suppressed) values draw no mark.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 640
BAR_HEIGHT = 260
LINE_HEIGHT = 240
MARGIN_LEFT = 40
MARGIN_BOTTOM = 70
MARGIN_TOP = 20


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
    height: int = LINE_HEIGHT


def line_chart(labels: list[str], current: list[int | None], previous: list[int | None]) -> LineChart:
    """Two series over the same labels (months); a hidden value breaks no line, it is skipped."""

    top = _scale(current + previous)
    plot_height = LINE_HEIGHT - MARGIN_BOTTOM - MARGIN_TOP + 30
    step = (WIDTH - MARGIN_LEFT - 20) / max(1, len(labels) - 1)

    def points(values: list[int | None]) -> list[Point]:
        return [
            Point(MARGIN_LEFT + step * i, MARGIN_TOP + plot_height * (1 - v / top), v, labels[i])
            for i, v in enumerate(values)
            if v is not None
        ]

    ticks = [(MARGIN_LEFT + step * i, label) for i, label in enumerate(labels)]
    return LineChart(points(current), points(previous), ticks)


def polyline(points: list[Point]) -> str:
    return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in points)
