"""Row-level security holds on every tenant table of intake, for queries that forget their tenant.

The tables are found in the catalogue, so a table added by a later migration is checked
too: it must carry forced RLS, and the service's role must see none of another
organisation's rows in it, whatever the query says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg
import pytest

from refuge_common.db.migrations import app_dsn
from refuge_intake.schema import SCHEMA

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
# Tables with a tenant_id that are not tenant tables: the outbox is drained by the relay
# for every tenant at once (its payloads carry personal data only sealed).
SHARED = {"intake.outbox"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def service_role(intake: Intake) -> AsyncIterator[asyncpg.Connection]:
    """A connection as refuge_intake, the role the service logs in as."""

    connection = await asyncpg.connect(app_dsn(intake.settings.database_url, SCHEMA))
    try:
        yield connection
    finally:
        await connection.close()


async def _tenant_tables(intake: Intake) -> list[str]:
    owner = await asyncpg.connect(intake.settings.database_url)
    try:
        rows = await owner.fetch(
            """SELECT format('%I.%I', n.nspname, c.relname) AS name,
                      c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
               WHERE n.nspname IN ('intake', 'keyring') AND c.relkind IN ('r', 'p')
               ORDER BY 1"""
        )
    finally:
        await owner.close()
    unprotected = [r["name"] for r in rows if r["name"] not in SHARED and not (r["enabled"] and r["forced"])]
    assert not unprotected, f"tenant tables without forced row-level security: {unprotected}"
    return [r["name"] for r in rows if r["name"] not in SHARED]


async def _activity_of_a(intake: Intake) -> None:
    """Rows of organisation A in the tables that the API writes."""

    key = intake.a.caseworker_key
    person = await intake.register_person(key)
    opened = await intake.client.post(
        "/cases",
        json={"case_type": "removal_appeal", "channel": "phone", "person_id": person},
        headers=bearer(key),
    )
    assert opened.status_code == 201, opened.text
    recorded = await intake.client.post(
        f"/cases/{opened.json()['case_id']}/facts/decision_notified",
        json={"decision": "oqtf", "regime": "ordinary", "notified_at": datetime.now(UTC).isoformat()},
        headers=bearer(key),
    )
    assert recorded.status_code == 201, recorded.text


async def _as_tenant(connection: asyncpg.Connection, tenant: object, sql: str) -> list[asyncpg.Record]:
    async with connection.transaction():
        await connection.execute("SELECT set_config('refuge.tenant_id', $1, true)", str(tenant))
        return await connection.fetch(sql)


async def test_select_star_without_a_tenant_filter_returns_no_row_of_another_tenant(
    intake: Intake, service_role: asyncpg.Connection
) -> None:
    await _activity_of_a(intake)
    a, b = intake.a.organisation_id, intake.b.organisation_id
    tables = await _tenant_tables(intake)
    assert {"intake.cases", "intake.persons", "intake.person_audit", "keyring.subject_keys"} <= set(tables)

    forgetful = await _as_tenant(service_role, b, "SELECT * FROM intake.cases")
    assert a not in {row["tenant_id"] for row in forgetful}
    assert await _as_tenant(service_role, a, "SELECT * FROM intake.cases"), "A's cases are there for A"
    for table in tables:
        seen = await _as_tenant(service_role, b, f"SELECT tenant_id FROM {table}")
        assert {row["tenant_id"] for row in seen} <= {b}, table
        assert await service_role.fetch(f"SELECT * FROM {table}") == [], f"{table} without any tenant set"


async def test_writes_that_forget_their_tenant_neither_touch_nor_plant_another_tenants_rows(
    intake: Intake, service_role: asyncpg.Connection
) -> None:
    await _activity_of_a(intake)
    a, b = intake.a.organisation_id, intake.b.organisation_id
    before = await _as_tenant(service_role, a, "SELECT case_id, version FROM intake.cases ORDER BY case_id")
    touched = await _as_tenant(
        service_role, b, "UPDATE intake.cases SET version = version + 1000 WHERE true RETURNING tenant_id"
    )
    assert {row["tenant_id"] for row in touched} <= {b}
    after = await _as_tenant(service_role, a, "SELECT case_id, version FROM intake.cases ORDER BY case_id")
    assert before == after
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await _as_tenant(
            service_role,
            b,
            f"""INSERT INTO intake.cases (case_id, tenant_id, office_id, case_type, jurisdiction, channel,
                                          opened_at)
                VALUES (gen_random_uuid(), '{a}', '{intake.a.offices[0]}', 'asylum', 'FR', 'phone', now())""",
        )
