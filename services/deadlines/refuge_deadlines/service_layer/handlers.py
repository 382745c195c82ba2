"""How deadlines applies events: each handler runs inside the consumer's transaction."""

from __future__ import annotations

from refuge_common.contract import cases as facts
from refuge_common.contract.base import EventData
from refuge_common.contract.directory import OfficeOpened, OfficeUpdated
from refuge_common.contract.envelope import Envelope
from refuge_common.db.pool import Connection
from refuge_common.messaging.retry import PermanentError
from refuge_deadlines.adapters import deadline_store, store
from refuge_deadlines.service_layer.persons import attach_coming_of_age
from refuge_deadlines.service_layer.recompute import Recomputer

# The case facts deadlines are computed from, and the name the planner knows them by.
FACT_KINDS: dict[type[EventData], str] = {
    facts.CaseDecisionNotified: "decision_notified",
    facts.CaseHearingScheduled: "hearing_scheduled",
    facts.CaseHearingRescheduled: "hearing_rescheduled",
    facts.CaseHearingCancelled: "hearing_cancelled",
    facts.CaseHearingHeld: "hearing_held",
    facts.CaseAppealFiled: "appeal_filed",
    facts.CaseDetentionStarted: "detention_started",
    facts.CaseDetentionEnded: "detention_ended",
    facts.CasePermitRecorded: "permit_recorded",
    facts.CaseArrivalRecorded: "arrival_recorded",
    facts.CaseTransferred: "transferred",
    facts.CaseClosed: "closed",
}


class OfficeChangeHandler:
    """Keep deadlines' copy of an office; when its time zone changes, or becomes known after
    its cases' facts (directory and cases are separate topics, so nothing orders them), the
    open cases of that office are recomputed so their deadlines show the office's local time."""

    def __init__(self, recompute: Recomputer) -> None:
        self._recompute = recompute

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, OfficeOpened | OfficeUpdated)
        await store.lock_office(connection, data.office_id, exclusive=True)
        previous = await store.upsert_office(
            connection, data.office_id, data.organisation_id, data.timezone, data.jurisdiction
        )
        if previous == data.timezone:
            return
        for case in await store.open_cases_in(connection, data.office_id):
            await self._recompute(connection, case, data.timezone)


class CaseOpenedHandler:
    """Keep a copy of the case; if its person's coming of age is already known, plan it."""

    def __init__(self, recompute: Recomputer) -> None:
        self._recompute = recompute

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, facts.CaseOpened)
        case = store.CaseInfo(
            case_id=data.case_id,
            tenant_id=data.organisation_id,
            office_id=data.office_id,
            jurisdiction=data.jurisdiction,
            person_id=data.person_id,
            caseworker_id=data.caseworker_id,
        )
        if case.person_id is not None:
            await store.lock_person(connection, case.person_id)
        await store.insert_case(connection, case)
        if await attach_coming_of_age(connection, case, envelope.id):
            await store.lock_office(connection, case.office_id, exclusive=False)
            await self._recompute(connection, case, await store.office_timezone(connection, case.office_id))


class CaseFactHandler:
    """Record a fact of the case, then recompute the case's deadlines from all its facts."""

    def __init__(self, recompute: Recomputer) -> None:
        self._recompute = recompute

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        case_id = getattr(data, "case_id")  # noqa: B009 - every case fact has one
        case = await store.get_case(connection, case_id)
        if case is None:
            # case.opened precedes every fact on the case's partition; a fact of a case we
            # never saw is a producer bug, not a delay that retrying fixes.
            raise PermanentError(f"case {case_id} was never opened")
        target_office = data.office_id if isinstance(data, facts.CaseTransferred) else case.office_id
        await store.lock_office(connection, target_office, exclusive=False)
        if isinstance(data, facts.CaseTransferred):
            await store.move_case(connection, case_id, data.office_id, data.caseworker_id)
            case = await store.get_case(connection, case_id)
            assert case is not None
        elif isinstance(data, facts.CaseClosed):
            await store.close_case(connection, case_id)
        await deadline_store.append_fact(
            connection,
            case.tenant_id,
            case_id,
            envelope.id,
            FACT_KINDS[type(data)],
            data.model_dump(mode="json"),
        )
        office_timezone = await store.office_timezone(connection, case.office_id)
        await self._recompute(connection, case, office_timezone)
