"""plan_case: hearings, filings, closure, keys, transfers and input errors (hand-worked)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from uuid import UUID, uuid5

import pytest

from refuge_deadlines.domain import InvalidFact
from refuge_deadlines.domain.engine import Decision, compute_deadlines
from refuge_deadlines.domain.planning import (
    CaseContext,
    CaseFact,
    PlannedDeadline,
    deadline_uuid,
    plan_case,
)

PARIS = CaseContext("3f2b8d4e-0000-4000-8000-000000000001", "FR", "Europe/Paris")
L911 = "fr.ceseda.l911-1.oqtf_ordinary"
CNDA = "fr.ceseda.l532-1.cnda_appeal"
LEGAL_AID = "fr.loi91-647.art9-4.cnda_legal_aid"


def fact(event_id: str, fact_kind: str, /, **data: object) -> CaseFact:
    return CaseFact(event_id, fact_kind, data)


def by_key(plan: list[PlannedDeadline]) -> dict[str, PlannedDeadline]:
    return {d.key: d for d in plan}


OQTF = fact(
    "d1",
    "decision_notified",
    jurisdiction="FR",
    decision="oqtf",
    regime="ordinary",
    notified_at="2026-03-06T10:30:00+01:00",
)
# OFPRA rejection notified Mon 2 March 2026: legal aid franc 15 days, 2 + 1 + 15 = Wed 18 March;
# CNDA appeal one month franc, first day 3 March -> Fri 3 April.
OFPRA = fact(
    "d2",
    "decision_notified",
    jurisdiction="FR",
    decision="ofpra_rejection",
    notified_at="2026-03-02T09:00:00+01:00",
)


# --- decisions ------------------------------------------------------------------------------


def test_a_decision_plans_what_compute_deadlines_computes() -> None:
    (planned,) = plan_case(PARIS, [OQTF])
    (computed,) = compute_deadlines(
        Decision("FR", "oqtf", "ordinary", datetime.fromisoformat("2026-03-06T10:30:00+01:00"))
    )
    assert planned == PlannedDeadline(
        key=f"{L911}@d1",
        purpose=computed.purpose,
        rule=computed.rule,
        legal_basis=computed.legal_basis,
        due=computed.due,
        timezone=computed.timezone,
        alternative=computed.alternative,
        trigger_event_id="d1",
    )
    assert planned.due.isoformat() == "2026-04-07T23:59:59+02:00"


def test_decision_deadlines_ignore_the_office_zone() -> None:
    # The law's clock is the jurisdiction's: a Paris-zone decision stays in Paris time even
    # when the office is in Cayenne.
    (planned,) = plan_case(dataclasses.replace(PARIS, office_timezone="America/Cayenne"), [OQTF])
    assert planned.timezone == "Europe/Paris"


# --- hearings -------------------------------------------------------------------------------

SCHEDULED = fact("h-1", "hearing_scheduled", hearing_id="h1", scheduled_at="2026-05-12T09:30:00+02:00")
MOVED = fact("h-2", "hearing_rescheduled", hearing_id="h1", scheduled_at="2026-06-02T14:00:00+02:00")


def test_a_hearing_is_due_at_its_exact_instant() -> None:
    (hearing,) = plan_case(PARIS, [SCHEDULED])
    assert (hearing.key, hearing.purpose, hearing.rule) == ("hearing@h1", "hearing", "hearing")
    assert hearing.legal_basis == "hearing set by the court"
    assert hearing.due.isoformat() == "2026-05-12T09:30:00+02:00"
    assert (hearing.timezone, hearing.alternative, hearing.trigger_event_id) == ("Europe/Paris", None, "h-1")


def test_a_reschedule_moves_the_same_deadline() -> None:
    (hearing,) = plan_case(PARIS, [SCHEDULED, MOVED])
    assert hearing.key == "hearing@h1"
    assert hearing.due.isoformat() == "2026-06-02T14:00:00+02:00"
    assert (hearing.status, hearing.trigger_event_id) == ("open", "h-2")


def test_a_cancelled_hearing_is_cancelled_as_withdrawn() -> None:
    (hearing,) = plan_case(PARIS, [SCHEDULED, fact("h-3", "hearing_cancelled", hearing_id="h1")])
    assert (hearing.status, hearing.cancel_reason, hearing.superseded_by) == (
        "cancelled",
        "fact_withdrawn",
        None,
    )
    assert hearing.due.isoformat() == "2026-05-12T09:30:00+02:00"


def test_a_held_hearing_is_met_when_held() -> None:
    held = fact("h-3", "hearing_held", hearing_id="h1", held_at="2026-06-02T15:10:00+02:00")
    (hearing,) = plan_case(PARIS, [SCHEDULED, MOVED, held])
    assert (hearing.status, hearing.met_by_event_id) == ("met", "h-3")
    assert hearing.met_at is not None and hearing.met_at.isoformat() == "2026-06-02T15:10:00+02:00"
    # Without held_at: met at the hearing's instant.
    (hearing,) = plan_case(PARIS, [SCHEDULED, fact("h-3", "hearing_held", hearing_id="h1")])
    assert hearing.met_at == hearing.due


def test_a_hearing_set_again_after_cancellation_is_a_new_deadline() -> None:
    again = fact("h-4", "hearing_rescheduled", hearing_id="h1", scheduled_at="2026-09-01T09:00:00+02:00")
    plan = by_key(plan_case(PARIS, [SCHEDULED, fact("h-3", "hearing_cancelled", hearing_id="h1"), again]))
    assert plan["hearing@h1"].status == "cancelled"
    assert plan["hearing@h1/h-4"].status == "open"
    assert plan["hearing@h1/h-4"].due.isoformat() == "2026-09-01T09:00:00+02:00"
    # Later facts about h1 act on the current deadline.
    plan = by_key(
        plan_case(
            PARIS,
            [
                SCHEDULED,
                fact("h-3", "hearing_cancelled", hearing_id="h1"),
                again,
                fact("h-5", "hearing_held", hearing_id="h1"),
            ],
        )
    )
    assert (plan["hearing@h1"].status, plan["hearing@h1/h-4"].status) == ("cancelled", "met")


def test_facts_about_an_unknown_hearing_change_nothing() -> None:
    assert plan_case(PARIS, [fact("h-3", "hearing_cancelled", hearing_id="h9")]) == []
    assert plan_case(PARIS, [fact("h-3", "hearing_held", hearing_id="h9")]) == []


def test_hearing_zone_explicit_then_office_then_jurisdiction() -> None:
    explicit = fact(
        "h-1",
        "hearing_scheduled",
        hearing_id="h1",
        scheduled_at="2026-05-12T09:30:00-04:00",
        timezone="America/New_York",
    )
    (hearing,) = plan_case(PARIS, [explicit])
    assert (hearing.timezone, hearing.due.isoformat()) == ("America/New_York", "2026-05-12T09:30:00-04:00")
    # A reschedule without a zone keeps the hearing's explicit zone (the court did not move).
    moved = fact("h-2", "hearing_rescheduled", hearing_id="h1", scheduled_at="2026-05-13T13:30:00+00:00")
    (hearing,) = plan_case(PARIS, [explicit, moved])
    assert hearing.due.isoformat() == "2026-05-13T09:30:00-04:00"
    # No zone anywhere: the jurisdiction's; an unknown zone name falls back the same way.
    context = CaseContext("c", "FR-974", None)
    (hearing,) = plan_case(context, [SCHEDULED])
    assert hearing.timezone == "Indian/Reunion"
    odd = fact(
        "h-1",
        "hearing_scheduled",
        hearing_id="h1",
        scheduled_at="2026-05-12T09:30:00+02:00",
        timezone="Mars/Olympus",
    )
    assert plan_case(PARIS, [odd])[0].timezone == "Europe/Paris"


def test_a_transfer_changes_the_zone_of_hearings_without_one_not_their_instant() -> None:
    facts = [SCHEDULED, fact("t1", "transferred", office_id="o2"), OQTF]
    before = by_key(plan_case(PARIS, facts))
    after = by_key(plan_case(dataclasses.replace(PARIS, office_timezone="Indian/Reunion"), facts))
    assert before.keys() == after.keys()
    assert after["hearing@h1"].timezone == "Indian/Reunion"
    assert after["hearing@h1"].due.isoformat() == "2026-05-12T11:30:00+04:00"
    assert after["hearing@h1"].due == before["hearing@h1"].due
    assert after[f"{L911}@d1"] == before[f"{L911}@d1"]


# --- filings --------------------------------------------------------------------------------


def appeal(event_id: str, filed_at: str, **data: object) -> CaseFact:
    return fact(event_id, "appeal_filed", filed_at=filed_at, **data)


def test_an_appeal_in_time_meets_the_deadline() -> None:
    (deadline,) = plan_case(PARIS, [OQTF, appeal("a1", "2026-04-01T16:00:00+02:00")])
    assert (deadline.status, deadline.met_by_event_id) == ("met", "a1")
    assert deadline.met_at is not None and deadline.met_at.isoformat() == "2026-04-01T16:00:00+02:00"


def test_an_appeal_at_the_last_second_is_in_time_one_second_later_is_not() -> None:
    (deadline,) = plan_case(PARIS, [OQTF, appeal("a1", "2026-04-07T23:59:59+02:00")])
    assert deadline.status == "met"
    (deadline,) = plan_case(PARIS, [OQTF, appeal("a1", "2026-04-08T00:00:00+02:00")])
    assert (deadline.status, deadline.met_at) == ("open", None)  # the service marks it missed


def test_an_appeal_before_the_notification_answers_nothing() -> None:
    (deadline,) = plan_case(PARIS, [OQTF, appeal("a1", "2026-03-05T10:00:00+01:00")])
    assert deadline.status == "open"


def test_an_appeal_meets_appeal_like_deadlines_not_the_legal_aid_request() -> None:
    plan = by_key(plan_case(PARIS, [OFPRA, OQTF, appeal("a1", "2026-03-10T10:00:00+01:00")]))
    assert plan[f"{CNDA}@d2"].status == "met"
    assert plan[f"{L911}@d1"].status == "met"
    assert plan[f"{LEGAL_AID}@d2"].status == "open"


def test_an_appeal_naming_its_decision_meets_only_that_decision() -> None:
    plan = by_key(
        plan_case(PARIS, [OFPRA, OQTF, appeal("a1", "2026-03-10T10:00:00+01:00", decision="ofpra_rejection")])
    )
    assert plan[f"{CNDA}@d2"].status == "met"
    assert plan[f"{L911}@d1"].status == "open"


def test_an_appeal_naming_a_deadline_meets_only_it() -> None:
    legal_aid = str(deadline_uuid(PARIS.case_id, f"{LEGAL_AID}@d2"))
    plan = by_key(
        plan_case(PARIS, [OFPRA, OQTF, appeal("a1", "2026-03-10T10:00:00+01:00", deadline_id=legal_aid)])
    )
    assert plan[f"{LEGAL_AID}@d2"].status == "met"  # named explicitly: trusted
    assert plan[f"{CNDA}@d2"].status == plan[f"{L911}@d1"].status == "open"
    # An id the planner never issued: as if no id were given.
    unknown = "00000000-0000-4000-8000-000000000000"
    plan = by_key(
        plan_case(PARIS, [OFPRA, OQTF, appeal("a1", "2026-03-10T10:00:00+01:00", deadline_id=unknown)])
    )
    assert plan[f"{CNDA}@d2"].status == plan[f"{L911}@d1"].status == "met"


def test_deadline_uuid_is_the_services_deadline_id() -> None:
    # uuid5(namespace, "<case id>/<key>") with service_layer/recompute.py's namespace, so a
    # filing's deadline_id names a planned deadline.
    case_id = "3f2b8d4e-0000-4000-8000-000000000001"
    expected = uuid5(UUID("6f1d3c9e-8a52-4c1e-9b7a-3f0e2d4c5b61"), f"{case_id}/hearing@h1")
    assert deadline_uuid(case_id, "hearing@h1") == expected
    assert deadline_uuid("a", "k") != deadline_uuid("b", "k")


def test_an_appeal_meets_the_window_r921_1_restarted() -> None:
    detained = fact("x1", "detention_started", started_at="2026-03-28T10:00:00+01:00", kind="administrative")
    plan = by_key(
        plan_case(PARIS, [OQTF, detained, appeal("a1", "2026-03-29T18:00:00+02:00", decision="oqtf")])
    )
    assert plan[f"{L911}@d1"].status == "cancelled"
    assert plan[f"fr.ceseda.r921-1.administrative_detention@x1/{L911}@d1"].status == "met"


def test_a_us_appeal_meets_the_appeal_and_the_motions() -> None:
    context = CaseContext("c", "US", "America/New_York")
    ij = fact(
        "d1",
        "decision_notified",
        jurisdiction="US",
        decision="ij_decision",
        notified_at="2026-08-07T11:00:00-04:00",
    )
    plan = plan_case(context, [ij, appeal("a1", "2026-08-20T10:00:00-04:00")])
    assert {d.purpose: d.status for d in plan} == {
        "appeal": "met",
        "motion_to_reconsider": "met",
        "motion_to_reopen": "met",
    }


# --- closure --------------------------------------------------------------------------------


def test_closing_cancels_every_open_deadline_and_keeps_the_others() -> None:
    facts = [
        OFPRA,
        SCHEDULED,
        appeal("a1", "2026-03-10T10:00:00+01:00", decision="ofpra_rejection"),
        fact("p1", "permit_recorded", expires_on="2026-06-30"),
        fact("p2", "permit_recorded", expires_on="2027-06-30"),
        fact("c1", "closed", outcome="favourable", closed_at="2026-03-20T10:00:00+01:00"),
    ]
    plan = by_key(plan_case(PARIS, facts))
    assert plan[f"{CNDA}@d2"].status == "met"
    assert plan["fr.ceseda.r431-5.renewal_window_opens@p1"].cancel_reason == "superseded"
    closed = {k for k, d in plan.items() if d.cancel_reason == "case_closed"}
    assert closed == {
        f"{LEGAL_AID}@d2",
        "hearing@h1",
        "fr.ceseda.r431-5.renewal_window_opens@p2",
        "fr.ceseda.r431-5.renewal_window_closes@p2",
    }
    assert all(plan[k].status == "cancelled" for k in closed)
    # A fact after closure still plans (the case received a new fact).
    later = plan_case(PARIS, [*facts, OQTF])
    assert by_key(later)[f"{L911}@d1"].status == "open"


# --- keys, order, robustness ----------------------------------------------------------------


def test_keys_are_stable_and_do_not_depend_on_unrelated_facts() -> None:
    facts = [OQTF, SCHEDULED, fact("p1", "permit_recorded", expires_on="2026-06-30")]
    keys = [d.key for d in plan_case(PARIS, facts)]
    assert keys == [d.key for d in plan_case(PARIS, list(facts))]
    noisy = [
        fact(
            "n1", "contact_logged", channel="phone", outcome="other", contacted_at="2026-03-07T10:00:00+01:00"
        ),
        OQTF,
        fact("n2", "interview_held", held_at="2026-03-08T10:00:00+01:00"),
        SCHEDULED,
        fact("n3", "detention_ended", ended_at="2026-03-09T10:00:00+01:00"),
        fact("p1", "permit_recorded", expires_on="2026-06-30"),
        fact("n4", "some_future_fact", anything=1),
    ]
    assert plan_case(PARIS, noisy) == plan_case(PARIS, facts)
    # Keys of earlier facts survive later facts.
    longer = plan_case(PARIS, [*facts, MOVED, appeal("a1", "2026-03-10T10:00:00+01:00")])
    assert set(keys) <= {d.key for d in longer}


def test_the_plan_is_sorted_by_due_then_key() -> None:
    same_instant = fact("h-9", "hearing_scheduled", hearing_id="h0", scheduled_at="2026-05-12T07:30:00+00:00")
    plan = plan_case(PARIS, [OQTF, SCHEDULED, same_instant, OFPRA])
    assert [d.key for d in plan] == [
        f"{LEGAL_AID}@d2",
        f"{CNDA}@d2",
        f"{L911}@d1",
        "hearing@h0",
        "hearing@h1",
    ]


def test_a_repeated_fact_is_applied_once() -> None:
    assert plan_case(PARIS, [OQTF, OQTF]) == plan_case(PARIS, [OQTF])
    (hearing,) = plan_case(PARIS, [SCHEDULED, MOVED, SCHEDULED])
    assert hearing.due.isoformat() == "2026-06-02T14:00:00+02:00"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            fact("e1", "decision_notified", jurisdiction="FR", decision="oqtf", regime="ordinary"),
            r"notified_at: missing",
        ),
        (
            fact(
                "e1",
                "decision_notified",
                jurisdiction="FR",
                decision="oqtf",
                notified_at="2026-03-06T10:30:00+01:00",
            ),
            r"regime: required",
        ),
        (
            fact(
                "e1",
                "decision_notified",
                jurisdiction="DE",
                decision="oqtf",
                notified_at="2026-03-06T10:30:00+01:00",
            ),
            r"jurisdiction: 'DE' is not supported",
        ),
        (
            fact(
                "e1",
                "decision_notified",
                jurisdiction="FR",
                decision="oqtf",
                regime="ordinary",
                notified_at="2026-03-06T10:30",
            ),
            r"notified_at: expected an instant with its offset",
        ),
        (fact("e1", "detention_started", started_at="yesterday"), r"started_at: not an ISO 8601 instant"),
        (fact("e1", "hearing_scheduled", scheduled_at="2026-05-12T09:30:00+02:00"), r"hearing_id: missing"),
        (fact("e1", "permit_recorded", expires_on="2026-06-31"), r"expires_on: not an ISO 8601 date"),
        (
            fact("e1", "arrival_recorded", arrived_on="2026-01-10", jurisdiction="US-NY"),
            r"jurisdiction: 'US-NY'",
        ),
        (
            fact("e1", "appeal_filed", filed_at="2026-03-10T10:00:00+01:00", deadline_id="x"),
            r"deadline_id: not a UUID",
        ),
    ],
)
def test_invalid_facts_name_the_fact_and_the_field(bad: CaseFact, message: str) -> None:
    with pytest.raises(InvalidFact, match=message) as excinfo:
        plan_case(PARIS, [OQTF, bad])
    assert str(excinfo.value).startswith(f"fact e1 ({bad.kind}).")


def test_an_age_band_alone_plans_no_age_out() -> None:
    # Age-out comes only from the derived comes_of_age fact (the sealed birth date, read by
    # the service); a coarse age band is no date to count from.
    assert plan_case(PARIS, [fact("e1", "person_registered", age_band="0-17")]) == []
