"""Idempotency-Key on intake's writes: a retry answers the same and writes nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from refuge_common.contract import topics
from refuge_common.db.pool import tenant_transaction

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
CASE = {"case_type": "asylum", "channel": "in_person"}


def headers(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        sent["Idempotency-Key"] = idempotency_key
    return sent


async def _count(intake: Intake, sql: str, *args: Any, tenant: uuid.UUID | None = None) -> int:
    async with tenant_transaction(intake.pool, tenant or intake.a.organisation_id) as connection:
        return int(await connection.fetchval(sql, *args))


async def _published(intake: Intake, case_id: str) -> int:
    """How many events about a case are on the topic, once the relay has published them all."""

    await intake.case_records(case_id, 1)
    # Read for a while rather than until a count: a duplicate would be one record more.
    records = await intake.read_topic(topics.CASES, until=lambda _records: False, within=2.0)
    return sum(1 for r in records if r.key == case_id.encode())


async def test_a_retried_case_opening_opens_one_case(intake: Intake) -> None:
    key, idem = intake.a.caseworker_key, str(uuid.uuid4())
    before = await _count(intake, "SELECT count(*) FROM cases")
    first = await intake.client.post("/cases", json=CASE, headers=headers(key, idem))
    again = await intake.client.post(
        "/cases", json={"channel": "in_person", "case_type": "asylum"}, headers=headers(key, idem)
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await _count(intake, "SELECT count(*) FROM cases") == before + 1
    case_id = first.json()["case_id"]
    assert await _count(intake, "SELECT count(*) FROM case_facts WHERE case_id = $1", uuid.UUID(case_id)) == 1
    assert await _published(intake, case_id) == 1


async def test_a_retried_fact_is_recorded_once(intake: Intake) -> None:
    key = intake.a.caseworker_key
    case_id = (await intake.client.post("/cases", json=CASE, headers=headers(key))).json()["case_id"]
    body = {"scheduled_at": (datetime.now(UTC) + timedelta(days=12)).isoformat(), "court": "CNDA"}
    idem = str(uuid.uuid4())
    answers = [
        await intake.client.post(
            f"/cases/{case_id}/facts/hearing_scheduled", json=body, headers=headers(key, idem)
        )
        for _ in range(3)
    ]
    assert {a.status_code for a in answers} == {201}
    assert answers[1].json() == answers[2].json() == answers[0].json()
    assert await _count(intake, "SELECT count(*) FROM case_facts WHERE case_id = $1", uuid.UUID(case_id)) == 2
    assert (
        await _count(intake, "SELECT count(*) FROM case_hearings WHERE case_id = $1", uuid.UUID(case_id)) == 1
    )
    assert await _published(intake, case_id) == 2
    # Without a key, the same request is a second hearing: the key is what makes a retry.
    assert (
        await intake.client.post(f"/cases/{case_id}/facts/hearing_scheduled", json=body, headers=headers(key))
    ).status_code == 201
    assert (
        await _count(intake, "SELECT count(*) FROM case_hearings WHERE case_id = $1", uuid.UUID(case_id)) == 2
    )


async def test_the_same_key_for_another_request_is_refused_naming_it(intake: Intake) -> None:
    key, idem = intake.a.caseworker_key, str(uuid.uuid4())
    case_id = (await intake.client.post("/cases", json=CASE, headers=headers(key, idem))).json()["case_id"]
    before = await _count(intake, "SELECT count(*) FROM cases")
    changed = await intake.client.post(
        "/cases", json={**CASE, "channel": "phone"}, headers=headers(key, idem)
    )
    assert changed.status_code == 422 and changed.json()["detail"].startswith("Idempotency-Key:")
    elsewhere = await intake.client.post(
        f"/cases/{case_id}/facts/arrival_recorded",
        json={"arrived_on": "2025-01-02"},
        headers=headers(key, idem),
    )
    assert elsewhere.status_code == 422 and "Idempotency-Key" in elsewhere.text
    assert await _count(intake, "SELECT count(*) FROM cases") == before
    assert await _count(intake, "SELECT count(*) FROM case_facts WHERE case_id = $1", uuid.UUID(case_id)) == 1


async def test_keys_belong_to_one_api_key_of_one_organisation(intake: Intake) -> None:
    idem, body = str(uuid.uuid4()), {**CASE, "office_id": None}
    opened = set()
    for key in (intake.a.caseworker_key, intake.a.other_office_caseworker_key, intake.b.caseworker_key):
        response = await intake.client.post("/cases", json=body, headers=headers(key, idem))
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
        opened.add(response.json()["case_id"])
    assert len(opened) == 3


async def test_a_refused_write_leaves_its_key_free(intake: Intake) -> None:
    key, idem = intake.a.caseworker_key, str(uuid.uuid4())
    case_id = (await intake.client.post("/cases", json=CASE, headers=headers(key))).json()["case_id"]
    path = f"/cases/{case_id}/facts/hearing_scheduled"
    past = {"scheduled_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    assert (await intake.client.post(path, json=past, headers=headers(key, idem))).status_code == 422
    future = {"scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    assert (await intake.client.post(path, json=future, headers=headers(key, idem))).status_code == 201
    assert (await intake.client.post(path, json=future, headers=headers(key, idem))).headers[
        "Idempotent-Replayed"
    ]


async def test_concurrent_retries_write_once(intake: Intake) -> None:
    key, idem = intake.a.caseworker_key, str(uuid.uuid4())
    before = await _count(intake, "SELECT count(*) FROM cases")
    answers = await asyncio.gather(
        *(intake.client.post("/cases", json=CASE, headers=headers(key, idem)) for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["case_id"] for a in answers}) == 1
    assert sum(1 for a in answers if "Idempotent-Replayed" not in a.headers) == 1
    assert await _count(intake, "SELECT count(*) FROM cases") == before + 1


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "ünïcode"])
async def test_a_malformed_key_is_422_naming_the_header(intake: Intake, value: str) -> None:
    response = await intake.client.post(
        "/cases", json=CASE, headers={**headers(intake.a.caseworker_key), "Idempotency-Key": value.encode()}
    )
    assert response.status_code == 422 and "Idempotency-Key" in response.text


async def test_person_registration_and_update_are_idempotent_and_the_stored_answer_sealed(
    intake: Intake,
) -> None:
    key, org = intake.a.caseworker_key, intake.a.organisation_id
    marker = uuid.uuid4().hex[:10]
    body = {"family_name": f"Idem{marker}", "phone": "06 12 34 56 78"}
    idem = str(uuid.uuid4())
    persons_before = await _count(intake, "SELECT count(*) FROM persons")
    first = await intake.client.post("/persons", json=body, headers=headers(key, idem))
    again = await intake.client.post("/persons", json=body, headers=headers(key, idem))
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    person_id = first.json()["person_id"]
    assert await _count(intake, "SELECT count(*) FROM persons") == persons_before + 1

    patch, patch_idem = {"given_name": f"Amina{marker}"}, str(uuid.uuid4())
    updated = await intake.client.patch(f"/persons/{person_id}", json=patch, headers=headers(key, patch_idem))
    replayed = await intake.client.patch(
        f"/persons/{person_id}", json=patch, headers=headers(key, patch_idem)
    )
    assert updated.status_code == replayed.status_code == 200
    assert replayed.json() == updated.json() and replayed.json()["given_name"] == f"Amina{marker}"
    async with tenant_transaction(intake.pool, org) as connection:
        stored = await connection.fetchrow(
            """SELECT response::text AS response, response_sealed FROM idempotency_keys
               WHERE idempotency_key = $1""",
            patch_idem,
        )
        actions = await connection.fetch(
            "SELECT action FROM person_audit WHERE person_id = $1 ORDER BY audit_id", uuid.UUID(person_id)
        )
    assert stored["response_sealed"] and marker not in stored["response"]
    # One creation, one update; the replayed update disclosed the record again: a read.
    assert [a["action"] for a in actions] == ["create", "update", "read"]
    records = await intake.person_records(person_id, "person.updated")
    types = [dict(r.headers)["ce_type"] for r in records]
    assert types == [b"org.refuge.person.registered.v1", b"org.refuge.person.updated.v1"]

    erased = await intake.client.delete(f"/persons/{person_id}", headers=headers(intake.a.coordinator_key))
    assert erased.status_code == 204
    after = await intake.client.patch(f"/persons/{person_id}", json=patch, headers=headers(key, patch_idem))
    assert after.status_code == 410


async def test_idempotency_keys_are_isolated_by_row_level_security(intake: Intake) -> None:
    await intake.client.post("/cases", json=CASE, headers=headers(intake.a.caseworker_key, str(uuid.uuid4())))
    assert await _count(intake, "SELECT count(*) FROM idempotency_keys", tenant=intake.b.organisation_id) >= 0
    async with tenant_transaction(intake.pool, intake.b.organisation_id) as connection:
        tenants = {r["tenant_id"] for r in await connection.fetch("SELECT tenant_id FROM idempotency_keys")}
    assert tenants <= {intake.b.organisation_id}
    async with intake.pool.acquire() as connection:
        forced = await connection.fetchval(
            "SELECT relforcerowsecurity FROM pg_class WHERE oid = 'intake.idempotency_keys'::regclass"
        )
        assert forced
        assert await connection.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def _age_keys(intake: Intake, tenant: uuid.UUID, idempotency_keys: list[str], hours: int) -> None:
    """Back-date records, as if written ``hours`` ago (the owner's connection: no API does it)."""

    async with tenant_transaction(intake.pool, tenant) as connection:
        await connection.execute(
            "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => $2) "
            "WHERE idempotency_key = ANY($1::text[])",
            idempotency_keys,
            hours,
        )


async def test_records_older_than_the_retention_are_purged_in_every_tenant(intake: Intake) -> None:
    """Retries come within minutes; after the retention (24 h by default) a key is forgotten,
    in every organisation, and a request under it is a new write."""

    old_a, old_b, fresh_a = (str(uuid.uuid4()) for _ in range(3))
    for org, idem in ((intake.a, old_a), (intake.b, old_b), (intake.a, fresh_a)):
        answer = await intake.client.post("/cases", json=CASE, headers=headers(org.caseworker_key, idem))
        assert answer.status_code == 201
    await _age_keys(intake, intake.a.organisation_id, [old_a], 25)
    await _age_keys(intake, intake.b.organisation_id, [old_b], 25)

    assert await intake.app.state.idempotency_purge.purge_once() >= 2

    remaining = "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = ANY($1::text[])"
    assert await _count(intake, remaining, [old_a, fresh_a]) == 1
    assert await _count(intake, remaining, [old_b], tenant=intake.b.organisation_id) == 0
    replay = await intake.client.post("/cases", json=CASE, headers=headers(intake.a.caseworker_key, fresh_a))
    assert replay.headers["Idempotent-Replayed"] == "true"
    again = await intake.client.post("/cases", json=CASE, headers=headers(intake.a.caseworker_key, old_a))
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
