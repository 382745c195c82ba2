"""What the case-write tests share: tenant A's requests, offices and stored rows."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from uuid import UUID

from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.db.pool import tenant_transaction
from refuge_intake.service_layer import onboarding

if TYPE_CHECKING:
    from conftest import Intake

CASE = {"case_type": "removal_appeal", "channel": "phone"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_office(intake: Intake, jurisdiction: str = "FR") -> UUID:
    """A new office of A's, for the tests that change or close it."""

    return await onboarding.open_office(
        intake.pool,
        intake.a.organisation_id,
        name=f"office {uuid.uuid4().hex[:8]}",
        kind=OfficeKind.DROP_IN_CLINIC,
        timezone="Europe/Paris",
        jurisdiction=jurisdiction,
    )


async def open_case(intake: Intake, office: UUID, **extra: object) -> dict[str, Any]:
    response = await intake.client.post(
        "/cases", json={**CASE, "office_id": str(office), **extra}, headers=bearer(intake.a.coordinator_key)
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def stored(intake: Intake, tenant: UUID, sql: str, *args: object) -> int:
    async with tenant_transaction(intake.pool, tenant) as connection:
        return int(await connection.fetchval(sql, *args))


async def cases_of_office(intake: Intake, tenant: UUID, office: UUID) -> int:
    return await stored(intake, tenant, "SELECT count(*) FROM intake.cases WHERE office_id = $1", office)


async def timeline_of(intake: Intake, case_id: str) -> list[dict[str, Any]]:
    answer = await intake.client.get(f"/cases/{case_id}", headers=bearer(intake.a.coordinator_key))
    assert answer.status_code == 200, answer.text
    timeline: list[dict[str, Any]] = answer.json()["timeline"]
    return timeline
