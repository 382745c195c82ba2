"""Erasing persons (crypto-shredding), the audit log of personal data, and cases naming a person."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from refuge_common.contract.envelope import from_record
from refuge_common.contract.persons import PersonErased, PersonRegistered
from refuge_common.crypto.sealing import UnreadableData, open_sealed
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import tenant_transaction
from refuge_intake.adapters import audit_log
from refuge_intake.schema import SCHEMA

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
PERSON = {
    "given_name": "Yonas",
    "family_name": "Tesfaye",
    "phone": "06 12 34 56 78",
    "birth_year": 2009,
    "unaccompanied_minor": True,
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _audit(intake: Intake, person_id: str) -> list[dict[str, Any]]:
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        return await audit_log.history(connection, uuid.UUID(person_id))


async def test_erasure_destroys_the_key_and_leaves_nothing_readable(intake: Intake) -> None:
    person_id = await intake.register_person(intake.a.caseworker_key, **PERSON)
    (registered,) = await intake.person_records(person_id, "person.registered")
    published = from_record(registered.headers, registered.key, registered.value).data
    assert isinstance(published, PersonRegistered) and published.personal_data is not None
    assert published.age_band == "0-17" and published.unaccompanied_minor is True

    refused = await intake.client.delete(f"/persons/{person_id}", headers=bearer(intake.a.caseworker_key))
    assert refused.status_code == 403 and "role" in refused.text
    erased = await intake.client.delete(f"/persons/{person_id}", headers=bearer(intake.a.coordinator_key))
    assert erased.status_code == 204

    gone = await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.coordinator_key))
    assert gone.status_code == 410
    assert set(gone.json()) == {"detail"} and "Tesfaye" not in gone.text and "+33" not in gone.text
    for again in (
        await intake.client.patch(
            f"/persons/{person_id}", json={"gender": "male"}, headers=bearer(intake.a.coordinator_key)
        ),
        await intake.client.delete(f"/persons/{person_id}", headers=bearer(intake.a.org_admin_key)),
    ):
        assert again.status_code == 410

    # The copy already on the topic can no longer be opened by anyone: its key is gone.
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        assert await intake.keyring.get(connection, uuid.UUID(person_id)) is None
    with pytest.raises(UnreadableData):
        open_sealed(bytes(32), published.personal_data)
    owner = await asyncpg.connect(intake.settings.database_url)
    try:
        assert (
            await owner.fetchval("SELECT count(*) FROM keyring.subject_keys WHERE subject_id = $1", person_id)
            == 0
        )
        row = await owner.fetchrow(
            "SELECT personal_data, erased_at, age_band FROM intake.persons WHERE person_id = $1", person_id
        )
    finally:
        await owner.close()
    assert row["personal_data"] is None and row["erased_at"] is not None
    assert row["age_band"] == "0-17"  # coarse attributes stay for the statistics

    records = await intake.person_records(person_id, "person.erased")
    assert [dict(r.headers)["ce_type"] for r in records][-1] == b"org.refuge.person.erased.v1"
    event = from_record(records[-1].headers, records[-1].key, records[-1].value).data
    assert isinstance(event, PersonErased) and str(event.person_id) == person_id and event.erased_at


async def test_every_access_to_personal_data_is_audited_without_the_data(intake: Intake) -> None:
    person_id = await intake.register_person(intake.a.caseworker_key, **PERSON)
    assert (
        await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.caseworker_key))
    ).status_code == 200
    assert (
        await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.coordinator_key))
    ).status_code == 200
    patched = await intake.client.patch(
        f"/persons/{person_id}", json={"languages": ["ti"]}, headers=bearer(intake.a.caseworker_key)
    )
    assert patched.status_code == 200
    assert (
        await intake.client.delete(f"/persons/{person_id}", headers=bearer(intake.a.org_admin_key))
    ).status_code == 204
    # Refused and empty-handed requests read nothing, and record nothing.
    await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.caseworker_key))
    await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.b.coordinator_key))

    rows = await _audit(intake, person_id)
    caseworker_key_id = intake.a.caseworker_key.split("_")[1]
    assert [(r["action"], r["role"]) for r in rows] == [
        ("create", "caseworker"),
        ("read", "caseworker"),
        ("read", "coordinator"),
        ("update", "caseworker"),
        ("erase", "org_admin"),
    ]
    assert rows[0]["key_id"] == caseworker_key_id and rows[0]["staff_id"] == intake.a.caseworker_staff
    assert rows[2]["key_id"] == intake.a.coordinator_key.split("_")[1] and rows[2]["staff_id"] is None
    assert all(r["at"] is not None for r in rows)

    owner = await asyncpg.connect(intake.settings.database_url)
    try:
        text = await owner.fetchval(
            "SELECT string_agg(a::text, ' ') FROM intake.person_audit a WHERE person_id = $1", person_id
        )
    finally:
        await owner.close()
    assert "Tesfaye" not in text and "Yonas" not in text and "612345678" not in text


async def test_the_audit_log_is_append_only_for_the_service(intake: Intake) -> None:
    person_id = await intake.register_person(intake.a.caseworker_key, **PERSON)
    connection = await asyncpg.connect(app_dsn(intake.settings.database_url, SCHEMA))
    try:
        for statement in ("UPDATE intake.person_audit SET role = 'x'", "DELETE FROM intake.person_audit"):
            async with connection.transaction():
                await connection.execute(
                    "SELECT set_config('refuge.tenant_id', $1, true)", str(intake.a.organisation_id)
                )
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute(f"{statement} WHERE person_id = $1", uuid.UUID(person_id))
    finally:
        await connection.close()
    assert len(await _audit(intake, person_id)) == 1


async def test_a_case_names_a_registered_person_of_its_own_organisation(intake: Intake) -> None:
    person_id = await intake.register_person(intake.a.caseworker_key, **PERSON)
    case = {"case_type": "asylum", "channel": "in_person"}
    opened = await intake.client.post(
        "/cases", json={**case, "person_id": person_id}, headers=bearer(intake.a.caseworker_key)
    )
    assert opened.status_code == 201, opened.text
    timeline = (
        await intake.client.get(f"/cases/{opened.json()['case_id']}", headers=bearer(intake.a.caseworker_key))
    ).json()["timeline"]
    assert timeline[0]["data"]["person_id"] == person_id

    for key, someone in [
        (intake.b.caseworker_key, person_id),  # another organisation's person
        (intake.a.caseworker_key, str(uuid.uuid4())),  # nobody
    ]:
        refused = await intake.client.post("/cases", json={**case, "person_id": someone}, headers=bearer(key))
        assert refused.status_code == 422 and "person_id" in refused.text

    await intake.client.delete(f"/persons/{person_id}", headers=bearer(intake.a.coordinator_key))
    refused = await intake.client.post(
        "/cases", json={**case, "person_id": person_id}, headers=bearer(intake.a.caseworker_key)
    )
    assert refused.status_code == 422 and "person_id" in refused.text and "erased" in refused.text
