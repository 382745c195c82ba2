"""Registering and updating persons on the real database and broker: sealing, validation, isolation."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from refuge_common.contract.envelope import from_record
from refuge_common.contract.persons import PersonRegistered, PersonUpdated
from refuge_common.crypto.sealing import open_sealed
from refuge_common.db.pool import tenant_transaction

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _identity() -> dict[str, Any]:
    """A person whose every identifying value is unique to the test that uses it."""

    tag = uuid.uuid4().hex[:8]
    return {
        "given_name": f"Amina{tag}",
        "family_name": f"Haddad{tag}",
        "birth_date": "1990-05-17",
        "gender": "female",
        "nationalities": ["sy"],
        "languages": ["ar"],
        "preferred_language": "fr",
        "phone": "06 12 34 56 78",
        "email": f"Amina.{tag}@Example.ORG",
        "timezone": "Europe/Paris",
        "address": {
            "lines": [f"{tag} rue de la Paix"],
            "postal_code": "75002",
            "city": "Paris",
            "country": "fr",
        },
    }


def _identifying(person: dict[str, Any]) -> list[bytes]:
    values = [
        person["given_name"],
        person["family_name"],
        person["phone"],
        "+33612345678",
        "612345678",
        person["email"],
        person["email"].lower(),
        person["email"].split("@")[0],
        person["birth_date"],
        person["address"]["lines"][0],
    ]
    return [value.encode() for value in values]


def _raw(record: Any) -> bytes:
    headers = b"".join(name.encode() + bytes(value) for name, value in record.headers or ())
    return bytes(record.key or b"") + bytes(record.value or b"") + headers


async def test_registration_normalises_and_publishes_nothing_identifying(intake: Intake) -> None:
    person = _identity()
    response = await intake.client.post("/persons", json=person, headers=bearer(intake.a.caseworker_key))
    assert response.status_code == 201, response.text
    summary = response.json()
    person_id = summary["person_id"]
    assert summary["office_id"] == str(intake.a.offices[0])
    assert summary["age_band"] == "36-50" and summary["nationalities"] == ["SY"]
    assert summary["languages"] == ["ar", "fr"] and summary["gender"] == "female"
    assert not any(value in response.content for value in _identifying(person))

    record = (
        await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.caseworker_key))
    ).json()
    assert record["phone"] == "+33612345678"
    assert record["email"] == person["email"].split("@")[0] + "@example.org"
    assert record["given_name"] == person["given_name"] and record["birth_date"] == "1990-05-17"
    assert record["address"]["country"] == "FR"

    (published,) = await intake.person_records(person_id, "person.registered")
    raw = _raw(published)
    leaked = [value for value in _identifying(person) if value in raw]
    assert not leaked, f"plaintext on the topic: {leaked}"
    envelope = from_record(published.headers, published.key, published.value)
    assert isinstance(envelope.data, PersonRegistered)
    assert envelope.tenant_id == intake.a.organisation_id
    assert envelope.data.age_band == "36-50" and envelope.data.timezone == "Europe/Paris"
    sealed = envelope.data.personal_data
    assert sealed is not None and str(sealed.key_id) == person_id
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        key = await intake.keyring.get(connection, uuid.UUID(person_id))
    opened = open_sealed(key, sealed)
    assert opened["phone"] == "+33612345678" and opened["family_name"] == person["family_name"]

    # At rest: the row holds no plaintext either, whatever column one looks in.
    owner = await asyncpg.connect(intake.settings.database_url)
    try:
        row = await owner.fetchval("SELECT p::text FROM intake.persons p WHERE person_id = $1", person_id)
    finally:
        await owner.close()
    assert not [value for value in _identifying(person) if value in row.encode()]


async def test_nothing_identifying_is_logged(intake: Intake, capfd: pytest.CaptureFixture[str]) -> None:
    person = _identity()
    person_id = await intake.register_person(intake.a.caseworker_key, **person)
    await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.caseworker_key))
    response = await intake.client.patch(
        f"/persons/{person_id}", json={"phone": "+33 6 98 76 54 32"}, headers=bearer(intake.a.caseworker_key)
    )
    assert response.status_code == 200, response.text
    await intake.person_records(person_id, "person.updated")
    out, err = capfd.readouterr()
    logged = (out + err).encode()
    assert not [value for value in _identifying(person) if value in logged]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "0639 01 23 45"}, "phone"),  # a Mayotte number, read in a metropolitan office
        ({"email": "amina.haddad@"}, "email"),
        ({"email": "amina.haddad.example.org"}, "email"),
        ({"gender": "unknown"}, "gender"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"nationalities": ["EU"]}, "nationalities"),
        ({"languages": ["xx"]}, "languages"),
        ({"preferred_language": "klingon"}, "preferred_language"),
        ({"birth_year": 1850}, "birth_year"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"family_name": None, "given_name": None}, "family_name"),
        ({"stateless": True}, "stateless"),
        ({"address": {"lines": [], "city": "Paris", "country": "FR"}}, "lines"),
        ({"office_id": str(uuid.uuid4())}, "office_id"),
        ({"shoe_size": 42}, "shoe_size"),
        # Text PostgreSQL cannot store: a 422 naming the field, not a 500.
        ({"family_name": "Had\u0000dad"}, "family_name"),
        ({"given_name": "Am\ud800ina"}, "given_name"),
        ({"address": {"lines": ["1 rue\u0000"], "city": "Paris", "country": "FR"}}, "lines"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_not_echoing_it(
    intake: Intake, change: dict[str, Any], field: str
) -> None:
    body = {**_identity(), **change}
    response = await intake.client.post(
        "/persons",
        # json.dumps escapes non-ASCII, so that an unpaired surrogate can be sent at all.
        content=json.dumps(body),
        headers={**bearer(intake.a.caseworker_key), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert field in response.text
    for value in (change.get("phone"), change.get("email")):
        if value:
            assert value not in response.text


async def test_another_organisation_or_office_gets_404_for_reads_and_writes(intake: Intake) -> None:
    person_id = await intake.register_person(intake.a.caseworker_key, **_identity())
    outsiders = [intake.b.caseworker_key, intake.b.coordinator_key, intake.b.org_admin_key]
    for key in [*outsiders, intake.a.other_office_caseworker_key]:
        get = await intake.client.get(f"/persons/{person_id}", headers=bearer(key))
        patch = await intake.client.patch(
            f"/persons/{person_id}", json={"gender": "male"}, headers=bearer(key)
        )
        assert (get.status_code, patch.status_code) == (404, 404)
        assert "Haddad" not in get.text
    # A caseworker may erase no one (403); the other organisation's coordinators see no one.
    for key, code in [
        (intake.b.caseworker_key, 403),
        (intake.b.coordinator_key, 404),
        (intake.b.org_admin_key, 404),
    ]:
        assert (await intake.client.delete(f"/persons/{person_id}", headers=bearer(key))).status_code == code
    for key in (intake.a.coordinator_key, intake.a.org_admin_key):
        assert (await intake.client.get(f"/persons/{person_id}", headers=bearer(key))).status_code == 200


async def test_operators_and_integrators_never_see_personal_data(intake: Intake) -> None:
    person_id = await intake.register_person(intake.a.caseworker_key, **_identity())
    for key in (intake.a.operator_key, intake.a.integrator_key):
        assert (await intake.client.get(f"/persons/{person_id}", headers=bearer(key))).status_code == 403
        body = {**_identity(), "office_id": str(intake.a.offices[0])}
        assert (await intake.client.post("/persons", json=body, headers=bearer(key))).status_code == 403


async def test_a_caseworker_registers_in_their_own_office_and_a_coordinator_names_one(intake: Intake) -> None:
    elsewhere = {**_identity(), "office_id": str(intake.a.offices[1])}
    response = await intake.client.post("/persons", json=elsewhere, headers=bearer(intake.a.caseworker_key))
    assert response.status_code == 422 and "office_id" in response.text
    response = await intake.client.post(
        "/persons", json=_identity(), headers=bearer(intake.a.coordinator_key)
    )
    assert response.status_code == 422 and "office_id" in response.text
    response = await intake.client.post("/persons", json=elsewhere, headers=bearer(intake.a.coordinator_key))
    assert response.status_code == 201


async def test_a_phone_is_read_in_the_region_of_the_offices_jurisdiction(intake: Intake) -> None:
    from refuge_common.contract.vocabulary import OfficeKind
    from refuge_intake.service_layer import onboarding

    mayotte = await onboarding.open_office(
        intake.pool,
        intake.a.organisation_id,
        name="Permanence Mamoudzou",
        kind=OfficeKind.DROP_IN_CLINIC,
        timezone="Indian/Mayotte",
        jurisdiction="FR-976",
    )
    body = {**_identity(), "phone": "0639 01 23 45", "office_id": str(mayotte)}
    response = await intake.client.post("/persons", json=body, headers=bearer(intake.a.coordinator_key))
    assert response.status_code == 201, response.text
    person_id = response.json()["person_id"]
    record = (
        await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.coordinator_key))
    ).json()
    assert record["phone"] == "+262639012345"


async def test_an_update_changes_what_it_names_and_publishes_the_full_state(intake: Intake) -> None:
    person = _identity()
    person_id = await intake.register_person(intake.a.caseworker_key, **person)
    response = await intake.client.patch(
        f"/persons/{person_id}",
        json={
            "phone": "+1 201 555 0123",
            "email": None,
            "nationalities": ["AF"],
            "preferred_language": "fa-AF",
        },
        headers=bearer(intake.a.caseworker_key),
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["phone"] == "+12015550123" and record["email"] is None
    assert record["given_name"] == person["given_name"] and record["nationalities"] == ["AF"]
    assert record["languages"] == ["ar", "fr", "fa-AF"]

    records = await intake.person_records(person_id, "person.updated")
    assert [dict(r.headers)["ce_type"] for r in records] == [
        b"org.refuge.person.registered.v1",
        b"org.refuge.person.updated.v1",
    ]
    envelope = from_record(records[-1].headers, records[-1].key, records[-1].value)
    assert isinstance(envelope.data, PersonUpdated)
    assert envelope.data.nationalities == ["AF"] and envelope.data.preferred_language == "fa-AF"
    assert envelope.data.gender == "female" and envelope.data.age_band == "36-50"
    assert b"+12015550123" not in _raw(records[-1])
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        key = await intake.keyring.get(connection, uuid.UUID(person_id))
    assert envelope.data.personal_data is not None
    opened = open_sealed(key, envelope.data.personal_data)
    assert opened["phone"] == "+12015550123" and "email" not in opened
    assert opened["given_name"] == person["given_name"]

    refused = await intake.client.patch(
        f"/persons/{person_id}", json={"phone": "0"}, headers=bearer(intake.a.caseworker_key)
    )
    assert refused.status_code == 422 and "phone" in refused.text
