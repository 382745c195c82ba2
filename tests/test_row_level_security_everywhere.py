"""Every table of every service that holds a ``tenant_id`` is under forced row-level security
with the ``tenant_isolation`` policy (DESIGN.md, tenancy), except the platform tables named
here, each with why it is read across tenants and why that is safe. A new table without
row-level security fails this test until it is isolated or named here with its reason."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from refuge_devstack.pytest_plugin import throwaway_database
from refuge_devstack.stack import migrate_all

pytestmark = pytest.mark.integration

_OUTBOX = (
    "events waiting for the relay, which publishes every organisation's; written in the tenant's transaction"
)
ACROSS_TENANTS_WITHOUT_ISOLATION = {
    "intake.outbox": _OUTBOX,
    "deadlines.outbox": _OUTBOX,
    "notifications.outbox": _OUTBOX,
    "reporting.outbox": _OUTBOX,
    "deadlines.reminders": "the timer worker's due instants: ids, instants and the reminder.due to emit",
    "notifications.webhook_queue": "the webhook loop's due attempts: ids and instants only",
    "reporting.organisations": "the organisations seen on the stream, for operator totals: public names",
}
# Policies beside tenant_isolation on isolated tables, each admitting one named reader.
OTHER_POLICIES = {
    (
        "intake.api_keys",
        "key_authentication",
    ): "the owner's authenticate_api_key(), before any tenant is known",
    ("intake.idempotency_keys", "retention_purge"): "the owner's purge_idempotency_keys(), by age",
    ("notifications.deliveries", "across_tenants"): "the dispatcher's pool (refuge.across_tenants)",
    ("notifications.office_deadlines", "across_tenants"): "the weekly-digest scheduler's pool",
}


async def _catalogue(database: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database)
    try:
        return await connection.fetch(
            """SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity, c.relforcerowsecurity,
                      c.relispartition,
                      array(SELECT p.polname FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1)::text[]
                        AS policies
               FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
               WHERE c.relkind IN ('r', 'p')
                 AND n.nspname IN ('intake', 'deadlines', 'notifications', 'reporting')
               ORDER BY 1"""
        )
    finally:
        await connection.close()


def test_every_tenant_table_is_isolated_or_named_with_its_reason() -> None:
    with throwaway_database("refuge_rls") as database:
        asyncio.run(migrate_all(database))
        tables = asyncio.run(_catalogue(database))

    assert len(tables) > 40  # every service's tables were migrated and found
    unprotected = {t["name"] for t in tables if not (t["relrowsecurity"] and t["relforcerowsecurity"])}
    assert unprotected == set(ACROSS_TENANTS_WITHOUT_ISOLATION)
    isolated = [t for t in tables if t["name"] not in unprotected]
    # A partition has no policy of its own: read through its parent, the parent's apply;
    # read directly, forced row-level security without a policy shows nothing.
    assert [t["name"] for t in isolated if t["relispartition"] and t["policies"]] == []
    tables_read = [t for t in isolated if not t["relispartition"]]
    assert [t["name"] for t in tables_read if "tenant_isolation" not in t["policies"]] == []
    others = {(t["name"], p) for t in tables_read for p in t["policies"] if p != "tenant_isolation"}
    assert others == set(OTHER_POLICIES)
