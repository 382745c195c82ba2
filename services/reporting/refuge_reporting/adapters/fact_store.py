"""Fact tables in PostgreSQL: one transaction per batch, set-wise.

A batch's rows are copied (COPY) into temporary staging tables, then moved into the
generation's facts with one ``INSERT ... SELECT ... ON CONFLICT`` per table and tenant:
the tenant is set per statement group (``SET LOCAL``) so forced row-level security checks
every row written. The next offset of every partition read is stored in the same
transaction, so a batch is applied exactly once, whatever the broker redelivers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from refuge_common.db.pool import Connection, set_tenant
from refuge_reporting.domain.facts import TABLES, FactRow, FactTable

TopicPartition = tuple[str, int]


def _insert_sql(table: FactTable) -> str:
    columns = ", ".join(table.columns)
    key = ", ".join(("generation", *table.key))
    if table.newest_by is None:
        conflict = "DO NOTHING"
    else:
        updates = ", ".join(f"{c} = excluded.{c}" for c in table.columns if c not in table.key)
        conflict = (
            f"DO UPDATE SET {updates} WHERE {table.name}.{table.newest_by} < excluded.{table.newest_by}"
        )
    return (
        f"INSERT INTO {table.name} (generation, {columns}) "
        f"SELECT $1, {columns} FROM stage_{table.name} WHERE tenant_id = $2 "
        f"ON CONFLICT ({key}) {conflict}"
    )


_INSERTS = {name: _insert_sql(table) for name, table in TABLES.items()}


@dataclass(frozen=True)
class Generation:
    number: int
    state: str


class FactStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # -- generations ---------------------------------------------------------------

    async def current(self) -> int:
        number = await self.pool.fetchval("SELECT generation FROM generations WHERE state = 'current'")
        assert number is not None, "no current generation (migrations not applied?)"
        return int(number)

    async def generations(self) -> list[Generation]:
        rows = await self.pool.fetch("SELECT generation, state FROM generations ORDER BY generation")
        return [Generation(r["generation"], r["state"]) for r in rows]

    async def open_generation(self) -> int:
        """A new, empty generation in state ``building``."""

        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("LOCK TABLE generations IN EXCLUSIVE MODE")
            number = int(await connection.fetchval("SELECT max(generation) + 1 FROM generations"))
            await connection.execute("SELECT open_generation($1)", number)
        return number

    async def swap(self, number: int) -> int:
        """Make ``number`` current and retire the previous one, in one transaction (after
        analysing it, so that its first queries are planned from statistics)."""

        await self.pool.execute("SELECT analyze_generation($1)", number)
        async with self.pool.acquire() as connection, connection.transaction():
            previous = await connection.fetchval(
                "UPDATE generations SET state = 'retired' WHERE state = 'current' RETURNING generation"
            )
            await connection.execute(
                "UPDATE generations SET state = 'current', swapped_at = now() WHERE generation = $1", number
            )
        return int(previous)

    async def drop(self, number: int) -> bool:
        """Drop a generation's partitions; False when queries held the tables (try again)."""

        try:
            await self.pool.execute("SELECT drop_generation($1)", number)
        except asyncpg.LockNotAvailableError:
            return False
        return True

    async def offsets(self, generation: int) -> dict[TopicPartition, int]:
        rows = await self.pool.fetch(
            "SELECT topic, partition, next_offset FROM projection_offsets WHERE generation = $1", generation
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    # -- applying ------------------------------------------------------------------

    async def apply(
        self,
        generation: int,
        rows: Mapping[str, list[FactRow]],
        next_offsets: Mapping[TopicPartition, int],
        organisations: Mapping[UUID, str | None],
    ) -> None:
        """Apply one collapsed batch and record where it ends, atomically."""

        async with self.pool.acquire() as connection, connection.transaction():
            await _record_organisations(connection, organisations)
            tenants: set[UUID] = set()
            for name, table_rows in rows.items():
                if not table_rows:
                    continue
                columns = ", ".join(TABLES[name].columns)
                await connection.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS stage_{name} ON COMMIT DELETE ROWS AS "
                    f"SELECT {columns} FROM {name} WITH NO DATA"
                )
                await connection.copy_records_to_table(
                    f"stage_{name}", records=[row.values for row in table_rows], columns=TABLES[name].columns
                )
                tenants.update(row.tenant_id for row in table_rows)
            present = {name for name, table_rows in rows.items() if table_rows}
            for tenant in tenants:
                await set_tenant(connection, tenant)
                for name in present:
                    await connection.execute(_INSERTS[name], generation, tenant)
            await set_tenant(connection, None)
            await connection.executemany(
                """INSERT INTO projection_offsets (generation, topic, partition, next_offset)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (generation, topic, partition)
                   DO UPDATE SET next_offset =
                       greatest(projection_offsets.next_offset, excluded.next_offset)""",
                [
                    (generation, topic, partition, offset)
                    for (topic, partition), offset in next_offsets.items()
                ],
            )


async def _record_organisations(connection: Connection, organisations: Mapping[UUID, str | None]) -> None:
    if not organisations:
        return
    await connection.executemany(
        """INSERT INTO organisations (tenant_id, name) VALUES ($1, $2)
           ON CONFLICT (tenant_id) DO UPDATE SET name = coalesce(excluded.name, organisations.name)
           WHERE excluded.name IS NOT NULL""",
        list(organisations.items()),
    )
