"""Table tests: every rule of every pack against dates worked out by hand.

Each row: jurisdiction, decision, regime, notified_at, timezone (None = default), rule id,
expected due. The comment above each row is the hand reasoning. 2026: Easter Monday 6 April,
Labour Day Friday 1 May, Victory Day Friday 8 May, Bastille Day Tuesday 14 July; Mayotte
abolition day Monday 27 April; Guadeloupe abolition day Wednesday 27 May. US 2026: Juneteenth
Friday 19 June, Labor Day Monday 7 September, Thanksgiving Thursday 26 November.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from refuge_deadlines.domain.engine import ComputedDeadline, Decision, compute_deadlines
from refuge_deadlines.domain.packs import load_pack

Row = tuple[str, str, str | None, str, str | None, str, str]

ROWS: list[Row] = [
    # --- fr.ceseda.l911-1.oqtf_ordinary: one month, franc --------------------------------
    # DESIGN.md example: notified Fri 6 March, first day Sat 7 March, same quantième one
    # month later: Tue 7 April (CEST from 29 March, so +02:00).
    (
        "FR",
        "oqtf",
        "ordinary",
        "2026-03-06T10:30:00+01:00",
        None,
        "fr.ceseda.l911-1.oqtf_ordinary",
        "2026-04-07T23:59:59+02:00",
    ),
    # Month without the quantième: notified Thu 30 Jan 2025, first day 31 Jan, no 31 Feb:
    # last day of February, Fri 28 Feb 2025 (the CPC reading would give Sat 1 March).
    (
        "FR",
        "oqtf",
        "ordinary",
        "2025-01-30T09:00:00+01:00",
        None,
        "fr.ceseda.l911-1.oqtf_ordinary",
        "2025-02-28T23:59:59+01:00",
    ),
    # Same in 2026: 28 Feb 2026 is a Saturday, so weekend rollover to Monday 2 March.
    (
        "FR",
        "oqtf",
        "ordinary",
        "2026-01-30T09:00:00+01:00",
        None,
        "fr.ceseda.l911-1.oqtf_ordinary",
        "2026-03-02T23:59:59+01:00",
    ),
    # Leap year: notified Sun 30 Jan 2028, first day 31 Jan, February 2028 ends Tue 29 Feb.
    (
        "FR",
        "oqtf",
        "ordinary",
        "2028-01-30T09:00:00+01:00",
        None,
        "fr.ceseda.l911-1.oqtf_ordinary",
        "2028-02-29T23:59:59+01:00",
    ),
    # Readings differ the other way: notified Sat 28 Feb 2026. First-day quantième: 1 March
    # -> 1 April; CPC quantième: 28 March + 1 franc day = Sun 29 March. Earliest: 29 March,
    # a Sunday -> Monday 30 March (CEST).
    (
        "FR",
        "oqtf",
        "ordinary",
        "2026-02-28T09:00:00+01:00",
        None,
        "fr.ceseda.l911-1.oqtf_ordinary",
        "2026-03-30T23:59:59+02:00",
    ),
    # Holiday rollover, 1 May: notified Tue 31 March, first day 1 April -> Fri 1 May (Labour
    # Day) -> Sat, Sun -> Monday 4 May.
    (
        "FR",
        "oqtf",
        "ordinary",
        "2026-03-31T15:00:00+02:00",
        None,
        "fr.ceseda.l911-1.oqtf_ordinary",
        "2026-05-04T23:59:59+02:00",
    ),
    # The local date counts: 23:30 UTC on 6 March is 00:30 on 7 March in Paris, so the first
    # day is 8 March and the last day Wed 8 April.
    (
        "FR",
        "oqtf",
        "ordinary",
        "2026-03-06T23:30:00+00:00",
        None,
        "fr.ceseda.l911-1.oqtf_ordinary",
        "2026-04-08T23:59:59+02:00",
    ),
    # --- fr.ceseda.l921-1.oqtf_residence_order_prison: 7 days, earliest (non-franc) ---------
    # Notified Mon 2 March: non-franc last day 2 + 7 = Mon 9 March (franc: Tue 10 March).
    (
        "FR",
        "oqtf",
        "prison",
        "2026-03-02T10:00:00+01:00",
        None,
        "fr.ceseda.l921-1.oqtf_residence_order_prison",
        "2026-03-09T23:59:59+01:00",
    ),
    # Easter Monday: notified Mon 30 March, 30 + 7 = Mon 6 April (Easter Monday) -> Tue 7 April.
    (
        "FR",
        "oqtf",
        "residence_order",
        "2026-03-30T10:00:00+02:00",
        None,
        "fr.ceseda.l921-1.oqtf_residence_order_prison",
        "2026-04-07T23:59:59+02:00",
    ),
    # Weekend: notified Sat 7 March, 7 + 7 = Sat 14 March -> Monday 16 March.
    (
        "FR",
        "oqtf",
        "residence_order",
        "2026-03-07T10:00:00+01:00",
        None,
        "fr.ceseda.l921-1.oqtf_residence_order_prison",
        "2026-03-16T23:59:59+01:00",
    ),
    # Mayotte: notified Mon 20 April, 20 + 7 = Mon 27 April, abolition day in Mayotte only
    # -> Tue 28 April 23:59:59 Indian/Mayotte (+03:00).
    (
        "FR-976",
        "oqtf",
        "residence_order",
        "2026-04-20T10:00:00+03:00",
        None,
        "fr.ceseda.l921-1.oqtf_residence_order_prison",
        "2026-04-28T23:59:59+03:00",
    ),
    # The same notification in metropolitan France: 27 April is a working day there.
    (
        "FR",
        "oqtf",
        "residence_order",
        "2026-04-20T09:00:00+02:00",
        None,
        "fr.ceseda.l921-1.oqtf_residence_order_prison",
        "2026-04-27T23:59:59+02:00",
    ),
    # --- fr.ceseda.l921-2.oqtf_detention: 48 hours, hour to hour ----------------------------
    # Across the spring clock change (29 March 02:00 -> 03:00): 09:00Z + 48 h = 30 March
    # 09:00Z = 11:00 CEST.
    (
        "FR",
        "oqtf",
        "detention",
        "2026-03-28T10:00:00+01:00",
        None,
        "fr.ceseda.l921-2.oqtf_detention",
        "2026-03-30T11:00:00+02:00",
    ),
    # Hours never move: notified Tue 12 May 18:20, + 48 h = Thu 14 May 18:20, Ascension Day
    # (a holiday): still due then.
    (
        "FR",
        "oqtf",
        "detention",
        "2026-05-12T18:20:00+02:00",
        None,
        "fr.ceseda.l921-2.oqtf_detention",
        "2026-05-14T18:20:00+02:00",
    ),
    # --- fr.ceseda.l572-4.dublin_transfer: 7 days, earliest (non-franc) --------------------
    # Guadeloupe: notified Wed 20 May, 20 + 7 = Wed 27 May, abolition day in Guadeloupe
    # -> Thu 28 May 23:59:59 America/Guadeloupe (-04:00).
    (
        "FR-971",
        "dublin_transfer",
        "ordinary",
        "2026-05-20T10:00:00-04:00",
        None,
        "fr.ceseda.l572-4.dublin_transfer",
        "2026-05-28T23:59:59-04:00",
    ),
    # Guadeloupe, Mi-Carême (Thu 12 March 2026) is customary, not a public holiday: notified
    # Thu 5 March, 5 + 7 = Thu 12 March stays.
    (
        "FR-971",
        "dublin_transfer",
        "residence_order",
        "2026-03-05T10:00:00-04:00",
        None,
        "fr.ceseda.l572-4.dublin_transfer",
        "2026-03-12T23:59:59-04:00",
    ),
    # Bastille Day: notified Tue 7 July, 7 + 7 = Tue 14 July -> Wed 15 July.
    (
        "FR",
        "dublin_transfer",
        "prison",
        "2026-07-07T10:00:00+02:00",
        None,
        "fr.ceseda.l572-4.dublin_transfer",
        "2026-07-15T23:59:59+02:00",
    ),
    # --- fr.ceseda.l572-4.dublin_transfer_detention: 48 hours ------------------------------
    # Notified Fri 1 May 16:45 (a holiday), + 48 h = Sun 3 May 16:45: hours never move.
    (
        "FR",
        "dublin_transfer",
        "detention",
        "2026-05-01T16:45:00+02:00",
        None,
        "fr.ceseda.l572-4.dublin_transfer_detention",
        "2026-05-03T16:45:00+02:00",
    ),
    # --- fr.cja.r421-1.expulsion: two months, franc -----------------------------------------
    # Notified Sat 7 March, first day 8 March, two months: Fri 8 May (Victory Day) -> Sat,
    # Sun -> Monday 11 May.
    (
        "FR",
        "expulsion",
        None,
        "2026-03-07T10:00:00+01:00",
        None,
        "fr.cja.r421-1.expulsion",
        "2026-05-11T23:59:59+02:00",
    ),
    # Regime has no effect on expulsion: notified Mon 2 March, first day 3 March -> Sun
    # 3 May -> Monday 4 May.
    (
        "FR",
        "expulsion",
        "detention",
        "2026-03-02T10:00:00+01:00",
        None,
        "fr.cja.r421-1.expulsion",
        "2026-05-04T23:59:59+02:00",
    ),
    # --- fr.ceseda.l532-1.cnda_appeal and the 15-day legal-aid request, franc ---------------
    # Notified Sat 13 June, first day 14 June, one month: Tue 14 July (Bastille Day)
    # -> Wed 15 July.
    (
        "FR",
        "ofpra_rejection",
        None,
        "2026-06-13T10:00:00+02:00",
        None,
        "fr.ceseda.l532-1.cnda_appeal",
        "2026-07-15T23:59:59+02:00",
    ),
    # Legal aid, 15 days franc: 13 June + 1 + 15 = Mon 29 June.
    (
        "FR",
        "ofpra_rejection",
        None,
        "2026-06-13T10:00:00+02:00",
        None,
        "fr.loi91-647.art9-4.cnda_legal_aid",
        "2026-06-29T23:59:59+02:00",
    ),
    # Réunion: notified Mon 14 Dec, 14 + 1 + 15 = Wed 30 Dec (abolition day 20 Dec is
    # inside the delay and does not matter): 23:59:59 Indian/Reunion (+04:00).
    (
        "FR-974",
        "ofpra_rejection",
        None,
        "2026-12-14T10:00:00+04:00",
        None,
        "fr.loi91-647.art9-4.cnda_legal_aid",
        "2026-12-30T23:59:59+04:00",
    ),
    # Réunion: notified Fri 4 Dec, 4 + 1 + 15 = Sun 20 Dec (weekend and abolition day)
    # -> Monday 21 December.
    (
        "FR-974",
        "ofpra_rejection",
        None,
        "2026-12-04T10:00:00+04:00",
        None,
        "fr.loi91-647.art9-4.cnda_legal_aid",
        "2026-12-21T23:59:59+04:00",
    ),
    # --- us.8cfr.1003.38.bia_appeal: 30 calendar days, next business day ----------------------
    # Decision Wed 20 May + 30 = Fri 19 June (Juneteenth) -> Sat, Sun -> Monday 22 June.
    (
        "US",
        "ij_decision",
        None,
        "2026-05-20T11:00:00-04:00",
        None,
        "us.8cfr.1003.38.bia_appeal",
        "2026-06-22T23:59:59-04:00",
    ),
    # Decision Thu 2 April + 30 = Sat 2 May -> Monday 4 May.
    (
        "US",
        "ij_decision",
        None,
        "2026-04-02T11:00:00-04:00",
        None,
        "us.8cfr.1003.38.bia_appeal",
        "2026-05-04T23:59:59-04:00",
    ),
    # Decision Tue 27 Oct + 30 = Thu 26 Nov (Thanksgiving) -> Fri 27 Nov (EST, -05:00).
    (
        "US",
        "ij_decision",
        None,
        "2026-10-27T11:00:00-04:00",
        None,
        "us.8cfr.1003.38.bia_appeal",
        "2026-11-27T23:59:59-05:00",
    ),
    # Decision Fri 7 Aug + 30 = Sun 6 Sept -> Mon 7 Sept (Labor Day) -> Tue 8 Sept, in the
    # time zone given (Los Angeles).
    (
        "US",
        "ij_decision",
        None,
        "2026-08-07T09:00:00-07:00",
        "America/Los_Angeles",
        "us.8cfr.1003.38.bia_appeal",
        "2026-09-08T23:59:59-07:00",
    ),
    # --- IJ motions: calendar days from the IJ decision, not moved (earliest) ------------------
    # Decision Fri 7 Aug + 30 = Sun 6 Sept (not moved).
    (
        "US",
        "ij_decision",
        None,
        "2026-08-07T11:00:00-04:00",
        None,
        "us.8cfr.1003.23b1.ij_motion_to_reconsider",
        "2026-09-06T23:59:59-04:00",
    ),
    # Decision Fri 7 Aug + 90: 24 days to 31 Aug, 30 to 30 Sept, 31 to 31 Oct, 5 more:
    # Thu 5 Nov (EST).
    (
        "US",
        "ij_decision",
        None,
        "2026-08-07T11:00:00-04:00",
        None,
        "us.8cfr.1003.23b1.ij_motion_to_reopen",
        "2026-11-05T23:59:59-05:00",
    ),
    # --- After a BIA decision -------------------------------------------------------------------
    # Petition for review: Fri 7 Aug + 30 = Sun 6 Sept -> Labor Day -> Tue 8 Sept.
    (
        "US",
        "bia_decision",
        None,
        "2026-08-07T11:00:00-04:00",
        None,
        "us.8usc.1252b1.petition_for_review",
        "2026-09-08T23:59:59-04:00",
    ),
    # Motion to reconsider: Fri 7 Aug + 30 = Sun 6 Sept, not moved.
    (
        "US",
        "bia_decision",
        None,
        "2026-08-07T11:00:00-04:00",
        None,
        "us.8cfr.1003.2b2.motion_to_reconsider",
        "2026-09-06T23:59:59-04:00",
    ),
    # Motion to reopen: Fri 7 Aug + 90 = Thu 5 Nov.
    (
        "US",
        "bia_decision",
        None,
        "2026-08-07T11:00:00-04:00",
        None,
        "us.8cfr.1003.2c2.motion_to_reopen",
        "2026-11-05T23:59:59-05:00",
    ),
]


def _compute(row: Row) -> list[ComputedDeadline]:
    jurisdiction, decision, regime, notified_at, tz, _, _ = row
    return compute_deadlines(
        Decision(jurisdiction, decision, regime, datetime.fromisoformat(notified_at), tz)
    )


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[5]}@{r[3]}" for r in ROWS])
def test_rule_gives_the_hand_worked_due_date(row: Row) -> None:
    rule_id, expected = row[5], row[6]
    found = {d.rule: d for d in _compute(row)}
    assert rule_id in found, f"{rule_id} not opened; got {sorted(found)}"
    deadline = found[rule_id]
    assert deadline.due.isoformat() == expected
    assert deadline.timezone == (
        row[4]
        or {
            "FR": "Europe/Paris",
            "US": "America/New_York",
            "FR-971": "America/Guadeloupe",
            "FR-974": "Indian/Reunion",
            "FR-976": "Indian/Mayotte",
        }[row[0]]
    )
    assert str(deadline.due.tzinfo) == deadline.timezone


def test_every_decision_rule_of_every_pack_has_a_row() -> None:
    # Rules on other facts (detention, permit, arrival) have theirs in test_planning_table.py.
    ids = {
        rule.id
        for name in ("fr", "us")
        for rule in load_pack(name).rules
        if rule.trigger.event == "case.decision_notified"
    }
    assert ids == {row[5] for row in ROWS}


def test_alternative_reports_the_other_reading() -> None:
    row = ROWS[7]  # L.921-1 notified Mon 2 March: 9 March kept, franc reading 10 March
    (deadline,) = _compute(row)
    assert deadline.alternative is not None
    assert "Other reading: due 2026-03-10T23:59:59+01:00." in deadline.alternative
