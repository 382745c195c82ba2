"""Age-out deadlines from refuge.persons.v1: an unaccompanied minor's coming of age.

The birth date is read from the person's seal, in memory, and only the coarse anchor of
``domain/coming_of_age.py`` is kept. Each of the person's cases gets a derived fact
(``comes_of_age``, or ``comes_of_age_withdrawn``) and is recomputed, so that age-out
deadlines follow the same path as every other deadline (events, reminders, expiry).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from refuge_common.contract.envelope import Envelope
from refuge_common.contract.persons import PersonErased, PersonRegistered, PersonUpdated
from refuge_common.crypto.keyring import Keyring
from refuge_common.crypto.sealing import UnreadableData, open_sealed
from refuge_common.db.pool import Connection
from refuge_common.messaging.retry import PermanentError
from refuge_deadlines.adapters import deadline_store, store
from refuge_deadlines.adapters.store import CaseInfo
from refuge_deadlines.domain.coming_of_age import coming_of_age_anchor
from refuge_deadlines.service_layer.recompute import Recomputer

COMES_OF_AGE = "comes_of_age"
WITHDRAWN = "comes_of_age_withdrawn"


class PersonHandler:
    def __init__(self, recompute: Recomputer, keyring: Keyring) -> None:
        self._recompute = recompute
        self._keyring = keyring

    async def __call__(self, connection: Connection, envelope: Envelope) -> None:
        data = envelope.data
        assert isinstance(data, PersonRegistered | PersonUpdated | PersonErased)
        await store.lock_person(connection, data.person_id)
        if isinstance(data, PersonErased):
            self._keyring.forget(data.person_id)
            previous = await store.coming_of_age(connection, data.person_id)
            await store.forget_person(connection, data.person_id)
            if previous is not None:
                await self._withdraw(connection, data.person_id, envelope, erase=True)
            return
        anchor = await self._anchor(connection, data, envelope.time)
        previous = await store.set_coming_of_age(connection, data.person_id, _tenant(envelope), anchor)
        if anchor == previous:
            return
        if anchor is None:
            await self._withdraw(connection, data.person_id, envelope, erase=False)
            return
        for case in await store.cases_of_person(connection, data.person_id):
            await self._apply(
                connection, case, envelope.id, COMES_OF_AGE, {"earliest_on": anchor.isoformat()}
            )

    async def _anchor(
        self, connection: Connection, data: PersonRegistered | PersonUpdated, at: datetime
    ) -> date | None:
        if not data.unaccompanied_minor or data.personal_data is None:
            return None
        key = await self._keyring.get(connection, data.person_id)
        if key is None:
            return None  # erased meanwhile: nothing to read, nothing to remind
        try:
            details = open_sealed(key, data.personal_data)
        except UnreadableData as error:
            raise PermanentError("personal_data: cannot be opened with the person's key") from error
        return coming_of_age_anchor(_birth_date(details), _birth_year(details), at.date())

    async def _withdraw(
        self, connection: Connection, person_id: UUID, envelope: Envelope, *, erase: bool
    ) -> None:
        for case in await store.cases_of_person(connection, person_id):
            await self._apply(connection, case, envelope.id, WITHDRAWN, {})
            if erase:
                # Cancelled, and its anchor (the birth month) forgotten with the person.
                await deadline_store.drop_facts(connection, case.case_id, COMES_OF_AGE)

    async def _apply(
        self, connection: Connection, case: CaseInfo, event_id: str, kind: str, data: dict[str, Any]
    ) -> None:
        await store.lock_office(connection, case.office_id, exclusive=False)
        await deadline_store.append_fact(connection, case.tenant_id, case.case_id, event_id, kind, data)
        office_timezone = await store.office_timezone(connection, case.office_id)
        await self._recompute(connection, case, office_timezone)


async def attach_coming_of_age(connection: Connection, case: CaseInfo, event_id: str) -> bool:
    """On case.opened: a case opened after its person's coming of age was known gets it too."""

    if case.person_id is None:
        return False
    anchor = await store.coming_of_age(connection, case.person_id)
    if anchor is None:
        return False
    await deadline_store.append_fact(
        connection, case.tenant_id, case.case_id, event_id, COMES_OF_AGE, {"earliest_on": anchor.isoformat()}
    )
    return True


def _tenant(envelope: Envelope) -> UUID:
    if envelope.tenant_id is None:
        raise PermanentError("tenantid: a person event must name its organisation")
    return envelope.tenant_id


def _birth_date(details: dict[str, Any]) -> date | None:
    value = details.get("birth_date")
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise PermanentError("personal_data.birth_date: not an ISO date") from error


def _birth_year(details: dict[str, Any]) -> int | None:
    value = details.get("birth_year")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise PermanentError("personal_data.birth_year: not a year") from error
