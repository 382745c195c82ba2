"""Plain SQL migrations, applied in file-name order, once, per service schema.

Why not Alembic: the services use no ORM and their migrations are SQL; what is
needed is ordering, a record of what ran, a checksum so an applied file is never
silently edited, and the role/grant set-up of DESIGN.md (the application's role
neither owns its tables nor bypasses row-level security). That is this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import asyncpg

from refuge_common.db.pool import Connection, database_name, with_database, with_user

PLATFORM_SQL = resources.files("refuge_common.db") / "sql"
KeyringAccess = Literal["none", "read", "write"]


@dataclass(frozen=True)
class SchemaSpec:
    """A service's schema: where its SQL lives and which login role uses it."""

    schema: str
    role: str
    migrations: Path
    keyring: KeyringAccess = "none"
    with_platform_tables: bool = True


class MigrationError(RuntimeError):
    pass


async def ensure_database(admin_dsn: str) -> bool:
    """Create the database named in ``admin_dsn`` if missing; True when created."""

    name = database_name(admin_dsn)
    maintenance = with_database(admin_dsn, "postgres")
    connection = await asyncpg.connect(maintenance)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            return False  # another service's migrator created it first
        return True
    finally:
        await connection.close()


def _files(spec: SchemaSpec) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if spec.with_platform_tables:
        platform = PLATFORM_SQL / "platform"
        for entry in sorted(platform.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".sql"):
                found.append((f"platform/{entry.name}", entry.read_text()))
    for path in sorted(spec.migrations.glob("*.sql")):
        found.append((path.name, path.read_text()))
    return found


async def migrate(admin_dsn: str, spec: SchemaSpec, app_password: str | None = None) -> list[str]:
    """Apply pending migrations of one schema and (re)grant its role; return what ran.

    A schema with keyring access gets the keyring first: its grants name the keyring's tables.
    """

    applied: list[str] = []
    if spec.keyring != "none":
        applied += [f"keyring/{name}" for name in await migrate_keyring(admin_dsn)]
    connection = await asyncpg.connect(admin_dsn)
    try:
        # One migrator at a time per database, whichever service starts first.
        await connection.execute("SELECT pg_advisory_lock(hashtext('refuge.migrations'))")
        await _ensure_role(connection, spec.role, app_password)
        await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{spec.schema}"')
        await connection.execute(
            f"""CREATE TABLE IF NOT EXISTS "{spec.schema}".schema_migrations (
                name text PRIMARY KEY, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {
            row["name"]: row["checksum"]
            for row in await connection.fetch(f'SELECT name, checksum FROM "{spec.schema}".schema_migrations')
        }
        for name, sql in _files(spec):
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if name in done:
                if done[name] != checksum:
                    raise MigrationError(
                        f"{spec.schema}/{name} changed after it was applied; add a new file instead"
                    )
                continue
            async with connection.transaction():
                await connection.execute(f'SET LOCAL search_path TO "{spec.schema}", public')
                await connection.execute(sql)
                await connection.execute(
                    f'INSERT INTO "{spec.schema}".schema_migrations (name, checksum) VALUES ($1, $2)',
                    name,
                    checksum,
                )
            applied.append(name)
        await _grant(connection, spec)
    finally:
        await connection.execute("SELECT pg_advisory_unlock(hashtext('refuge.migrations'))")
        await connection.close()
    return applied


KEYRING = SchemaSpec(
    schema="keyring",
    role="refuge_keyring",
    migrations=Path(str(PLATFORM_SQL / "keyring")),
    with_platform_tables=False,
)


async def migrate_keyring(admin_dsn: str) -> list[str]:
    return await migrate(admin_dsn, KEYRING)


async def _ensure_role(connection: Connection, role: str, password: str | None) -> None:
    exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    if not exists:
        await connection.execute(
            f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS'
        )
    if password is not None:
        # DDL takes no bind parameters; quote_literal escapes the password server-side.
        literal = await connection.fetchval("SELECT quote_literal($1)", password)
        await connection.execute(f'ALTER ROLE "{role}" PASSWORD {literal}')


async def _grant(connection: Connection, spec: SchemaSpec) -> None:
    schema, role = spec.schema, spec.role
    await connection.execute(
        f'''GRANT USAGE ON SCHEMA "{schema}" TO "{role}";
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}";
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}";
            REVOKE ALL ON "{schema}".schema_migrations FROM "{role}";'''
    )
    if spec.keyring != "none":
        privileges = "SELECT" if spec.keyring == "read" else "SELECT, INSERT, DELETE"
        await connection.execute(
            f'''GRANT USAGE ON SCHEMA keyring TO "{role}";
                GRANT {privileges} ON keyring.subject_keys TO "{role}";'''
        )


def app_dsn(admin_dsn: str, spec: SchemaSpec, password: str | None = None) -> str:
    return with_user(admin_dsn, spec.role, password)
