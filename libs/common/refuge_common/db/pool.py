"""asyncpg pools and tenant-scoped transactions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What handlers receive: a connection of their own or one borrowed from a pool.
Connection = asyncpg.Connection | PoolConnectionProxy


async def _init_connection(connection: Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _no_session_state_to_reset(_connection: Connection) -> None:
    """What a released connection needs beyond asyncpg's own cleanup here: nothing.

    With a ``reset`` callback, asyncpg still rolls back a transaction left open and drops
    the connection's listeners before calling it (``Connection._reset``), but it no longer
    sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release:
    one more round trip per request or event, and a measurable share of intake's CPU per
    write. None of it has anything to undo here: the tenant is ``SET LOCAL`` (set_config's
    is_local) and so ends with its transaction, advisory locks are transaction locks,
    cursors live in transactions, and ``Wakeup`` unlistens before it releases.
    """


# The server setting of a connection that may read and write a table's rows of every tenant,
# where the table admits it (a second, permissive row-level security policy beside
# ``tenant_isolation``; see notifications' delivery log). Set for a whole pool at connect time,
# so that no forgotten statement can widen an ordinary connection's view.
ACROSS_TENANTS_SETTING = "refuge.across_tenants"


async def create_pool(
    dsn: str, *, size: int = 10, schema: str | None = None, across_tenants: bool = False
) -> asyncpg.Pool:
    """A pool on ``schema``; ``across_tenants``: its connections carry ``ACROSS_TENANTS_SETTING``."""

    settings = {"search_path": f"{schema}, public"} if schema else {}
    if across_tenants:
        settings[ACROSS_TENANTS_SETTING] = "on"
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        init=_init_connection,
        reset=_no_session_state_to_reset,
        server_settings=settings,
    )
    assert pool is not None
    return pool


def with_user(dsn: str, user: str, password: str | None = None) -> str:
    """The same server and database as ``dsn``, logged in as ``user``."""

    parts = urlsplit(dsn)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    credentials = quote(user, safe="") + ("" if password is None else ":" + quote(password, safe=""))
    netloc = f"{credentials}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


async def set_tenant(connection: Connection, tenant_id: UUID | None) -> None:
    """Scope row-level security to one tenant until the transaction ends (SET LOCAL)."""

    await connection.execute(
        "SELECT set_config('refuge.tenant_id', $1, true)", "" if tenant_id is None else str(tenant_id)
    )


def tenant_statement(tenant_id: UUID | None) -> str:
    """``set_tenant`` as SQL text, for a script of several statements in one simple query.

    A literal, not a parameter: only the simple-query protocol takes several statements in
    one message, and it takes no parameters. ``UUID(str(...))`` admits nothing but hex
    digits and dashes, so nothing else can reach the SQL text.
    """

    tenant = "" if tenant_id is None else str(UUID(str(tenant_id)))
    return f"SELECT set_config('refuge.tenant_id', '{tenant}', true)"


@asynccontextmanager
async def tenant_transaction(
    pool: asyncpg.Pool, tenant_id: UUID | None, *, then: str = ""
) -> AsyncIterator[Connection]:
    """A transaction scoped to one tenant, begun in one round trip instead of two.

    Intake's writes are bound by round trips (each is a send, a wake-up and a receive on
    both sides), so BEGIN and the tenant travel together. asyncpg's ``transaction()``
    cannot carry the second statement; this commits or rolls back as it would. A
    connection released with the transaction still open (cancelled mid-rollback) is
    rolled back by asyncpg's release.

    ``then``: more SQL (literals only, no parameters) for the same round trip, after the
    tenant is set; if it fails, the transaction is rolled back and its error raised.
    """

    async with pool.acquire() as connection:
        try:
            await connection.execute(f"BEGIN; {tenant_statement(tenant_id)}{'; ' + then if then else ''}")
            yield connection
        except BaseException:
            if not connection.is_closed() and connection.is_in_transaction():
                await connection.execute("ROLLBACK")
            raise
        await connection.execute("COMMIT")
