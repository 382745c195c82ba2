"""Fact tables in PostgreSQL: one transaction per batch, set-wise.

A batch's rows are copied (COPY) into temporary staging tables, then moved into the
generation's facts with one ``INSERT ... SELECT ... ON CONFLICT`` per table and tenant, all
sent as one script: the tenant is set per statement group (``SET LOCAL``) so forced
row-level security checks every row written. The next offset of every partition read is stored in the same
transaction, so a batch is applied exactly once, whatever the broker redelivers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from refuge_common.db.pool import Connection, tenant_statement
from refuge_reporting.domain.facts import TABLES, FactRow, FactTable

TopicPartition = tuple[str, int]
# Checked first in the transaction that applies a batch; raises to refuse the batch.
Guard = Callable[[Connection], Awaitable[None]]


class GenerationNotCurrent(Exception):
    """The live projector's generation was swapped out (by a rebuild, maybe elsewhere)."""


def only_while_current(generation: int) -> Guard:
    async def check(connection: Connection) -> None:
        state = await connection.fetchval("SELECT state FROM generations WHERE generation = $1", generation)
        if state != "current":
            raise GenerationNotCurrent(f"generation {generation} is {state}")

    return check


def _insert_sql(table: FactTable) -> str:
    """The move from staging into the generation, for one tenant; a template whose
    ``{generation}`` and ``{tenant}`` are literals (see ``_moves``)."""

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
        f"SELECT {{generation}}, {columns} FROM stage_{table.name} WHERE tenant_id = '{{tenant}}' "
        f"ON CONFLICT ({key}) {conflict}"
    )


_INSERTS = {name: _insert_sql(table) for name, table in TABLES.items()}


def _staging(names: set[str]) -> str:
    return ";\n".join(
        f"CREATE TEMP TABLE IF NOT EXISTS stage_{name} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(TABLES[name].columns)} FROM {name} WITH NO DATA"
        for name in sorted(names)
    )


def _moves(generation: int, tenants: set[UUID], names: set[str]) -> str:
    """Every move of a batch as one script: one round trip instead of one per tenant and
    table (20 organisations × 11 tables was 240 round trips per batch, each waiting for the
    event loop while the next batch decodes). Literals, not parameters, since only the
    simple-query protocol takes several statements in one message: ``int`` and
    ``UUID(str(...))`` let nothing but digits, hex digits and dashes reach the SQL text."""

    number = int(generation)
    statements = []
    for tenant in sorted(tenants):
        literal = str(UUID(str(tenant)))
        statements.append(tenant_statement(tenant))
        statements += [_INSERTS[name].format(generation=number, tenant=literal) for name in sorted(names)]
    statements.append(tenant_statement(None))
    return ";\n".join(statements)


@dataclass(frozen=True)
class Generation:
    number: int
    state: str


@dataclass(frozen=True)
class GenerationProgress:
    """The newest generation as the database tells it, to any replica."""

    number: int
    state: str
    created_at: datetime
    swapped_at: datetime | None
    events_total: int | None  # set by the replica building it
    events_done: int  # the sum of its stored offsets


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

    async def newest(self) -> GenerationProgress | None:
        row = await self.pool.fetchrow(
            """SELECT g.generation, g.state, g.created_at, g.swapped_at, g.events_total,
                      (SELECT coalesce(sum(o.next_offset), 0) FROM projection_offsets o
                        WHERE o.generation = g.generation) AS events_done
               FROM generations g ORDER BY g.generation DESC LIMIT 1"""
        )
        if row is None:
            return None
        return GenerationProgress(
            row["generation"],
            row["state"],
            row["created_at"],
            row["swapped_at"],
            row["events_total"],
            int(row["events_done"]),
        )

    async def record_total(self, number: int, events_total: int) -> None:
        await self.pool.execute(
            "UPDATE generations SET events_total = $2 WHERE generation = $1 AND state = 'building'",
            number,
            events_total,
        )

    async def open_generation(self) -> int:
        """A new, empty generation in state ``building``."""

        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute("LOCK TABLE generations IN EXCLUSIVE MODE")
            number = int(await connection.fetchval("SELECT max(generation) + 1 FROM generations"))
            await connection.execute("SELECT open_generation($1)", number)
        return number

    async def swap(self, number: int, *, guards: tuple[Guard, ...] = ()) -> int:
        """Make ``number`` current and retire the previous one, in one transaction (after
        analysing it, so that its first queries are planned from statistics), if every
        guard lets it."""

        await self.pool.execute("SELECT analyze_generation($1)", number)
        async with self.pool.acquire() as connection, connection.transaction():
            for guard in guards:
                await guard(connection)
            previous = await connection.fetchval(
                "UPDATE generations SET state = 'retired' WHERE state = 'current' RETURNING generation"
            )
            await connection.execute(
                "UPDATE generations SET state = 'current', swapped_at = now() WHERE generation = $1", number
            )
        return int(previous)

    async def drop(self, number: int) -> bool:
        """Drop one more of a generation's partitions, one per transaction (each takes its
        parent table's exclusive lock: queries wait behind one short drop, not eleven);
        True once none is left. Raises ``LockNotAvailableError`` when queries held the
        table past the function's lock timeout: try again later."""

        return bool(await self.pool.fetchval("SELECT drop_generation_step($1)", number))

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
        *,
        guards: tuple[Guard, ...] = (),
    ) -> None:
        """Apply one collapsed batch and record where it ends, atomically, if every guard
        lets it (checked in the same transaction)."""

        async with self.pool.acquire() as connection, connection.transaction():
            for guard in guards:
                await guard(connection)
            await _record_organisations(connection, organisations)
            present = {name for name, table_rows in rows.items() if table_rows}
            if present:
                await connection.execute(_staging(present))
            tenants: set[UUID] = set()
            for name in present:
                table_rows = rows[name]
                await connection.copy_records_to_table(
                    f"stage_{name}", records=[row.values for row in table_rows], columns=TABLES[name].columns
                )
                tenants.update(row.tenant_id for row in table_rows)
            if present:
                # Per tenant, so that forced row-level security checks every row written.
                await connection.execute(_moves(generation, tenants, present))
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
        sorted(organisations.items()),  # one order for every writer: no deadlock between them
    )
