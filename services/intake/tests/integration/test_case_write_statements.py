"""The statements of ``adapters.case_writes`` on their own, without the service layer
(which refuses after them too): each writes nothing it does not admit, in a tenant
transaction (rolled back here) and as a transaction of its own (committed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg
import pytest
from case_write_support import bearer, cases_of_office, new_office, open_case, timeline_of

from refuge_common.auth.principal import Role
from refuge_common.contract import cases as facts
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import new_event
from refuge_common.contract.vocabulary import CaseType, ContactChannel
from refuge_common.db.pool import tenant_transaction
from refuge_intake.adapters import case_writes
from refuge_intake.adapters.case_store import Case
from refuge_intake.schema import SOURCE
from refuge_intake.service_layer import onboarding

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration


FACTS_OF_CASE = "SELECT count(*) FROM intake.case_facts WHERE case_id = $1"
EVENTS_OF_ID = "SELECT count(*) FROM intake.outbox WHERE event_id = $1"


class _RolledBack(Exception):
    pass


async def _try_append(
    intake: Intake, case_id: str, *, office_scope: UUID | None, closed_ok: bool
) -> tuple[bool, int]:
    """(written, the case's facts the transaction then sees), in a transaction rolled back."""

    tenant = intake.a.organisation_id
    data = facts.CaseAppealFiled(case_id=UUID(case_id), filed_at=datetime.now(UTC))
    envelope = new_event(SOURCE, data, tenant)
    seen: list[tuple[bool, int]] = []
    with pytest.raises(_RolledBack):
        async with tenant_transaction(intake.pool, tenant) as connection:
            found = await case_writes.append_fact_if(
                connection,
                case_id=UUID(case_id),
                fact=envelope,
                data=data.model_dump(mode="json"),
                recorded_by="test",
                office_scope=office_scope,
                closed_ok=closed_ok,
                case_jurisdiction=None,
            )
            assert found is not None
            count = await connection.fetchval(
                "SELECT count(*) FROM intake.case_facts WHERE case_id = $1", UUID(case_id)
            )
            events = await connection.fetchval(
                "SELECT count(*) FROM intake.outbox WHERE event_id = $1", envelope.id
            )
            assert events == (1 if found.written else 0)
            seen.append((found.written, int(count)))
            raise _RolledBack
    return seen[0]


async def test_the_fact_statement_appends_only_on_a_case_it_admits(intake: Intake) -> None:
    a = intake.a
    case_id = (await open_case(intake, a.offices[0]))["case_id"]
    assert await _try_append(intake, case_id, office_scope=None, closed_ok=False) == (
        True,
        2,
    )
    assert await _try_append(intake, case_id, office_scope=a.offices[0], closed_ok=False) == (True, 2)
    assert await _try_append(intake, case_id, office_scope=a.offices[1], closed_ok=False) == (False, 1)
    closed = await intake.client.post(
        f"/cases/{case_id}/facts/closed", json={"outcome": "withdrawn"}, headers=bearer(a.coordinator_key)
    )
    assert closed.status_code == 201, closed.text
    assert await _try_append(intake, case_id, office_scope=None, closed_ok=False) == (
        False,
        2,
    )
    assert await _try_append(intake, case_id, office_scope=None, closed_ok=True) == (
        True,
        3,
    )


def _new_case(intake: Intake, office: UUID) -> tuple[Case, CaseOpened]:
    """A case of A's in ``office`` and its opening fact, not yet written."""

    case = Case(
        case_id=uuid.uuid4(),
        tenant_id=intake.a.organisation_id,
        office_id=office,
        case_type="removal_appeal",
        jurisdiction="FR",
        channel="phone",
        person_id=None,
        caseworker_id=None,
        status="open",
        opened_at=datetime.now(UTC),
        closed_at=None,
    )
    data = CaseOpened(
        case_id=case.case_id,
        organisation_id=case.tenant_id,
        office_id=office,
        case_type=CaseType.REMOVAL_APPEAL,
        jurisdiction="FR",
        channel=ContactChannel.PHONE,
        opened_at=case.opened_at,
    )
    return case, data


async def test_the_opening_statement_opens_only_in_an_open_office_of_the_tenant(intake: Intake) -> None:
    closed_office = await new_office(intake)
    await onboarding.close_office(intake.pool, intake.a.organisation_id, closed_office)
    for office, expected in (
        (intake.a.offices[0], (True, False, True)),
        (closed_office, (True, True, False)),
        (intake.b.offices[0], (False, False, False)),
    ):
        case, data = _new_case(intake, office)
        async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
            seen = await case_writes.open_case(
                connection,
                case=case,
                fact=new_event(SOURCE, data, case.tenant_id),
                data=data.model_dump(mode="json"),
                recorded_by="test",
                office_jurisdiction=None,
            )
            assert (seen.found, seen.closed, seen.written) == expected, office
            stored = await connection.fetchval(
                "SELECT count(*) FROM intake.cases WHERE case_id = $1", case.case_id
            )
            assert stored == (1 if expected[2] else 0)


async def test_a_statement_of_its_own_transaction_commits_only_what_it_admits(intake: Intake) -> None:
    """Outside a transaction (case_writes.OwnTransaction) the statement commits itself:
    what it refuses must not be written, since nothing rolls it back afterwards."""

    a, b = intake.a, intake.b
    case_id = UUID((await open_case(intake, a.offices[0]))["case_id"])
    closed = await intake.client.post(
        f"/cases/{case_id}/facts/closed", json={"outcome": "withdrawn"}, headers=bearer(a.coordinator_key)
    )
    assert closed.status_code == 201, closed.text

    async def append(tenant: UUID, *, closed_ok: bool) -> bool | None:
        data = facts.CaseAppealFiled(case_id=case_id, filed_at=datetime.now(UTC))
        async with intake.pool.acquire() as connection:
            seen = await case_writes.append_fact_if(
                connection,
                case_id=case_id,
                fact=new_event(SOURCE, data, tenant),
                data=data.model_dump(mode="json"),
                recorded_by="test",
                office_scope=None,
                closed_ok=closed_ok,
                case_jurisdiction=None,
                own=case_writes.OwnTransaction(tenant, None, nudged=False),
            )
        return None if seen is None else seen.written

    assert await append(b.organisation_id, closed_ok=True) is None, "another tenant's case is absent"
    assert await append(a.organisation_id, closed_ok=False) is False, "a closed case takes no appeal"
    assert len(await timeline_of(intake, str(case_id))) == 2
    assert await append(a.organisation_id, closed_ok=True) is True
    assert len(await timeline_of(intake, str(case_id))) == 3, "committed by the statement itself"


async def test_a_statement_of_its_own_transaction_checks_the_key(intake: Intake) -> None:
    key = await onboarding.create_api_key(intake.pool, intake.a.organisation_id, role=Role.COORDINATOR)
    key_id = key.split("_")[1]
    await onboarding.revoke_api_key(intake.pool, key_id)
    office = await new_office(intake)
    case, data = _new_case(intake, office)
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        async with intake.pool.acquire() as connection:
            await case_writes.open_case(
                connection,
                case=case,
                fact=new_event(SOURCE, data, case.tenant_id),
                data=data.model_dump(mode="json"),
                recorded_by=key_id,
                office_jurisdiction=None,
                own=case_writes.OwnTransaction(case.tenant_id, key_id, nudged=False),
            )
    assert await cases_of_office(intake, intake.a.organisation_id, office) == 0
