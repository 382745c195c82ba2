"""Intake's HTTP API against the real database and broker: access, isolation, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest

from refuge_common.db.migrations import app_dsn
from refuge_intake.schema import SCHEMA

if TYPE_CHECKING:
    from conftest import Intake


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


pytestmark = pytest.mark.integration
CASE = {"case_type": "removal_appeal", "channel": "phone"}


async def _open(intake: Intake, key: str, **extra: object) -> str:
    response = await intake.client.post("/cases", json={**CASE, **extra}, headers=bearer(key))
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def test_no_credentials_or_a_wrong_key_is_401(intake: Intake) -> None:
    assert (await intake.client.post("/cases", json=CASE)).status_code == 401
    forged = intake.a.caseworker_key[:-4] + "AAAA"
    assert (await intake.client.post("/cases", json=CASE, headers=bearer(forged))).status_code == 401


async def test_another_tenants_case_is_404_for_reads_and_writes(intake: Intake) -> None:
    case_id = await _open(intake, intake.a.caseworker_key)
    for key in (intake.b.caseworker_key, intake.b.coordinator_key):
        assert (await intake.client.get(f"/cases/{case_id}", headers=bearer(key))).status_code == 404
        response = await intake.client.post(
            f"/cases/{case_id}/facts/decision_notified",
            headers=bearer(key),
            json={"decision": "oqtf", "regime": "ordinary", "notified_at": datetime.now(UTC).isoformat()},
        )
        assert response.status_code == 404
        assert "Org A" not in response.text


async def test_a_caseworker_sees_their_office_and_a_coordinator_the_organisation(intake: Intake) -> None:
    other_office = await _open(intake, intake.a.coordinator_key, office_id=str(intake.a.offices[1]))
    assert (
        await intake.client.get(f"/cases/{other_office}", headers=bearer(intake.a.caseworker_key))
    ).status_code == 404
    assert (
        await intake.client.get(f"/cases/{other_office}", headers=bearer(intake.a.coordinator_key))
    ).status_code == 200


async def test_the_timeline_lists_facts_in_order(intake: Intake) -> None:
    case_id = await _open(intake, intake.a.caseworker_key)
    for days in (3, 1):
        notified = (datetime.now(UTC) - timedelta(days=days)).isoformat()
        response = await intake.client.post(
            f"/cases/{case_id}/facts/decision_notified",
            headers=bearer(intake.a.caseworker_key),
            json={"decision": "oqtf", "regime": "ordinary", "notified_at": notified},
        )
        assert response.status_code == 201
    case = (await intake.client.get(f"/cases/{case_id}", headers=bearer(intake.a.caseworker_key))).json()
    assert [fact["event_type"] for fact in case["timeline"]] == [
        "org.refuge.case.opened.v1",
        "org.refuge.case.decision_notified.v1",
        "org.refuge.case.decision_notified.v1",
    ]
    notified = [f["data"]["notified_at"] for f in case["timeline"][1:]]
    assert notified == sorted(notified)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CASE, "case_type": "deportation"}, "case_type"),
        ({"channel": "phone"}, "case_type"),
        ({**CASE, "office_id": "not-a-uuid"}, "office_id"),
        ({**CASE, "jurisdiction": "DE"}, "jurisdiction"),
    ],
)
async def test_bad_input_is_422_naming_the_field(intake: Intake, body: dict[str, object], field: str) -> None:
    response = await intake.client.post("/cases", json=body, headers=bearer(intake.a.caseworker_key))
    assert response.status_code == 422
    assert field in response.text


async def test_a_decision_notified_in_the_future_is_refused(intake: Intake) -> None:
    case_id = await _open(intake, intake.a.caseworker_key)
    response = await intake.client.post(
        f"/cases/{case_id}/facts/decision_notified",
        headers=bearer(intake.a.caseworker_key),
        json={
            "decision": "oqtf",
            "regime": "ordinary",
            "notified_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 422 and "notified_at" in response.text


async def test_an_oversized_body_is_413_and_stores_nothing(intake: Intake) -> None:
    response = await intake.client.post(
        "/cases", headers=bearer(intake.a.caseworker_key), json={**CASE, "padding": "x" * 10_000}
    )
    assert response.status_code == 413


async def test_a_token_from_the_token_endpoint_is_accepted_and_a_tampered_one_is_not(intake: Intake) -> None:
    refused = await intake.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_secret": "rfg_nope_nope"}
    )
    assert refused.status_code == 401
    granted = await intake.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_secret": intake.a.caseworker_key}
    )
    assert granted.status_code == 200
    token = granted.json()["access_token"]
    assert (await intake.client.post("/cases", json=CASE, headers=bearer(token))).status_code == 201
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await intake.client.post("/cases", json=CASE, headers=bearer(tampered))).status_code == 401
    jwks = (await intake.client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["kty"] == "OKP" and "d" not in jwks["keys"][0]


async def test_row_level_security_holds_for_a_query_that_forgets_its_tenant(intake: Intake) -> None:
    await _open(intake, intake.a.caseworker_key)
    connection = await asyncpg.connect(app_dsn(intake.settings.database_url, SCHEMA))
    try:
        assert await connection.fetchval("SELECT count(*) FROM intake.cases") == 0
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config('refuge.tenant_id', $1, true)", str(intake.b.organisation_id)
            )
            tenants = await connection.fetch("SELECT DISTINCT tenant_id FROM intake.cases")
        assert {row["tenant_id"] for row in tenants} <= {intake.b.organisation_id}
        owner = await connection.fetchval(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'intake' AND tablename = 'cases'"
        )
        assert owner != "refuge_intake"
    finally:
        await connection.close()
