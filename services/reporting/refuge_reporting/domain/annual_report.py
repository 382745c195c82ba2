"""The annual activity report: headline figures, tables and charts of one year. Pure.

Its figures are published figures: they arrive already suppressed (None where hidden), and
a share or a rate built from a hidden count is hidden too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refuge_reporting.domain.charts import BarChart, LineChart, bar_chart, line_chart
from refuge_reporting.domain.measures import change

Pair = tuple[int | None, int | None]  # (the year, the year before)


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    value: int | None
    previous: int | None

    @property
    def change(self) -> float | None:
        return change(self.value, self.previous)


@dataclass(frozen=True)
class Headline:
    key: str
    value: float | None
    previous: float | None
    share: bool = False  # a proportion (0..1) rather than a count

    @property
    def change(self) -> float | None:
        if self.share or self.value is None or self.previous is None or self.previous == 0:
            return None
        return (self.value - self.previous) / self.previous


@dataclass
class Table:
    key: str
    dimension: str
    lines: list[Line]
    total: Line


@dataclass
class AnnualReport:
    year: int
    organisation: str
    threshold: int
    headlines: list[Headline] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    bars: BarChart | None = None
    months: LineChart | None = None


def ratio(part: int | None, whole: int | None) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    return part / whole


def missed_rate(missed: int | None, met: int | None) -> float | None:
    """Deadlines missed out of those that came due (met or missed)."""

    if missed is None or met is None:
        return None
    return ratio(missed, missed + met)


def table(key: str, dimension: str, cells: dict[str, Pair], total: Pair, labels: dict[str, str]) -> Table:
    lines = [
        Line(k, labels.get(k, k), v, p)
        for k, (v, p) in sorted(cells.items(), key=lambda i: labels.get(i[0], i[0]))
    ]
    return Table(key, dimension, lines, Line("total", "Total", *total))


def procedure_bars(procedures: Table) -> BarChart:
    return bar_chart([(line.label, line.value, line.previous) for line in procedures.lines])


def monthly_line(
    month_names: list[str], current: dict[int, int | None], previous: dict[int, int | None]
) -> LineChart:
    """Months 1..12; a month with nothing counted is 0, a hidden month has no point."""

    return line_chart(
        month_names,
        [current.get(m, 0) for m in range(1, 13)],
        [previous.get(m, 0) for m in range(1, 13)],
    )
