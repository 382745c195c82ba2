"""SQL listing cases by filters, one keyset page at a time (intake schema, RLS-scoped)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection
from refuge_intake.adapters.case_store import COLUMNS, Case
from refuge_intake.domain.case_search import CaseFilters, Cursor

_SELECT = ", ".join(f"c.{column.strip()}" for column in COLUMNS.split(","))


async def list_cases(
    connection: Connection,
    filters: CaseFilters,
    *,
    office_scope: UUID | None,
    after: Cursor | None,
    limit: int,
) -> list[Case]:
    """Up to ``limit`` cases newest first, after ``after``; ``office_scope`` confines them to
    one office (a caseworker's), on top of the tenant that row-level security confines them to."""

    clauses: list[str] = []
    arguments: list[Any] = []

    def where(condition: str, *values: Any) -> None:
        # Each value gets its own placeholder; the SQL text holds no caller input.
        placeholders = []
        for value in values:
            arguments.append(value)
            placeholders.append(f"${len(arguments)}")
        clauses.append(condition.format(*placeholders))

    if office_scope is not None:
        where("c.office_id = {}", office_scope)
    if filters.office_id is not None:
        where("c.office_id = {}", filters.office_id)
    if filters.case_type is not None:
        where("c.case_type = {}", filters.case_type)
    if filters.status is not None:
        where("c.status = {}", filters.status)
    if filters.caseworker_id is not None:
        where("c.caseworker_id = {}", filters.caseworker_id)
    # "Opened on 6 March" is the date where the office is, not in UTC.
    if filters.opened_from is not None:
        where("(c.opened_at AT TIME ZONE o.timezone)::date >= {}", filters.opened_from)
    if filters.opened_to is not None:
        where("(c.opened_at AT TIME ZONE o.timezone)::date <= {}", filters.opened_to)
    if after is not None:
        where("(c.opened_at, c.case_id) < ({}, {})", after.opened_at, after.case_id)
    arguments.append(limit)
    rows = await connection.fetch(
        f"""SELECT {_SELECT} FROM cases c JOIN offices o ON o.office_id = c.office_id
            {"WHERE " + " AND ".join(clauses) if clauses else ""}
            ORDER BY c.opened_at DESC, c.case_id DESC LIMIT ${len(arguments)}""",
        *arguments,
    )
    return [Case(**dict(row)) for row in rows]
