"""Table tests of the rules on other facts than a decision, against dates worked out by hand.

Calendar used (checked against the ``holidays`` package): France 2026, Easter Monday 6 April,
Labour Day Friday 1 May, Victory Day Friday 8 May; Mayotte abolition day Monday 27 April 2026;
summer time from Sunday 29 March 2026 02:00 (+01:00 -> +02:00). US: Independence Day 2027 is
a Sunday, observed Monday 5 July; summer time from Sunday 14 March 2027.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from refuge_deadlines.domain.packs import load_pack
from refuge_deadlines.domain.planning import CaseContext, CaseFact, PlannedDeadline, plan_case

PARIS = CaseContext("case-1", "FR", "Europe/Paris")
L911 = "fr.ceseda.l911-1.oqtf_ordinary"
L921_1 = "fr.ceseda.l921-1.oqtf_residence_order_prison"
R921_7D = "fr.ceseda.r921-1.residence_order_or_prison"
R921_48H = "fr.ceseda.r921-1.administrative_detention"
OPENS = "fr.ceseda.r431-5.renewal_window_opens"
CLOSES = "fr.ceseda.r431-5.renewal_window_closes"
ASYLUM = "us.ina208a2b.asylum_one_year"


def fact(event_id: str, fact_kind: str, /, **data: object) -> CaseFact:
    return CaseFact(event_id, fact_kind, data)


def oqtf(regime: str = "ordinary", notified_at: str = "2026-03-06T10:30:00+01:00") -> CaseFact:
    """OQTF notified Fri 6 March 2026: L.911-1 due Tue 7 April 23:59:59 (+02:00, summer)."""
    return fact(
        "d1", "decision_notified", jurisdiction="FR", decision="oqtf", regime=regime, notified_at=notified_at
    )


def by_key(plan: list[PlannedDeadline]) -> dict[str, PlannedDeadline]:
    return {d.key: d for d in plan}


# --- R.921-1 ------------------------------------------------------------------------------------
# Each row: detention kind, started_at, the rule of the new window (None: no new window), its due
# (the hand-worked date), and the "Other reading" the alternative must report (None: none).
R921_ROWS: list[tuple[str | None, str, str | None, str | None, str | None]] = [
    # Administrative detention Sat 28 March 10:00 +01:00: 48 real hours across the spring clock
    # change (29 March, 02:00 -> 03:00) end Mon 30 March 11:00 +02:00; before 7 April, no cap.
    ("administrative", "2026-03-28T10:00:00+01:00", R921_48H, "2026-03-30T11:00:00+02:00", None),
    # Administrative detention Mon 6 April 12:00: 48 hours end Wed 8 April 12:00, after the
    # L.911-1 window (Tue 7 April 23:59:59): capped to it; the full 48 hours are the alternative.
    (
        "administrative",
        "2026-04-06T12:00:00+02:00",
        R921_48H,
        "2026-04-07T23:59:59+02:00",
        "2026-04-08T12:00:00+02:00",
    ),
    # Notice on Wed 8 April 09:00: the window closed on 7 April, nothing restarts.
    ("administrative", "2026-04-08T09:00:00+02:00", None, None, None),
    # Notice at the very due instant: the window is no longer open (started_at < due is strict).
    ("administrative", "2026-04-07T23:59:59+02:00", None, None, None),
    # Detention from Sun 1 March, before the OQTF was notified (6 March): it did not occur while
    # the window was open (a detention at notification is the decision's regime): nothing.
    ("administrative", "2026-03-01T08:00:00+01:00", None, None, None),
    # Prison, Mon 9 March 15:00: seven days de date à date, 9 + 7 = Mon 16 March 23:59:59 +01:00
    # (franc, the alternative: 9 + 1 + 7 = Tue 17 March).
    (
        "prison",
        "2026-03-09T15:00:00+01:00",
        R921_7D,
        "2026-03-16T23:59:59+01:00",
        "2026-03-17T23:59:59+01:00",
    ),
    # Residence order, Fri 13 March: 13 + 7 = Fri 20 March (franc: Sat 21 -> Mon 23 March).
    (
        "residence_order",
        "2026-03-13T11:00:00+01:00",
        R921_7D,
        "2026-03-20T23:59:59+01:00",
        "2026-03-23T23:59:59+01:00",
    ),
    # Residence order, Wed 1 April: 1 + 7 = Wed 8 April, after Tue 7 April: capped to 7 April;
    # latest reading, franc: 1 + 1 + 7 = Thu 9 April.
    (
        "residence_order",
        "2026-04-01T10:00:00+02:00",
        R921_7D,
        "2026-04-07T23:59:59+02:00",
        "2026-04-09T23:59:59+02:00",
    ),
    # Residence order, Mon 30 March: 30 + 7 = Mon 6 April, Easter Monday -> Tue 7 April; franc
    # 30 + 8 = Tue 7 April too: the same as the replaced window, no other reading.
    ("residence_order", "2026-03-30T10:00:00+02:00", R921_7D, "2026-04-07T23:59:59+02:00", None),
    # Kind "other" (police custody, a retenue) and kind not stated: no new window.
    ("other", "2026-03-28T10:00:00+01:00", None, None, None),
    (None, "2026-03-28T10:00:00+01:00", None, None, None),
]


@pytest.mark.parametrize("row", R921_ROWS, ids=[f"{r[0]}@{r[1]}" for r in R921_ROWS])
def test_r921_1_restarts_an_open_l911_1_window(
    row: tuple[str | None, str, str | None, str | None, str | None],
) -> None:
    kind, started_at, rule, due, other = row
    plan = by_key(
        plan_case(PARIS, [oqtf(), fact("x1", "detention_started", started_at=started_at, kind=kind)])
    )
    original = plan[f"{L911}@d1"]
    assert original.due.isoformat() == "2026-04-07T23:59:59+02:00"
    if rule is None:
        assert list(plan) == [f"{L911}@d1"]
        assert original.status == "open"
        return
    new_key = f"{rule}@x1/{L911}@d1"
    assert original.status == "cancelled"
    assert original.cancel_reason == "superseded"
    assert original.superseded_by == new_key
    new = plan[new_key]
    assert (new.rule, new.purpose, new.status, new.trigger_event_id) == (rule, "appeal", "open", "x1")
    assert new.due.isoformat() == due
    assert new.timezone == "Europe/Paris"
    assert new.alternative is not None
    if other is None:
        assert "Other reading" not in new.alternative
    else:
        assert new.alternative.endswith(f"Other reading: due {other}.")


def test_r921_1_chains_a_residence_order_then_administrative_detention() -> None:
    # OQTF Fri 6 March; residence order Fri 13 March -> seven days to Fri 20 March; placed in
    # detention Wed 18 March 10:00 while that window is open -> 48 hours to Fri 20 March 10:00.
    plan = by_key(
        plan_case(
            PARIS,
            [
                oqtf(),
                fact(
                    "x1", "detention_started", started_at="2026-03-13T11:00:00+01:00", kind="residence_order"
                ),
                fact(
                    "x2", "detention_started", started_at="2026-03-18T10:00:00+01:00", kind="administrative"
                ),
            ],
        )
    )
    seven = f"{R921_7D}@x1/{L911}@d1"
    hours = f"{R921_48H}@x2/{seven}"
    assert plan[f"{L911}@d1"].superseded_by == seven
    assert plan[seven].superseded_by == hours
    assert plan[seven].due.isoformat() == "2026-03-20T23:59:59+01:00"
    assert plan[hours].due.isoformat() == "2026-03-20T10:00:00+01:00"
    assert plan[hours].status == "open"


def test_r921_1_administrative_detention_restarts_a_seven_day_decision_window() -> None:
    # OQTF notified under a residence order Mon 2 March: L.921-1 to Mon 9 March. Detention
    # Thu 5 March 09:00: 48 hours to Sat 7 March 09:00 (hours do not move).
    plan = by_key(
        plan_case(
            PARIS,
            [
                oqtf("residence_order", "2026-03-02T10:00:00+01:00"),
                fact(
                    "x1", "detention_started", started_at="2026-03-05T09:00:00+01:00", kind="administrative"
                ),
            ],
        )
    )
    assert plan[f"{L921_1}@d1"].due.isoformat() == "2026-03-09T23:59:59+01:00"
    assert plan[f"{L921_1}@d1"].superseded_by == f"{R921_48H}@x1/{L921_1}@d1"
    assert plan[f"{R921_48H}@x1/{L921_1}@d1"].due.isoformat() == "2026-03-07T09:00:00+01:00"


def test_r921_1_prison_does_not_restart_a_seven_day_or_48_hour_window() -> None:
    # A seven-day window from a later notice cannot end before a window already running
    # (seven days or 48 hours); the pack does not list them, so nothing changes.
    for regime, notified in (
        ("prison", "2026-03-02T10:00:00+01:00"),
        ("detention", "2026-03-02T10:00:00+01:00"),
    ):
        facts = [
            oqtf(regime, notified),
            fact("x1", "detention_started", started_at="2026-03-03T09:00:00+01:00", kind="prison"),
        ]
        assert all(d.status == "open" for d in plan_case(PARIS, facts))
        assert len(plan_case(PARIS, facts)) == 1


def test_r921_1_needs_an_open_window() -> None:
    # Appeal filed Mon 9 March: the L.911-1 deadline is met; a detention on 28 March restarts
    # nothing (the decision is already before the court).
    plan = plan_case(
        PARIS,
        [
            oqtf(),
            fact("a1", "appeal_filed", filed_at="2026-03-09T16:00:00+01:00"),
            fact("x1", "detention_started", started_at="2026-03-28T10:00:00+01:00", kind="administrative"),
        ],
    )
    assert [(d.key, d.status) for d in plan] == [(f"{L911}@d1", "met")]


def test_detention_restarts_nothing_in_a_us_case() -> None:
    context = CaseContext("case-2", "US", "America/New_York")
    decision = fact(
        "d1",
        "decision_notified",
        jurisdiction="US",
        decision="ij_decision",
        notified_at="2026-08-07T11:00:00-04:00",
    )
    detained = fact("x1", "detention_started", started_at="2026-08-10T11:00:00-04:00", kind="administrative")
    assert plan_case(context, [decision, detained]) == plan_case(context, [decision])


# --- R.431-5: residence permit renewal window ------------------------------------------------
# Each row: jurisdiction of the permit (None: the case's, FR), expires_on, opens, closes, the
# "Other reading" of the closing day (None: none).
PERMIT_ROWS: list[tuple[str | None, str, str, str, str | None]] = [
    # Expires Tue 30 June 2026. Opens: 30 June - 120 days (30 to 31 May, 31 to 30 April, 30 to
    # 31 March, 29 to 2 March) = Mon 2 March 00:00 +01:00. Closes: 30 June - 60 (30 to 31 May,
    # 30 to 1 May) = Fri 1 May, Labour Day -> the working day before, Thu 30 April 23:59:59.
    (
        None,
        "2026-06-30",
        "2026-03-02T00:00:00+01:00",
        "2026-04-30T23:59:59+02:00",
        "2026-05-01T23:59:59+02:00",
    ),
    # Expires Thu 13 Aug 2026. Closes: 13 Aug - 60 (13 to 31 July, 31 to 30 June, 16 to
    # 14 June) = Sun 14 June -> Fri 12 June. Opens: 13 Aug - 120 = Wed 15 April.
    (
        None,
        "2026-08-13",
        "2026-04-15T00:00:00+02:00",
        "2026-06-12T23:59:59+02:00",
        "2026-06-14T23:59:59+02:00",
    ),
    # Expires Mon 10 Aug 2026. Opens on Sun 12 April: an opening is never moved. Closes: Thu
    # 11 June, a working day: no other reading.
    (None, "2026-08-10", "2026-04-12T00:00:00+02:00", "2026-06-11T23:59:59+02:00", None),
    # Expires Mon 27 July 2026: opens Sun 29 March, the day of the clock change; midnight
    # exists (the change is at 02:00), so 00:00 +01:00.
    (None, "2026-07-27", "2026-03-29T00:00:00+01:00", "2026-05-28T23:59:59+02:00", None),
    # Mayotte (FR-976, Indian/Mayotte, +03:00). Expires Fri 26 June 2026: closes on Mon 27
    # April, abolition day in Mayotte -> Fri 24 April; opens Thu 26 February.
    (
        "FR-976",
        "2026-06-26",
        "2026-02-26T00:00:00+03:00",
        "2026-04-24T23:59:59+03:00",
        "2026-04-27T23:59:59+03:00",
    ),
    # The same expiry in metropolitan France: 27 April is a working day, not moved.
    ("FR", "2026-06-26", "2026-02-26T00:00:00+01:00", "2026-04-27T23:59:59+02:00", None),
]


@pytest.mark.parametrize("row", PERMIT_ROWS, ids=[f"{r[0]}:{r[1]}" for r in PERMIT_ROWS])
def test_r431_5_renewal_window(row: tuple[str | None, str, str, str, str | None]) -> None:
    jurisdiction, expires_on, opens, closes, other = row
    plan = by_key(
        plan_case(PARIS, [fact("p1", "permit_recorded", expires_on=expires_on, jurisdiction=jurisdiction)])
    )
    assert sorted(plan) == [f"{CLOSES}@p1", f"{OPENS}@p1"]
    window_opens, window_closes = plan[f"{OPENS}@p1"], plan[f"{CLOSES}@p1"]
    assert (window_opens.purpose, window_closes.purpose) == ("renewal_window_opens", "renewal_window_closes")
    assert window_opens.due.isoformat() == opens
    assert window_closes.due.isoformat() == closes
    zone = "Indian/Mayotte" if jurisdiction == "FR-976" else "Europe/Paris"
    assert window_opens.timezone == window_closes.timezone == zone
    assert window_closes.alternative is not None
    if other is None:
        assert "Other reading" not in window_closes.alternative
    else:
        assert window_closes.alternative.endswith(f"Other reading: due {other}.")


def test_a_later_permit_supersedes_the_earlier_windows() -> None:
    plan = by_key(
        plan_case(
            PARIS,
            [
                fact("p1", "permit_recorded", expires_on="2026-06-30"),
                fact("p2", "permit_recorded", expires_on="2027-06-30"),
            ],
        )
    )
    for rule in (OPENS, CLOSES):
        old, new = plan[f"{rule}@p1"], plan[f"{rule}@p2"]
        assert (old.status, old.cancel_reason, old.superseded_by) == ("cancelled", "superseded", f"{rule}@p2")
        assert new.status == "open"
    # 30 June 2027 - 60 days = Sat 1 May 2027 (also Labour Day) -> Fri 30 April 2027.
    assert plan[f"{CLOSES}@p2"].due.isoformat() == "2027-04-30T23:59:59+02:00"


def test_permits_and_arrivals_open_nothing_where_the_pack_has_no_rule() -> None:
    assert (
        plan_case(CaseContext("c", "US", None), [fact("p1", "permit_recorded", expires_on="2026-06-30")])
        == []
    )
    assert plan_case(PARIS, [fact("a1", "arrival_recorded", arrived_on="2026-01-10")]) == []


# --- US: asylum within one year of the last arrival --------------------------------------------
# Each row: arrived_on, due, "Other reading" (None: none). America/New_York.
ASYLUM_ROWS: list[tuple[str, str, str | None]] = [
    # Arrived Fri 13 March 2026: anniversary Sat 13 March 2027 (still EST: summer time starts
    # 14 March), not moved; the business-day reading gives Mon 15 March (EDT).
    ("2026-03-13", "2027-03-13T23:59:59-05:00", "2027-03-15T23:59:59-04:00"),
    # Arrived Sat 4 July 2026: anniversary Sun 4 July 2027, not moved; rolled: Mon 5 July is
    # the observed Independence Day, so Tue 6 July.
    ("2026-07-04", "2027-07-04T23:59:59-04:00", "2027-07-06T23:59:59-04:00"),
    # Leap day: arrived Tue 29 Feb 2028; no 29 Feb 2029, so the last day of February, Wed 28 Feb.
    ("2028-02-29", "2029-02-28T23:59:59-05:00", None),
    # Leap day and weekend: arrived Fri 29 Feb 2036 -> Sat 28 Feb 2037, not moved (rolled: Mon
    # 2 March 2037).
    ("2036-02-29", "2037-02-28T23:59:59-05:00", "2037-03-02T23:59:59-05:00"),
    # An ordinary day: arrived Tue 10 Feb 2026 -> Wed 10 Feb 2027.
    ("2026-02-10", "2027-02-10T23:59:59-05:00", None),
]


@pytest.mark.parametrize("row", ASYLUM_ROWS, ids=[r[0] for r in ASYLUM_ROWS])
def test_us_asylum_one_year(row: tuple[str, str, str | None]) -> None:
    arrived_on, due, other = row
    context = CaseContext("case-3", "US", "America/Los_Angeles")
    (deadline,) = plan_case(context, [fact("a1", "arrival_recorded", arrived_on=arrived_on)])
    assert (deadline.key, deadline.purpose, deadline.rule) == (f"{ASYLUM}@a1", "asylum_filing", ASYLUM)
    # The law's clock is the jurisdiction's, not the office's (as for decisions).
    assert deadline.timezone == "America/New_York"
    assert deadline.due.isoformat() == due
    assert deadline.alternative is not None
    if other is None:
        assert "Other reading" not in deadline.alternative
    else:
        assert deadline.alternative.endswith(f"Other reading: due {other}.")


def test_a_later_arrival_supersedes() -> None:
    context = CaseContext("case-3", "US", None)
    plan = by_key(
        plan_case(
            context,
            [
                fact("a1", "arrival_recorded", arrived_on="2026-01-10"),
                fact("a2", "arrival_recorded", arrived_on="2026-05-02", jurisdiction="US"),
            ],
        )
    )
    assert plan[f"{ASYLUM}@a1"].superseded_by == f"{ASYLUM}@a2"
    # Arrived Sat 2 May 2026 -> Sun 2 May 2027, not moved.
    assert plan[f"{ASYLUM}@a2"].due == datetime.fromisoformat("2027-05-02T23:59:59-04:00")


def test_every_rule_on_other_facts_has_a_row() -> None:
    ids = {
        rule.id
        for name in ("fr", "us")
        for rule in load_pack(name).rules
        if rule.trigger.event != "case.decision_notified"
    }
    # The age-out rule's rows are in test_coming_of_age.py.
    assert ids == {R921_7D, R921_48H, OPENS, CLOSES, ASYLUM, "fr.ceseda.r431-5.age_out"}
