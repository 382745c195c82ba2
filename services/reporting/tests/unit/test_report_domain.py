"""The annual report's pure parts: rates built from hidden counts, chart geometry."""

from __future__ import annotations

import pytest

from refuge_reporting.domain.annual_report import Headline, missed_rate, ratio
from refuge_reporting.domain.charts import BAR_HEIGHT, MARGIN_BOTTOM, bar_chart, line_chart, round_step
from refuge_reporting.domain.measures import Period, change


def test_a_rate_from_a_hidden_count_is_hidden() -> None:
    assert missed_rate(3, 9) == 0.25
    assert missed_rate(None, 9) is None and ratio(4, 0) is None
    assert Headline("x", 0.2, 0.1, share=True).change is None  # shares compare in points, not %


def test_change_and_the_year_before() -> None:
    assert change(15, 10) == 0.5 and change(3, 0) is None
    from datetime import UTC, datetime

    leap = Period(datetime(2028, 2, 29, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC))
    assert leap.year_before().start == datetime(2027, 2, 28, tzinfo=UTC)


def test_bars_scale_to_the_largest_value_and_skip_hidden_ones() -> None:
    chart = bar_chart([("a", 10, 5), ("b", None, 20)])
    assert [(b.label, b.value, b.previous_year) for b in chart.bars] == [
        ("a", 5, True),
        ("a", 10, False),
        ("b", 20, True),
    ]
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.value == 20 and tallest.y + tallest.height == BAR_HEIGHT - MARGIN_BOTTOM
    assert chart.bars[1].height == tallest.height / 2


def test_a_hidden_month_draws_no_point() -> None:
    chart = line_chart(["j", "f", "m"], [1, None, 3], [2, 2, 2])
    assert [p.label for p in chart.current] == ["j", "m"] and len(chart.previous) == 3


def test_the_line_chart_has_a_y_axis_of_round_ticks_from_zero_to_the_largest_value() -> None:
    assert [round_step(n) for n in (1, 5, 6, 11, 47, 230, 9_999)] == [1, 1, 2, 5, 10, 50, 2_000]
    chart = line_chart(["j", "f", "m"], [0, 37, None], [12, 48, 3])
    values = [value for _y, value in chart.y_ticks]
    assert values == [0, 10, 20, 30, 40, 50]
    ys = {value: y for y, value in chart.y_ticks}
    assert ys[0] == chart.axis_bottom and ys[50] == chart.axis_top
    assert all(a > b for a, b in zip(ys.values(), list(ys.values())[1:], strict=False))  # upwards
    # a point sits where its value reads on the axis
    (point,) = [p for p in chart.current if p.value == 37]
    assert point.y == pytest.approx(ys[0] + (ys[50] - ys[0]) * 37 / 50)
    assert all(p.x >= chart.axis_x for p in chart.current + chart.previous)


def test_an_empty_year_still_has_an_axis() -> None:
    chart = line_chart(["j", "f"], [0, 0], [0, 0])
    assert [value for _y, value in chart.y_ticks] == [0, 1]
