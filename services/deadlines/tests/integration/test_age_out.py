"""An unaccompanied minor's coming of age, from refuge.persons.v1, on the real broker and
PostgreSQL: the birth date is read from its seal and never leaves it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.persons import PersonErased, PersonRegistered, PersonUpdated
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.crypto.sealing import seal

pytestmark = pytest.mark.integration


async def _register(deadlines: Any, tenant: UUID, birth: date, *, minor: bool = True) -> tuple[UUID, Any]:
    """A person whose key is in the keyring (as intake creates it) and their sealed details."""

    person = uuid.uuid4()
    master = deadlines.settings.master_key.get_secret_value()
    connection = await asyncpg.connect(deadlines.settings.database_url)
    try:
        key = await Keyring(MasterKeyWrapper(master)).create(connection, person, tenant)
    finally:
        await connection.close()
    sealed = seal(key, person, {"given_name": "Amina", "birth_date": birth.isoformat()})
    await deadlines.publish(
        tenant, PersonRegistered(person_id=person, unaccompanied_minor=minor, personal_data=sealed)
    )
    return person, sealed


async def _open_case_for(deadlines: Any, tenant: UUID, office: UUID, person: UUID) -> UUID:
    case = uuid.uuid4()
    await deadlines.publish(
        tenant,
        CaseOpened(
            case_id=case,
            organisation_id=tenant,
            office_id=office,
            case_type="residence_permit_first",
            jurisdiction="FR",
            channel="in_person",
            opened_at=datetime.now(UTC),
            person_id=person,
        ),
    )
    return case


async def test_a_minor_registered_before_the_case_gets_an_age_out_deadline(deadlines: Any) -> None:
    office = uuid.uuid4()
    tenant, _ = await deadlines.new_case(office=office)
    birth = date(datetime.now(UTC).year - 17, 3, 20)
    person, _ = await _register(deadlines, tenant, birth)
    case = await _open_case_for(deadlines, tenant, office, person)

    async def age_out() -> dict[str, Any] | None:
        found = [e for kind, e in await deadlines.events(tenant) if kind == "computed"]
        return next((e for e in found if e["purpose"] == "age_out"), None)

    computed = await deadlines.eventually(age_out)
    assert computed["case_id"] == str(case) and computed["rule"] == "fr.ceseda.r431-5.age_out"
    # Two months from the first of the birth month, 18 years on: 1 May, whatever the day.
    assert datetime.fromisoformat(computed["due"]).date() == date(birth.year + 18, 5, 1)
    stored = await deadlines.rows(tenant, "SELECT comes_of_age FROM persons WHERE person_id = $1", person)
    assert stored == [{"comes_of_age": date(birth.year + 18, 3, 1)}]


async def test_erasing_the_person_cancels_it_and_forgets_the_birth_month(deadlines: Any) -> None:
    office = uuid.uuid4()
    tenant, _ = await deadlines.new_case(office=office)
    # The case exists first; the person's registration arrives after it.
    case = await _open_case_for(deadlines, tenant, office, person := uuid.uuid4())
    birth = date(datetime.now(UTC).year - 16, 7, 9)
    master = deadlines.settings.master_key.get_secret_value()
    connection = await asyncpg.connect(deadlines.settings.database_url)
    try:
        key = await Keyring(MasterKeyWrapper(master)).create(connection, person, tenant)
    finally:
        await connection.close()
    sealed = seal(key, person, {"birth_date": birth.isoformat()})
    await deadlines.publish(
        tenant, PersonRegistered(person_id=person, unaccompanied_minor=True, personal_data=sealed)
    )
    events = await deadlines.wait_events(tenant, 1)
    assert [(kind, e["purpose"]) for kind, e in events] == [("computed", "age_out")]

    await deadlines.publish(tenant, PersonErased(person_id=person, erased_at=datetime.now(UTC)))
    events = await deadlines.wait_events(tenant, 2)
    assert [kind for kind, _ in events] == ["computed", "cancelled"]
    assert events[1][1]["reason"] == "fact_withdrawn"
    assert await deadlines.rows(tenant, "SELECT 1 FROM persons WHERE person_id = $1", person) == []
    facts = await deadlines.rows(tenant, "SELECT kind FROM case_facts WHERE case_id = $1", case)
    assert "comes_of_age" not in {f["kind"] for f in facts}


async def test_no_longer_a_minor_on_record_cancels_it_and_nothing_leaks(deadlines: Any) -> None:
    office = uuid.uuid4()
    tenant, _ = await deadlines.new_case(office=office)
    birth = date(datetime.now(UTC).year - 15, 11, 2)
    person, sealed = await _register(deadlines, tenant, birth)
    await _open_case_for(deadlines, tenant, office, person)
    await deadlines.wait_events(tenant, 1)
    await deadlines.publish(
        tenant, PersonUpdated(person_id=person, unaccompanied_minor=False, personal_data=sealed)
    )
    events = await deadlines.wait_events(tenant, 2)
    assert [kind for kind, _ in events] == ["computed", "cancelled"]
    # The due is the first of the month after next, 18 years on: neither the birth date nor
    # its day of the month is on the topic.
    assert datetime.fromisoformat(events[0][1]["due"]).date() == date(birth.year + 19, 1, 1)
    published = repr(await deadlines.events(tenant))
    for exact in (birth, birth.replace(year=birth.year + 18)):
        assert exact.isoformat() not in published
