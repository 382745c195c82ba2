"""What can be counted, and by what: the catalogue behind the figures API. Pure.

Every measure counts distinct things (cases, persons, contacts...) whose instant falls in
the period; grouping by a dimension never double-counts a total, because totals are
counted distinctly too, not summed from the cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

CASE_DIMENSIONS = (
    "office",
    "case_type",
    "jurisdiction",
    "channel",
    "gender",
    "nationality",
    "age_band",
    "opened_month",
    "closed_month",
    "outcome",
    "month",
)


class Measure(StrEnum):
    PERSONS = "persons"
    CASES_OPENED = "cases_opened"
    CASES_CLOSED = "cases_closed"
    CONTACTS = "contacts"
    INTERVIEWS = "interviews"
    DETENTION_PLACEMENTS = "detention_placements"
    PERSONS_DETAINED = "persons_detained"
    DEADLINES_COMPUTED = "deadlines_computed"
    DEADLINES_MET = "deadlines_met"
    DEADLINES_MISSED = "deadlines_missed"
    NOTIFICATIONS = "notifications"


@dataclass(frozen=True)
class MeasureSpec:
    description: str
    dimensions: tuple[str, ...]


MEASURES: dict[Measure, MeasureSpec] = {
    Measure.PERSONS: MeasureSpec(
        "distinct persons with a case opened, a contact, an interview or a detention placement "
        "in the period (a case with no registered person counts as one person)",
        CASE_DIMENSIONS,
    ),
    Measure.CASES_OPENED: MeasureSpec("cases opened in the period", CASE_DIMENSIONS),
    Measure.CASES_CLOSED: MeasureSpec("cases closed in the period", CASE_DIMENSIONS),
    Measure.CONTACTS: MeasureSpec(
        "contacts logged in the period; channel and outcome are the contact's own",
        CASE_DIMENSIONS,
    ),
    Measure.INTERVIEWS: MeasureSpec("interviews held in the period", (*CASE_DIMENSIONS, "authority")),
    Measure.DETENTION_PLACEMENTS: MeasureSpec(
        "placements in detention or prison starting in the period", (*CASE_DIMENSIONS, "kind")
    ),
    Measure.PERSONS_DETAINED: MeasureSpec(
        "distinct persons placed in detention or prison in the period", (*CASE_DIMENSIONS, "kind")
    ),
    Measure.DEADLINES_COMPUTED: MeasureSpec(
        "deadlines computed in the period", (*CASE_DIMENSIONS, "purpose")
    ),
    Measure.DEADLINES_MET: MeasureSpec("deadlines met in the period", (*CASE_DIMENSIONS, "purpose")),
    Measure.DEADLINES_MISSED: MeasureSpec(
        "deadlines whose due instant passed, unmet, in the period", (*CASE_DIMENSIONS, "purpose")
    ),
    Measure.NOTIFICATIONS: MeasureSpec(
        "notifications reaching each status in the period",
        ("office", "month", "status", "channel", "recipient_kind", "reason"),
    ),
}


class InvalidQuery(ValueError):
    """A figures query that cannot be answered; the message names the field."""


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidQuery("start, end: give a UTC offset")
        if self.end <= self.start:
            raise InvalidQuery("end: must be after start")

    def year_before(self) -> Period:
        return Period(_minus_one_year(self.start), _minus_one_year(self.end))


def _minus_one_year(instant: datetime) -> datetime:
    day = instant.date()
    try:
        shifted = day.replace(year=day.year - 1)
    except ValueError:  # 29 February: the year before has no such day
        shifted = date(day.year - 1, 2, 28)
    return instant.replace(year=shifted.year, month=shifted.month, day=shifted.day)


def check_grouping(measure: Measure, group_by: list[str], *, published: bool) -> tuple[str, ...]:
    allowed = MEASURES[measure].dimensions
    unknown = [d for d in group_by if d not in allowed]
    if unknown:
        raise InvalidQuery(
            f"group_by: {', '.join(unknown)} not a dimension of {measure} ({', '.join(allowed)})"
        )
    if len(set(group_by)) != len(group_by):
        raise InvalidQuery("group_by: a dimension is repeated")
    if published and len(group_by) > 2:
        raise InvalidQuery("group_by: published figures are tables of at most two dimensions")
    return tuple(group_by)


def change(current: int | None, previous: int | None) -> float | None:
    """Relative change from ``previous`` to ``current`` (0.25 is +25 %), when both are known."""

    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous
