"""A write's checks in the statement that writes (``adapters.case_writes``): opening a case
checks its office there, and a fact that changes nothing on the case locks and checks the
case there. Each check is tried with the jurisdiction this process keeps for the office or
the case (``service_layer.write_hints``) and without it, and a kept one that is wrong."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING
from uuid import UUID

import pytest
from case_write_support import CASE, bearer, cases_of_office, new_office, open_case, timeline_of

from refuge_common.db.pool import tenant_transaction
from refuge_intake.service_layer import onboarding, write_hints

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
DECISION = {"decision": "oqtf", "regime": "ordinary", "notified_at": "2024-03-01T10:00:00+01:00"}


@pytest.mark.parametrize("kept", [True, False], ids=["office kept", "office not kept"])
async def test_a_case_in_another_tenants_office_is_refused_naming_office_id(
    intake: Intake, kept: bool
) -> None:
    b_office = intake.b.offices[0]
    # B's own opening makes this process keep B's office (and its jurisdiction).
    opened = await intake.client.post("/cases", json=CASE, headers=bearer(intake.b.caseworker_key))
    assert opened.status_code == 201, opened.text
    assert write_hints.OFFICES.get(b_office) is not None
    if not kept:
        write_hints.OFFICES.forget(b_office)
    before = await cases_of_office(intake, intake.b.organisation_id, b_office)
    for extra in ({}, {"jurisdiction": "FR"}):
        refused = await intake.client.post(
            "/cases",
            json={**CASE, "office_id": str(b_office), **extra},
            headers=bearer(intake.a.coordinator_key),
        )
        assert refused.status_code == 422, refused.text
        assert refused.json() == {"detail": "office_id: no such office"}
    assert await cases_of_office(intake, intake.b.organisation_id, b_office) == before
    assert await cases_of_office(intake, intake.a.organisation_id, b_office) == 0


async def test_an_unknown_office_is_refused_naming_office_id(intake: Intake) -> None:
    unknown = uuid.uuid4()
    write_hints.OFFICES.keep(unknown, "FR")  # a kept office that is no longer anywhere
    for _ in range(2):
        refused = await intake.client.post(
            "/cases", json={**CASE, "office_id": str(unknown)}, headers=bearer(intake.a.coordinator_key)
        )
        assert refused.status_code == 422, refused.text
        assert refused.json() == {"detail": "office_id: no such office"}
    assert write_hints.OFFICES.get(unknown) is None, "an office found absent is forgotten"


@pytest.mark.parametrize("jurisdiction", [None, "FR-976"], ids=["office's jurisdiction", "caller's"])
async def test_a_closed_office_takes_no_case_and_nothing_is_stored(
    intake: Intake, jurisdiction: str | None
) -> None:
    office = await new_office(intake)
    extra = {"jurisdiction": jurisdiction} if jurisdiction else {}
    await open_case(intake, office, **extra)  # the process now keeps the office
    assert write_hints.OFFICES.get(office) == "FR"
    await onboarding.close_office(intake.pool, intake.a.organisation_id, office)
    refused = await intake.client.post(
        "/cases", json={**CASE, "office_id": str(office), **extra}, headers=bearer(intake.a.coordinator_key)
    )
    assert refused.status_code == 422, refused.text
    assert refused.json() == {"detail": "office_id: the office is closed"}
    assert await cases_of_office(intake, intake.a.organisation_id, office) == 1


async def test_a_case_takes_its_offices_jurisdiction_as_it_is_now(intake: Intake) -> None:
    office = await new_office(intake, "FR")
    first = await open_case(intake, office)
    assert first["jurisdiction"] == "FR"
    await onboarding.update_office(intake.pool, intake.a.organisation_id, office, jurisdiction="FR-976")
    assert write_hints.OFFICES.get(office) == "FR", "the process still keeps the former one"
    second = await open_case(intake, office)
    assert second["jurisdiction"] == "FR-976"
    [opened] = await timeline_of(intake, second["case_id"])
    assert opened["data"]["jurisdiction"] == "FR-976", "the event says what the case says"
    assert await cases_of_office(intake, intake.a.organisation_id, office) == 2
    assert write_hints.OFFICES.get(office) == "FR-976"


async def test_a_decision_takes_its_cases_jurisdiction_whatever_the_process_kept(intake: Intake) -> None:
    office = await new_office(intake, "FR-976")
    case_id = (await open_case(intake, office))["case_id"]
    for kept in ("FR-976", None, "US-NY"):  # the right one, none, a wrong one
        if kept is None:
            write_hints.CASES.forget(UUID(case_id))
        else:
            write_hints.CASES.keep(UUID(case_id), kept)
        response = await intake.client.post(
            f"/cases/{case_id}/facts/decision_notified",
            json=DECISION,
            headers=bearer(intake.a.coordinator_key),
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["jurisdiction"] == "FR-976"
        assert response.json()["case"]["jurisdiction"] == "FR-976"
    timeline = await timeline_of(intake, case_id)
    decisions = [fact for fact in timeline if fact["event_type"].endswith("decision_notified.v1")]
    assert [fact["data"]["jurisdiction"] for fact in decisions] == ["FR-976"] * 3


@pytest.mark.parametrize("kept", [True, False], ids=["case kept", "case not kept"])
async def test_a_fact_on_a_closed_case_or_anothers_case_writes_nothing(intake: Intake, kept: bool) -> None:
    a, b = intake.a, intake.b
    case_id = (await open_case(intake, a.offices[0]))["case_id"]
    if not kept:
        write_hints.CASES.forget(UUID(case_id))
    path = f"/cases/{case_id}/facts/decision_notified"
    for key in (b.coordinator_key, b.caseworker_key, a.other_office_caseworker_key, a.operator_key):
        response = await intake.client.post(path, json=DECISION, headers=bearer(key))
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"case {case_id} not found"}
    closed = await intake.client.post(
        f"/cases/{case_id}/facts/closed", json={"outcome": "withdrawn"}, headers=bearer(a.coordinator_key)
    )
    assert closed.status_code == 201, closed.text
    if not kept:
        write_hints.CASES.forget(UUID(case_id))
    for fact, body in (
        ("decision_notified", DECISION),
        ("appeal_filed", {"filed_at": "2024-03-02T10:00:00+01:00"}),
        ("arrival_recorded", {"arrived_on": "2024-01-01"}),
        ("interview_held", {"held_at": "2024-03-02T10:00:00+01:00"}),
    ):
        response = await intake.client.post(
            f"/cases/{case_id}/facts/{fact}", json=body, headers=bearer(a.caseworker_key)
        )
        assert response.status_code == 409, response.text
        assert "closed" in response.json()["detail"] and "case_id" in response.json()["detail"]
    assert [fact["event_type"].split(".")[3] for fact in await timeline_of(intake, case_id)] == [
        "opened",
        "closed",
    ]


async def test_a_fact_waits_for_another_write_to_its_case(intake: Intake) -> None:
    """The statement that appends a fact takes the case's lock: a concurrent write to the
    case (here a transaction holding the lock) makes it wait, so the case's events enter
    the outbox in the order their writes commit."""

    case_id = (await open_case(intake, intake.a.offices[0]))["case_id"]
    assert write_hints.CASES.get(UUID(case_id)) is not None, "the fact takes the one-statement path"
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as holder:
        # What an UPDATE of the case (a status change, a transfer) takes: it does not stop the
        # foreign key check of a fact (KEY SHARE), only the lock of another writer.
        await holder.execute("SELECT 1 FROM intake.cases WHERE case_id = $1 FOR NO KEY UPDATE", UUID(case_id))
        holder_pid = await holder.fetchval("SELECT pg_backend_pid()")
        write = asyncio.create_task(
            intake.client.post(
                f"/cases/{case_id}/facts/decision_notified",
                json=DECISION,
                headers=bearer(intake.a.coordinator_key),
            )
        )
        deadline = time.monotonic() + 30
        while not await _waits_on(intake, holder_pid):
            assert not write.done(), f"the fact did not wait for the case's lock: {write.result().text}"
            assert time.monotonic() < deadline, "no write waited for the case's lock"
            await asyncio.sleep(0.01)
        assert not write.done()
    response = await write
    assert response.status_code == 201, response.text


async def _waits_on(intake: Intake, holder_pid: int) -> bool:
    async with intake.pool.acquire() as connection:
        return bool(
            await connection.fetchval(
                "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)))",
                holder_pid,
            )
        )
