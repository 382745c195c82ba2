"""Recompute a case's deadlines from its facts and publish what changed.

The plan is a pure function of the case's facts (domain/planning.py); this module
diffs it against the stored deadlines and, in the consumer's transaction, writes
the new state, the events (computed / updated / met / cancelled) and the timers
(reminders, and the expiry that marks a deadline missed).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from refuge_common.contract.base import EventData
from refuge_common.contract.deadlines import (
    DeadlineCancelled,
    DeadlineComputed,
    DeadlineMet,
    DeadlineUpdated,
    ReminderDue,
)
from refuge_common.contract.envelope import new_event
from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import add_to_outbox
from refuge_common.messaging.retry import PermanentError
from refuge_deadlines.adapters import deadline_store
from refuge_deadlines.adapters.deadline_store import StoredDeadline
from refuge_deadlines.adapters.store import CaseInfo
from refuge_deadlines.domain.errors import InvalidFact
from refuge_deadlines.domain.planning import (
    CaseContext,
    CaseFact,
    PlannedDeadline,
    deadline_uuid,
    plan_case,
)
from refuge_deadlines.domain.reminders import ReminderPolicy, iso_duration
from refuge_deadlines.schema import SOURCE

EXPIRY = "expiry"
REMINDER = "reminder"
# Milestones, not acts that can be late: the passing of their instant is not "missed".
NEVER_MISSED = frozenset({"hearing", "renewal_window_opens"})


def deadline_id_for(case_id: UUID, key: str) -> UUID:
    """The same deadline keeps its id across recomputations."""

    return deadline_uuid(str(case_id), key)


class Recomputer:
    def __init__(self, policy: ReminderPolicy) -> None:
        self._policy = policy

    async def __call__(self, connection: Connection, case: CaseInfo, office_timezone: str | None) -> None:
        facts = [
            CaseFact(event_id=event_id, kind=kind, data=data)
            for event_id, kind, data in await deadline_store.facts_of(connection, case.case_id)
        ]
        context = CaseContext(
            case_id=str(case.case_id), jurisdiction=case.jurisdiction, office_timezone=office_timezone
        )
        stored = await deadline_store.deadlines_of(connection, case.case_id)
        now = datetime.now(UTC)
        events: list[EventData] = []
        try:
            plan = plan_case(context, facts)
        except InvalidFact as error:
            raise PermanentError(str(error)) from error
        for planned in plan:
            events += await self._apply(
                connection, case, office_timezone, planned, stored.get(planned.key), now
            )
        await add_to_outbox(connection, [new_event(SOURCE, data, case.tenant_id) for data in events])

    async def _apply(
        self,
        connection: Connection,
        case: CaseInfo,
        office_timezone: str | None,
        planned: PlannedDeadline,
        stored: StoredDeadline | None,
        now: datetime,
    ) -> list[EventData]:
        target = StoredDeadline(
            deadline_id=deadline_id_for(case.case_id, planned.key),
            key=planned.key,
            purpose=planned.purpose,
            rule=planned.rule,
            legal_basis=planned.legal_basis,
            due=planned.due,
            timezone=planned.timezone,
            alternative=planned.alternative,
            status="open",
            trigger_event_id=planned.trigger_event_id,
            office_id=case.office_id,
        )
        events: list[EventData] = []
        status = stored.status if stored else None
        if stored is None:
            await deadline_store.insert_deadline(
                connection, case.tenant_id, case.office_id, case.case_id, target
            )
            events.append(DeadlineComputed(**self._state(case, target)))
            status = "open"
            if planned.status == "open":
                await self._schedule(connection, case, office_timezone, target, now)
        elif planned.status == "open" and (status != "open" or _moved(stored, target)):
            if status == "missed":
                return []  # the time passed; a later fact does not reopen it
            await deadline_store.update_deadline(connection, target, cancel_reason=None, met_at=None)
            await deadline_store.cancel_pending_timers(connection, target.deadline_id)
            events.append(DeadlineUpdated(**self._state(case, target), previous_due=stored.due))
            await self._schedule(connection, case, office_timezone, target, now)
            status = "open"
        if status != "open" or planned.status == "open":
            return events
        await deadline_store.cancel_pending_timers(connection, target.deadline_id)
        if planned.status == "met":
            await deadline_store.update_deadline(
                connection,
                replace(target, status="met"),
                met_at=planned.met_at,
                met_by_event_id=planned.met_by_event_id,
            )
            events.append(
                DeadlineMet(
                    deadline_id=target.deadline_id,
                    case_id=case.case_id,
                    met_at=planned.met_at or now,
                    purpose=planned.purpose,
                    trigger_event_id=planned.met_by_event_id,
                )
            )
        else:
            superseded_by = (
                deadline_id_for(case.case_id, planned.superseded_by) if planned.superseded_by else None
            )
            reason = planned.cancel_reason or "other"
            await deadline_store.update_deadline(
                connection,
                replace(target, status="cancelled"),
                cancel_reason=reason,
                superseded_by=superseded_by,
            )
            events.append(
                DeadlineCancelled(
                    deadline_id=target.deadline_id,
                    case_id=case.case_id,
                    reason=reason,
                    purpose=planned.purpose,
                    superseded_by=superseded_by,
                )
            )
        return events

    @staticmethod
    def _state(case: CaseInfo, deadline: StoredDeadline) -> dict[str, object]:
        return {
            "deadline_id": deadline.deadline_id,
            "case_id": case.case_id,
            "office_id": case.office_id,
            "purpose": deadline.purpose,
            "rule": deadline.rule,
            "legal_basis": deadline.legal_basis,
            "due": deadline.due,
            "timezone": deadline.timezone,
            "alternative": deadline.alternative,
            "jurisdiction": case.jurisdiction,
            "caseworker_id": case.caseworker_id,
            "person_id": case.person_id,
            "trigger_event_id": deadline.trigger_event_id,
        }

    async def _schedule(
        self,
        connection: Connection,
        case: CaseInfo,
        office_timezone: str | None,
        deadline: StoredDeadline,
        now: datetime,
    ) -> None:
        local = ZoneInfo(office_timezone or deadline.timezone)
        rows = []
        for planned in self._policy.plan(deadline.due, now, local):
            reminder = ReminderDue(
                deadline_id=deadline.deadline_id,
                reminder_id=uuid.uuid4(),
                case_id=case.case_id,
                office_id=case.office_id,
                caseworker_id=case.caseworker_id,
                person_id=case.person_id,
                purpose=deadline.purpose,
                due=deadline.due,
                timezone=deadline.timezone,
                remind_at=planned.remind_at,
                offset=iso_duration(planned.offset),
            )
            rows.append(
                (
                    reminder.reminder_id,
                    case.tenant_id,
                    deadline.deadline_id,
                    planned.remind_at,
                    reminder.offset,
                    REMINDER,
                    deadline_store.as_json(reminder),
                )
            )
        if deadline.purpose not in NEVER_MISSED:
            # Missed once the last instant in time has passed: one second after ``due``.
            expires = deadline.due + timedelta(seconds=1)
            rows.append(
                (
                    uuid.uuid4(),
                    case.tenant_id,
                    deadline.deadline_id,
                    expires,
                    "PT0S",
                    EXPIRY,
                    {"deadline_id": str(deadline.deadline_id)},
                )
            )
        await deadline_store.add_timers(connection, rows)


def _moved(stored: StoredDeadline, target: StoredDeadline) -> bool:
    """A change people must hear about: another instant, zone or basis, or another office
    (a transfer: the new office's calendar, and reminders in its local time)."""

    fields = ("due", "timezone", "legal_basis", "alternative", "office_id")
    return any(getattr(stored, name) != getattr(target, name) for name in fields)
