"""An unaccompanied minor's coming of age: the coarse anchor and the age-out deadline, worked
out by hand (R.431-5 as read by CE 1 June 2022 n° 441736: two months after turning 18)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from refuge_deadlines.domain.coming_of_age import (
    coming_of_age_anchor,
    earliest_coming_of_age,
    latest_coming_of_age,
)
from refuge_deadlines.domain.planning import CaseContext, CaseFact, PlannedDeadline, deadline_uuid, plan_case

PARIS_SUMMER = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("birth_date", "birth_year", "earliest", "latest"),
    [
        (date(2009, 3, 20), None, date(2027, 3, 1), date(2027, 3, 20)),
        (date(2009, 1, 1), None, date(2027, 1, 1), date(2027, 1, 1)),
        (date(2008, 2, 29), None, date(2026, 2, 1), date(2026, 3, 1)),  # 2026 has no 29 February
        (date(2012, 2, 29), None, date(2030, 2, 1), date(2030, 3, 1)),
        (date(2010, 2, 28), None, date(2028, 2, 1), date(2028, 2, 28)),
        (None, 2009, date(2027, 1, 1), date(2027, 12, 31)),
        (None, None, None, None),
    ],
)
def test_the_anchor_is_the_earliest_day_the_person_can_turn_18(
    birth_date: date | None, birth_year: int | None, earliest: date | None, latest: date | None
) -> None:
    assert earliest_coming_of_age(birth_date, birth_year) == earliest
    assert latest_coming_of_age(birth_date, birth_year) == latest


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 22), date(2027, 3, 1)),  # a minor
        (date(2027, 3, 10), date(2027, 3, 1)),  # after the anchor, still 17 (born 20 March)
        (date(2027, 5, 20), date(2027, 3, 1)),  # 18, the two months still running
        (date(2027, 5, 21), None),  # the two months over: nothing to remind any more
        (date(2031, 1, 1), None),
    ],
)
def test_coming_of_age_stops_mattering_two_months_after_the_birthday(
    today: date, expected: date | None
) -> None:
    assert coming_of_age_anchor(date(2009, 3, 20), None, today) == expected


def _plan(jurisdiction: str, *facts: CaseFact) -> list[PlannedDeadline]:
    return plan_case(CaseContext("case-1", jurisdiction, None), list(facts))


def test_age_out_is_due_two_months_after_the_anchor_date_to_date_never_moved() -> None:
    [deadline] = _plan("FR", CaseFact("e1", "comes_of_age", {"earliest_on": "2027-03-01"}))
    assert deadline.purpose == "age_out" and deadline.rule == "fr.ceseda.r431-5.age_out"
    # 1 May 2027 is a Saturday and a public holiday: not moved (the earliest reading).
    assert deadline.due == datetime(2027, 5, 1, 23, 59, 59, tzinfo=PARIS_SUMMER)
    assert deadline.timezone == "Europe/Paris"
    assert deadline.alternative is not None and "2027-05-03T23:59:59+02:00" in deadline.alternative


def test_age_out_in_mayotte_is_shown_in_mayotte_time() -> None:
    [deadline] = _plan("FR-976", CaseFact("e1", "comes_of_age", {"earliest_on": "2027-08-01"}))
    assert deadline.timezone == "Indian/Mayotte"
    assert deadline.due == datetime(2027, 10, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=3)))


def test_a_corrected_birth_date_supersedes_and_a_withdrawal_cancels() -> None:
    first = CaseFact("e1", "comes_of_age", {"earliest_on": "2027-03-01"})
    corrected = CaseFact("e2", "comes_of_age", {"earliest_on": "2027-06-01"})
    old, new = _plan("FR", first, corrected)
    assert (old.status, old.cancel_reason, old.superseded_by) == ("cancelled", "superseded", new.key)
    assert new.status == "open" and new.due.date() == date(2027, 8, 1)
    [*_, withdrawn] = _plan("FR", first, corrected, CaseFact("e3", "comes_of_age_withdrawn", {}))
    assert (withdrawn.status, withdrawn.cancel_reason) == ("cancelled", "fact_withdrawn")


def test_a_us_case_has_no_age_out_rule_yet() -> None:
    assert _plan("US", CaseFact("e1", "comes_of_age", {"earliest_on": "2027-03-01"})) == []


def test_the_permit_application_filed_in_time_meets_it_when_it_names_it() -> None:
    anchored = CaseFact("e1", "comes_of_age", {"earliest_on": "2027-03-01"})
    [open_deadline] = _plan("FR", anchored)
    deadline_id = str(deadline_uuid("case-1", open_deadline.key))
    named = {"filed_at": "2027-04-12T10:00:00+02:00", "deadline_id": deadline_id}
    [met] = _plan("FR", anchored, CaseFact("e2", "appeal_filed", named))
    assert met.status == "met" and met.met_by_event_id == "e2"
    # A filing that names no deadline is an appeal, not this application.
    unnamed = CaseFact("e2", "appeal_filed", {"filed_at": "2027-04-12T10:00:00+02:00"})
    assert _plan("FR", anchored, unnamed)[0].status == "open"
