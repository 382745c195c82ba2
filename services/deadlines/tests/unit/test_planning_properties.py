"""Property tests of plan_case (hypothesis) over random sequences of case facts.

The invariants enforced (planning.py's docstring states them):

* the plan is a function of (context, facts): same input, same output, input not mutated;
* facts the planner does not act on (contacts, interviews, consents, transfers, detention
  ended, a detention of kind "other" or unstated, unknown kinds) change nothing wherever
  they are inserted;
* appending a fact keeps every key; a ``met`` or ``cancelled`` deadline never changes; the due
  of an existing key changes only when the fact (re)schedules that hearing; an open deadline
  only goes to ``met`` or ``cancelled``; a deadline cancelled as superseded names a key of
  the plan, and a window restarted by R.921-1 is never due after the one it replaced;
* every due is timezone-aware and shown in its ``timezone``; the plan is sorted by (due, key)
  and keys are unique.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from refuge_deadlines.domain.planning import CaseContext, CaseFact, PlannedDeadline, plan_case

SETTINGS = settings(max_examples=200, deadline=None, database=None)
START = datetime(2026, 1, 1, tzinfo=UTC)
ZONES = ["Europe/Paris", "Indian/Mayotte", "America/New_York", "America/Los_Angeles", "UTC"]
HEARINGS = ["h1", "h2"]
RESCHEDULES = {"hearing_scheduled", "hearing_rescheduled"}


@st.composite
def instants(draw: st.DrawFn) -> str:
    """An ISO instant within about 200 days, in one of a few zones (so windows overlap)."""
    at = START + timedelta(minutes=draw(st.integers(min_value=0, max_value=200 * 24 * 60)))
    return at.astimezone(ZoneInfo(draw(st.sampled_from(ZONES)))).isoformat()


dates = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)).map(date.isoformat)
kinds = st.sampled_from(["administrative", "prison", "residence_order", "other", None])


def _decision(jurisdiction: str) -> st.SearchStrategy[dict[str, object]]:
    if jurisdiction == "US":
        choices = st.sampled_from([("ij_decision", None), ("bia_decision", None)])
    else:
        choices = st.sampled_from(
            [("oqtf", r) for r in ("ordinary", "ordinary", "residence_order", "prison", "detention")]
            + [("ofpra_rejection", None), ("dublin_transfer", "ordinary"), ("expulsion", None)]
        )
    return st.builds(
        lambda choice, at: {
            "jurisdiction": jurisdiction,
            "decision": choice[0],
            "regime": choice[1],
            "notified_at": at,
        },
        choices,
        instants(),
    )


def _relevant(jurisdiction: str) -> st.SearchStrategy[tuple[str, dict[str, object]]]:
    hearing_ids = st.sampled_from(HEARINGS)
    zone = st.sampled_from([None, "Europe/Paris", "America/Chicago"])
    return st.one_of(
        _decision(jurisdiction).map(lambda d: ("decision_notified", d)),
        st.builds(lambda at, k: ("detention_started", {"started_at": at, "kind": k}), instants(), kinds),
        st.builds(
            lambda h, at, z: ("hearing_scheduled", {"hearing_id": h, "scheduled_at": at, "timezone": z}),
            hearing_ids,
            instants(),
            zone,
        ),
        st.builds(
            lambda h, at, z: ("hearing_rescheduled", {"hearing_id": h, "scheduled_at": at, "timezone": z}),
            hearing_ids,
            instants(),
            zone,
        ),
        st.builds(lambda h: ("hearing_cancelled", {"hearing_id": h}), hearing_ids),
        st.builds(
            lambda h, at: ("hearing_held", {"hearing_id": h, "held_at": at}),
            hearing_ids,
            instants() | st.none(),
        ),
        st.builds(
            lambda at, d: ("appeal_filed", {"filed_at": at, "decision": d}),
            instants(),
            st.sampled_from([None, "oqtf", "ofpra_rejection", "ij_decision"]),
        ),
        st.builds(lambda d: ("permit_recorded", {"expires_on": d}), dates),
        st.builds(lambda d: ("arrival_recorded", {"arrived_on": d}), dates),
        st.builds(lambda at: ("closed", {"outcome": "other", "closed_at": at}), instants()),
    )


unrelated = st.one_of(
    st.builds(
        lambda at: ("contact_logged", {"channel": "phone", "outcome": "other", "contacted_at": at}),
        instants(),
    ),
    st.builds(lambda at: ("interview_held", {"held_at": at}), instants()),
    st.builds(
        lambda at: ("consent_recorded", {"purpose": "sms", "given": True, "recorded_at": at}), instants()
    ),
    st.just(("transferred", {"office_id": "o2"})),
    st.builds(lambda at: ("detention_ended", {"ended_at": at}), instants()),
    st.builds(
        lambda at, k: ("detention_started", {"started_at": at, "kind": k}),
        instants(),
        st.sampled_from(["other", None]),
    ),
    st.just(("a_kind_from_the_future", {"x": 1})),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[CaseContext, list[CaseFact]]:
    jurisdiction = draw(st.sampled_from(["FR", "FR-976", "US"]))
    context = CaseContext("case-p", jurisdiction, draw(st.sampled_from([None, *ZONES])))
    drawn = draw(st.lists(_relevant(jurisdiction) | unrelated, max_size=12))
    return context, [CaseFact(f"e{i}", kind, data) for i, (kind, data) in enumerate(drawn)]


@st.composite
def removal_cases(draw: st.DrawFn) -> tuple[CaseContext, list[CaseFact]]:
    """An OQTF followed by detentions, filings and hearings around its window (R.921-1)."""
    jurisdiction = draw(st.sampled_from(["FR", "FR-976"]))
    t0 = START + timedelta(minutes=draw(st.integers(min_value=0, max_value=400 * 24 * 60)))

    def near(low_days: int, high_days: int) -> st.SearchStrategy[str]:
        minutes = st.integers(min_value=low_days * 24 * 60, max_value=high_days * 24 * 60)
        return st.builds(
            lambda m, z: (t0 + timedelta(minutes=m)).astimezone(ZoneInfo(z)).isoformat(),
            minutes,
            st.sampled_from(ZONES),
        )

    regimes = st.sampled_from(["ordinary", "ordinary", "residence_order", "prison"])
    oqtf = st.builds(
        lambda r, at: (
            "decision_notified",
            {"jurisdiction": jurisdiction, "decision": "oqtf", "regime": r, "notified_at": at},
        ),
        regimes,
        near(0, 3),
    )
    detention = st.builds(
        lambda at, k: ("detention_started", {"started_at": at, "kind": k}), near(-2, 40), kinds
    )
    filing = st.builds(
        lambda at, d: ("appeal_filed", {"filed_at": at, "decision": d}),
        near(-2, 45),
        st.sampled_from([None, "oqtf"]),
    )
    hearing = st.builds(
        lambda kind, h, at: (kind, {"hearing_id": h, "scheduled_at": at}),
        st.sampled_from(sorted(RESCHEDULES)),
        st.sampled_from(HEARINGS),
        near(0, 60),
    )
    closed = st.builds(lambda at: ("closed", {"outcome": "other", "closed_at": at}), near(0, 60))
    first = draw(oqtf)
    rest = draw(
        st.lists(st.one_of(detention, detention, filing, hearing, oqtf, closed, unrelated), max_size=8)
    )
    context = CaseContext("case-r", jurisdiction, draw(st.sampled_from([None, *ZONES])))
    return context, [CaseFact(f"e{i}", kind, data) for i, (kind, data) in enumerate([first, *rest])]


any_case = st.one_of(cases(), removal_cases())


def _check_well_formed(plan: list[PlannedDeadline]) -> None:
    keys = [d.key for d in plan]
    assert len(keys) == len(set(keys))
    assert plan == sorted(plan, key=lambda d: (d.due, d.key))
    for d in plan:
        assert d.due.utcoffset() is not None
        assert str(d.due.tzinfo) == d.timezone
        assert (d.status == "met") == (d.met_at is not None) == (d.met_by_event_id is not None)
        assert (d.status == "cancelled") == (d.cancel_reason is not None)
        if d.met_at is not None:
            assert d.met_at.utcoffset() is not None
        if d.superseded_by is not None:
            assert d.cancel_reason == "superseded"
            assert d.superseded_by in keys


@SETTINGS
@given(any_case)
def test_plan_is_deterministic_and_well_formed(case: tuple[CaseContext, list[CaseFact]]) -> None:
    context, facts = case
    snapshot = [dataclasses.replace(f, data=dict(f.data)) for f in facts]
    plan = plan_case(context, facts)
    assert plan == plan_case(context, list(facts))
    assert facts == snapshot
    _check_well_formed(plan)


@SETTINGS
@given(any_case, unrelated, st.integers(min_value=0))
def test_an_unrelated_fact_changes_nothing(
    case: tuple[CaseContext, list[CaseFact]], extra: tuple[str, dict[str, object]], where: int
) -> None:
    context, facts = case
    position = where % (len(facts) + 1)
    noisy = [*facts[:position], CaseFact("noise", *extra), *facts[position:]]
    assert plan_case(context, noisy) == plan_case(context, facts)


@SETTINGS
@given(any_case)
def test_appending_a_fact_never_rewrites_the_past(case: tuple[CaseContext, list[CaseFact]]) -> None:
    context, facts = case
    for n in range(len(facts)):
        fact = facts[n]
        before = {d.key: d for d in plan_case(context, facts[:n])}
        after = {d.key: d for d in plan_case(context, facts[: n + 1])}
        assert before.keys() <= after.keys()
        for key, old in before.items():
            new = after[key]
            if old.status != "open":
                assert new == old
                continue
            rescheduled = fact.kind in RESCHEDULES and key.startswith(f"hearing@{fact.data['hearing_id']}")
            if not rescheduled:
                assert new.due == old.due, (key, fact)
            if new.superseded_by is not None and "r921-1" in new.superseded_by:
                assert after[new.superseded_by].due <= old.due


@SETTINGS
@given(any_case, st.sampled_from(ZONES))
def test_the_office_zone_changes_only_how_hearings_without_a_zone_are_shown(
    case: tuple[CaseContext, list[CaseFact]], zone: str
) -> None:
    context, facts = case
    here = plan_case(context, facts)
    there = plan_case(dataclasses.replace(context, office_timezone=zone), facts)
    assert [(d.key, d.due, d.status) for d in here] == [(d.key, d.due, d.status) for d in there]
    for a, b in zip(here, there, strict=True):
        if a.timezone != b.timezone:
            assert a.purpose == "hearing"
            assert b.timezone == zone
