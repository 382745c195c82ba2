"""What each kind of fact does to the plan (planning.py's docstring lists them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from .calendars import get_jurisdiction
from .engine import Decision, compute_deadlines, rule_due
from .errors import InvalidDecision, InvalidFact, UnknownJurisdiction
from .facts import FactReader, known_zone
from .ledger import Entry, Ledger, deadline_uuid
from .packs import load_pack
from .rules import ARRIVAL_EVENT, COMING_OF_AGE_EVENT, DETENTION_EVENT, PERMIT_EVENT, RulePack

HEARING_RULE = "hearing"
HEARING_BASIS = "hearing set by the court"
APPEAL_LIKE = frozenset({"appeal", "petition_for_review", "motion_to_reopen", "motion_to_reconsider"})
#: Purposes no filing can meet, even one naming the deadline. (An age-out deadline is met by
#: the residence permit application, recorded as a filing that names it.)
NOT_FILINGS = frozenset({"hearing", "renewal_window_opens"})
Handler = Callable[[Ledger, FactReader], None]


def _from_engine(fact: FactReader, exc: ValueError) -> InvalidFact:
    """An engine error ("<field>: <message>"), prefixed with the fact it came from."""
    field, _, message = str(exc).partition(": ")
    return fact.error(field, message)


def _pack(fact: FactReader, code: str) -> tuple[str, str, RulePack]:
    """(jurisdiction code, default zone, rule pack) of a jurisdiction a fact names."""
    try:
        jurisdiction = get_jurisdiction(code)
    except UnknownJurisdiction as exc:
        raise _from_engine(fact, exc) from exc
    return jurisdiction.code, jurisdiction.timezone, load_pack(jurisdiction.pack)


def _on_decision(plan: Ledger, fact: FactReader) -> None:
    decision = Decision(
        jurisdiction=fact.text("jurisdiction"),
        decision=fact.text("decision"),
        regime=fact.optional_text("regime"),
        notified_at=fact.instant("notified_at"),
        timezone=fact.optional_text("timezone"),
    )
    try:
        computed = compute_deadlines(decision)
    except (UnknownJurisdiction, InvalidDecision) as exc:
        raise _from_engine(fact, exc) from exc
    for deadline in computed:
        plan.add(
            Entry(
                key=f"{deadline.rule}@{fact.fact.event_id}",
                purpose=deadline.purpose,
                rule=deadline.rule,
                legal_basis=deadline.legal_basis,
                due=deadline.due,
                zone=deadline.timezone,
                alternative=deadline.alternative,
                trigger_event_id=fact.fact.event_id,
                jurisdiction=decision.jurisdiction,
                window_start=decision.notified_at,
                answers=decision.decision,
                answers_from=decision.notified_at,
            )
        )


def _on_detention_started(plan: Ledger, fact: FactReader) -> None:
    started_at = fact.instant("started_at")
    kind = fact.fact.data.get("kind")  # a kind this planner does not know matches no rule
    kind = kind if isinstance(kind, str) else None
    for old in plan.open_entries():  # a snapshot: windows this notice opens are not restarted by it
        start = old.window_start
        if start is None or old.jurisdiction is None or old.zone is None:
            continue
        if not start <= started_at < old.due:
            continue
        tz = ZoneInfo(old.zone)
        rules = [
            rule
            for rule in _pack(fact, old.jurisdiction)[2].rules_on(DETENTION_EVENT)
            if rule.trigger.matches_detention(kind)
            and old.rule in rule.supersedes
            and rule.id != old.rule
            and rule.in_force(started_at.astimezone(tz).date())
        ]
        if not rules:
            continue
        # One kind matches one rule in the packs; were there several, the earliest wins.
        readings = [(rule_due(r, started_at, old.jurisdiction, tz, not_after=old.due), r) for r in rules]
        (due, alternative), rule = min(readings, key=lambda reading: (reading[0][0], reading[1].id))
        key = f"{rule.id}@{fact.fact.event_id}/{old.key}"
        old.cancel("superseded", key)
        plan.add(
            Entry(
                key=key,
                purpose=rule.purpose,
                rule=rule.id,
                legal_basis=rule.legal_basis,
                due=due,
                zone=old.zone,
                alternative=alternative,
                trigger_event_id=fact.fact.event_id,
                jurisdiction=old.jurisdiction,
                window_start=started_at,
                answers=old.answers,
                answers_from=old.answers_from,
            )
        )


def _on_dated(event: str, field: str) -> Handler:
    """A fact whose date anchors the pack's rules on it (permit expiry, last arrival)."""

    def handler(plan: Ledger, fact: FactReader) -> None:
        anchor = fact.day(field)
        code = fact.optional_text("jurisdiction") or plan.context.jurisdiction
        jurisdiction, zone, pack = _pack(fact, code)
        for rule in pack.rules_on(event):
            if not rule.in_force(anchor):
                continue
            due, alternative = rule_due(rule, anchor, jurisdiction, ZoneInfo(zone))
            key = f"{rule.id}@{fact.fact.event_id}"
            plan.supersede(rule, key)
            plan.add(
                Entry(
                    key=key,
                    purpose=rule.purpose,
                    rule=rule.id,
                    legal_basis=rule.legal_basis,
                    due=due,
                    zone=zone,
                    alternative=alternative,
                    trigger_event_id=fact.fact.event_id,
                    jurisdiction=jurisdiction,
                )
            )

    return handler


def _hearing(plan: Ledger, fact: FactReader) -> Entry | None:
    key = plan.hearings.get(fact.text("hearing_id"))
    return plan.entries[key] if key is not None else None


def _on_hearing_set(plan: Ledger, fact: FactReader) -> None:
    hearing_id, at = fact.text("hearing_id"), fact.instant("scheduled_at")
    zone = known_zone(fact.optional_text("timezone"))
    event_id = fact.fact.event_id
    entry = _hearing(plan, fact)
    if entry is not None and entry.status == "open":
        entry.due, entry.trigger_event_id = at, event_id
        entry.zone = zone if zone is not None else entry.zone
        return
    key = f"hearing@{hearing_id}" if entry is None else f"hearing@{hearing_id}/{event_id}"
    plan.add(Entry(key, "hearing", HEARING_RULE, HEARING_BASIS, at, zone, None, event_id))
    plan.hearings[hearing_id] = key


def _on_hearing_cancelled(plan: Ledger, fact: FactReader) -> None:
    entry = _hearing(plan, fact)
    if entry is not None and entry.status == "open":
        entry.cancel("fact_withdrawn")


def _on_hearing_held(plan: Ledger, fact: FactReader) -> None:
    entry = _hearing(plan, fact)
    if entry is not None and entry.status == "open":
        held_at = fact.optional_instant("held_at")
        entry.meet(held_at if held_at is not None else entry.due, fact.fact.event_id)


def _on_appeal_filed(plan: Ledger, fact: FactReader) -> None:
    filed_at, event_id = fact.instant("filed_at"), fact.fact.event_id
    decision, deadline_id = fact.optional_text("decision"), fact.optional_uuid("deadline_id")
    if deadline_id is not None:
        case_id = plan.context.case_id
        named = [e for e in plan.entries.values() if deadline_uuid(case_id, e.key) == deadline_id]
        for entry in named:
            if entry.status == "open" and entry.purpose not in NOT_FILINGS and filed_at <= entry.due:
                entry.meet(filed_at, event_id)
        if named:
            return
        # An id this planner never issued (e.g. minted before plans existed): as if absent.
    for entry in plan.open_entries():
        if (
            entry.purpose in APPEAL_LIKE
            and (decision is None or entry.answers == decision)
            and (entry.answers_from is None or entry.answers_from <= filed_at)
            and filed_at <= entry.due
        ):
            entry.meet(filed_at, event_id)


def _on_coming_of_age_withdrawn(plan: Ledger, fact: FactReader) -> None:
    """The person is no longer recorded as an unaccompanied minor, or was erased."""
    for entry in plan.open_entries():
        if entry.purpose == "age_out":
            entry.cancel("fact_withdrawn")


def _on_closed(plan: Ledger, fact: FactReader) -> None:
    for entry in plan.open_entries():
        entry.cancel("case_closed")


HANDLERS: Mapping[str, Handler] = {
    "decision_notified": _on_decision,
    "detention_started": _on_detention_started,
    "hearing_scheduled": _on_hearing_set,
    "hearing_rescheduled": _on_hearing_set,
    "hearing_cancelled": _on_hearing_cancelled,
    "hearing_held": _on_hearing_held,
    "appeal_filed": _on_appeal_filed,
    "permit_recorded": _on_dated(PERMIT_EVENT, "expires_on"),
    "arrival_recorded": _on_dated(ARRIVAL_EVENT, "arrived_on"),
    "comes_of_age": _on_dated(COMING_OF_AGE_EVENT, "earliest_on"),
    "comes_of_age_withdrawn": _on_coming_of_age_withdrawn,
    "closed": _on_closed,
}
