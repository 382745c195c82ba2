"""The deadline plan of a case, from all its facts: pure, deterministic, complete.

On every fact of a case the service recomputes the whole plan with :func:`plan_case` and
compares it, key by key, with what it stored: a new key is a ``deadline.computed``; the same
key with another ``due`` or ``timezone`` a ``deadline.updated``; a status turned ``met`` a
``deadline.met``; ``cancelled`` a ``deadline.cancelled``. Every deadline the facts ever opened
stays in the plan with its status. The planner has no clock: whether an open deadline has
passed (``deadline.missed``) is the service's business, and so is telling a milestone
(``renewal_window_opens``, ``hearing``) from an act that can be late.

Facts, in case order (rules of law are data in the packs, see :mod:`.rules`):

``decision_notified``
    :func:`.engine.compute_deadlines`; key ``"<rule>@<event id>"``.
``detention_started``
    R.921-1 (FR): the notice of a detention of kind ``administrative`` (48 hours, L.921-2),
    ``prison`` or ``residence_order`` (seven days, L.921-1), given while a window of a rule the
    detention rule ``supersedes`` is open (``window start <= started_at < due``), restarts it:
    a new window from the notice, never ending after the one it replaces (the earliest reading;
    the uncapped end is the alternative). The old one is cancelled (``superseded``, with
    ``superseded_by`` the new key ``"<rule>@<event id>/<old key>"``). A detention of kind
    ``other`` or not stated restarts nothing (police custody, a retenue for checking the right
    of stay: not a placement in detention; fr.toml says why).
``detention_ended``
    Nothing: a window restarted by a notice runs to its end, release or not.
``hearing_scheduled`` / ``_rescheduled`` / ``_cancelled`` / ``_held``
    A ``hearing`` deadline at the exact instant, key ``"hearing@<hearing id>"``: rescheduled
    moves it (same key), cancelled cancels it (``fact_withdrawn``), held meets it (at
    ``held_at``, else at the hearing's instant). A hearing scheduled again after it was
    cancelled or held opens a new deadline, ``"hearing@<hearing id>/<event id>"``: statuses
    never go back. Its zone is the last explicit ``timezone`` of its facts, else the office's
    (so it follows a transfer), else the jurisdiction's.
``appeal_filed``
    Meets the open deadlines it answers, if filed no later than their due (a late filing
    meets nothing: the deadline was missed) and not before the decision was notified. With a
    ``deadline_id`` naming a planned deadline (:func:`deadline_uuid`), that one only. Else the
    appeal-like deadlines (appeal, petition for review, motions to reopen or reconsider), of
    ``decision`` when given, of every decision otherwise. Not the CNDA ``legal_aid_request``:
    legal aid is a separate request (made in the appeal or not, the fact does not say), and
    keeping it open only means one reminder too many, never a right lost.
``permit_recorded`` / ``arrival_recorded``
    The pack's rules on the permit's expiry (R.431-5 renewal window, FR) or the last arrival
    (one-year asylum filing, US), in the jurisdiction's zone; a later fact supersedes them.
``closed``
    Every open deadline is cancelled (``case_closed``). A fact after closure still plans.
``transferred``
    Nothing here: the service passes the new office's zone in the :class:`CaseContext`.

``comes_of_age`` / ``comes_of_age_withdrawn``
    Not case events: the service derives them from ``refuge.persons.v1`` for the cases of an
    unaccompanied minor (:mod:`.coming_of_age`). The first anchors the pack's age-out rules on
    ``earliest_on`` (superseding an earlier anchor); the second cancels open age-out deadlines
    (``fact_withdrawn``: no longer recorded as a minor, or erased).

Invariants (tests/unit/test_planning_properties.py): the plan is a function of its input;
facts the planner does not act on change nothing; appending a fact keeps every key, never
changes a ``met`` or ``cancelled`` deadline, and changes the due of an existing key only when
it (re)schedules that hearing; a window restarted by R.921-1 is never due after the one it
replaced (supersession by a later permit or arrival may move the dates either way); every due
is aware and shown in its ``timezone``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .fact_handlers import HANDLERS
from .facts import CaseContext, CaseFact, FactReader
from .ledger import DEADLINE_NAMESPACE, DeadlineStatus, Entry, Ledger, deadline_uuid

__all__ = [
    "DEADLINE_NAMESPACE",
    "CaseContext",
    "CaseFact",
    "DeadlineStatus",
    "PlannedDeadline",
    "deadline_uuid",
    "plan_case",
]


@dataclass(frozen=True)
class PlannedDeadline:
    """A deadline of the plan, with its current status."""

    key: str  # stable identity across recomputations
    purpose: str
    rule: str
    legal_basis: str
    due: datetime  # aware, in `timezone`
    timezone: str
    alternative: str | None
    trigger_event_id: str
    status: DeadlineStatus = "open"
    met_at: datetime | None = None
    met_by_event_id: str | None = None
    cancel_reason: str | None = None  # a DeadlineCancelReason value
    superseded_by: str | None = None  # key of the deadline that replaced it


def plan_case(context: CaseContext, facts: Sequence[CaseFact]) -> list[PlannedDeadline]:
    """Every deadline the facts opened, with its status, sorted by due then key.

    ``facts`` in case order; a fact seen twice (same ``event_id``) is applied once; kinds the
    planner does not act on are ignored. Raises :class:`~.errors.InvalidFact` naming the fact
    and the field when a fact it acts on is malformed or unknown to its jurisdiction.
    """
    plan = Ledger(context)
    seen: set[str] = set()
    for fact in facts:
        if fact.event_id in seen:
            continue
        seen.add(fact.event_id)
        handler = HANDLERS.get(fact.kind)
        if handler is not None:
            handler(plan, FactReader(fact))
    return sorted((_planned(plan, e) for e in plan.entries.values()), key=lambda d: (d.due, d.key))


def _planned(plan: Ledger, entry: Entry) -> PlannedDeadline:
    zone = entry.zone if entry.zone is not None else plan.office_zone()
    tz = ZoneInfo(zone)
    return PlannedDeadline(
        key=entry.key,
        purpose=entry.purpose,
        rule=entry.rule,
        legal_basis=entry.legal_basis,
        due=entry.due.astimezone(tz),
        timezone=zone,
        alternative=entry.alternative,
        trigger_event_id=entry.trigger_event_id,
        status=entry.status,
        met_at=entry.met_at.astimezone(tz) if entry.met_at is not None else None,
        met_by_event_id=entry.met_by_event_id,
        cancel_reason=entry.cancel_reason,
        superseded_by=entry.superseded_by,
    )
