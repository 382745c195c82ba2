"""Queries behind the figures, over the current generation (RLS keeps them to one tenant).

Each measure is a relation of (key, at, dimension columns...); a figure is the number of
distinct keys whose instant ``at`` falls in the period, grouped by GROUPING SETS so that
the margins and the grand total are distinct counts too (a person seen in two offices is
one person in the total).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from refuge_common.db.pool import Connection
from refuge_reporting.domain.measures import Measure, Period

# A case with its closing and its person's coarse attributes ($1: the generation).
_CASES = """
    SELECT c.case_id, coalesce(c.person_id, c.case_id) AS person_key, c.office_id, c.case_type,
           c.jurisdiction, c.channel, c.opened_at, k.closed_at, k.outcome,
           coalesce(p.gender, 'not_stated') AS gender, coalesce(p.nationality, 'unknown') AS nationality,
           coalesce(p.age_band, 'unknown') AS age_band
    FROM cases c
    LEFT JOIN case_closings k ON k.generation = c.generation AND k.case_id = c.case_id
    LEFT JOIN persons p ON p.generation = c.generation AND p.person_id = c.person_id
    WHERE c.generation = $1"""

_CASE_COLUMNS = "b.case_type, b.jurisdiction, b.gender, b.nationality, b.age_band, b.opened_at, b.closed_at"

_ACTIVITY = f"""
    SELECT b.person_key AS key, a.at, coalesce(a.office_id, b.office_id) AS office_id, b.channel,
           b.outcome, {_CASE_COLUMNS}, a.kind
    FROM (SELECT case_id, opened_at AS at, NULL::uuid AS office_id, NULL AS kind FROM cases
            WHERE generation = $1
          UNION ALL SELECT case_id, contacted_at, office_id, NULL FROM contacts WHERE generation = $1
          UNION ALL SELECT case_id, held_at, NULL, NULL FROM interviews WHERE generation = $1
          UNION ALL SELECT case_id, started_at, NULL, kind FROM detentions WHERE generation = $1) a
    JOIN ({_CASES}) b ON b.case_id = a.case_id"""

_DEADLINE_OUTCOME = f"""
    SELECT o.deadline_id::text AS key, o.at, coalesce(d.office_id, b.office_id) AS office_id, b.channel,
           b.outcome, {_CASE_COLUMNS}, d.purpose
    FROM deadline_outcomes o
    JOIN deadlines d ON d.generation = o.generation AND d.deadline_id = o.deadline_id
    JOIN ({_CASES}) b ON b.case_id = o.case_id
    WHERE o.generation = $1 AND o.outcome = '{{outcome}}'"""

RELATIONS: dict[Measure, str] = {
    Measure.PERSONS: _ACTIVITY,
    Measure.CASES_OPENED: f"""
        SELECT b.case_id::text AS key, b.opened_at AS at, b.office_id, b.channel, b.outcome, {_CASE_COLUMNS}
        FROM ({_CASES}) b""",
    Measure.CASES_CLOSED: f"""
        SELECT b.case_id::text AS key, b.closed_at AS at, b.office_id, b.channel, b.outcome, {_CASE_COLUMNS}
        FROM ({_CASES}) b WHERE b.closed_at IS NOT NULL""",
    Measure.CONTACTS: f"""
        SELECT t.source || ' ' || t.event_id AS key, t.contacted_at AS at,
               coalesce(t.office_id, b.office_id) AS office_id, t.channel, t.outcome, {_CASE_COLUMNS}
        FROM contacts t JOIN ({_CASES}) b ON b.case_id = t.case_id WHERE t.generation = $1""",
    Measure.INTERVIEWS: f"""
        SELECT t.source || ' ' || t.event_id AS key, t.held_at AS at, b.office_id, b.channel, b.outcome,
               {_CASE_COLUMNS}, t.authority
        FROM interviews t JOIN ({_CASES}) b ON b.case_id = t.case_id WHERE t.generation = $1""",
    Measure.DETENTION_PLACEMENTS: f"""
        SELECT t.source || ' ' || t.event_id AS key, t.started_at AS at, b.office_id, b.channel,
               b.outcome, {_CASE_COLUMNS}, t.kind
        FROM detentions t JOIN ({_CASES}) b ON b.case_id = t.case_id WHERE t.generation = $1""",
    Measure.PERSONS_DETAINED: f"""
        SELECT b.person_key::text AS key, t.started_at AS at, b.office_id, b.channel, b.outcome,
               {_CASE_COLUMNS}, t.kind
        FROM detentions t JOIN ({_CASES}) b ON b.case_id = t.case_id WHERE t.generation = $1""",
    Measure.DEADLINES_COMPUTED: f"""
        SELECT d.deadline_id::text AS key, d.computed_at AS at,
               coalesce(d.office_id, b.office_id) AS office_id, b.channel, b.outcome,
               {_CASE_COLUMNS}, d.purpose
        FROM deadlines d JOIN ({_CASES}) b ON b.case_id = d.case_id WHERE d.generation = $1""",
    Measure.DEADLINES_MET: _DEADLINE_OUTCOME.replace("{outcome}", "met"),
    Measure.DEADLINES_MISSED: _DEADLINE_OUTCOME.replace("{outcome}", "missed"),
    Measure.NOTIFICATIONS: """
        SELECT n.notification_id::text AS key, n.at, c.office_id, n.status, n.channel, n.recipient_kind,
               n.reason
        FROM notifications n
        LEFT JOIN cases c ON c.generation = n.generation AND c.case_id = n.case_id
        WHERE n.generation = $1""",
}

_MONTH = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM')"
DIMENSION_SQL: dict[str, str] = {
    "office": "f.office_id::text",
    "month": _MONTH.format("f.at"),
    "opened_month": _MONTH.format("f.opened_at"),
    "closed_month": _MONTH.format("f.closed_at"),
    **{
        name: f"f.{name}"
        for name in (
            "case_type",
            "jurisdiction",
            "channel",
            "gender",
            "nationality",
            "age_band",
            "outcome",
            "authority",
            "kind",
            "purpose",
            "status",
            "recipient_kind",
            "reason",
        )
    },
}


@dataclass(frozen=True)
class Count:
    """One group: its dimension values (None where the group is a margin) and its count."""

    values: tuple[str | None, ...]
    margin: tuple[bool, ...]  # per dimension: True where this row totals over it
    count: int


async def counts(
    connection: Connection,
    generation: int,
    measure: Measure,
    group_by: tuple[str, ...],
    period: Period,
    office_id: UUID | None,
) -> list[Count]:
    """Every group of ``group_by``, every margin and the grand total, as distinct counts."""

    expressions = [f"coalesce({DIMENSION_SQL[d]}, 'none')" for d in group_by]
    selected = "".join(f"{e} AS d{i}, GROUPING({e}) AS g{i}, " for i, e in enumerate(expressions))
    sets = _grouping_sets(expressions)
    sql = f"""SELECT {selected} count(DISTINCT f.key) AS n
              FROM ({RELATIONS[measure]}) f
              WHERE f.at >= $2 AND f.at < $3 AND ($4::uuid IS NULL OR f.office_id = $4)
              GROUP BY GROUPING SETS ({sets})"""
    await _generic_plans(connection)
    rows = await connection.fetch(sql, generation, period.start, period.end, office_id)
    return [_count(row, len(group_by)) for row in rows]


async def _generic_plans(connection: Connection) -> None:
    """Plan the figures' statements once per connection, for any generation and period.

    By default PostgreSQL plans a prepared statement afresh with its parameters (a custom
    plan) for its first five runs on a connection, and only then may keep a generic plan.
    Over these joins of partitioned tables the custom plans were the slow ones: with
    500,000 events, 350 to 550 ms against 25 to 50 ms for the generic plan, so every new
    connection's first five runs of a figure made the p99 (549 ms in the README, measured
    with the first queries after a restart and a rebuild).
    ``SET LOCAL``: for this transaction only; the pool's connections keep their defaults.
    """

    await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")


def _grouping_sets(expressions: list[str]) -> str:
    if not expressions:
        return "()"
    if len(expressions) <= 2:
        # Cells, each dimension's margin, and the grand total.
        subsets = [expressions, *([[e] for e in expressions] if len(expressions) == 2 else []), []]
    else:
        subsets = [expressions, []]
    return ", ".join(f"({', '.join(s)})" for s in subsets)


def _count(row: Any, dimensions: int) -> Count:
    margin = tuple(bool(row[f"g{i}"]) for i in range(dimensions))
    values = tuple(None if margin[i] else row[f"d{i}"] for i in range(dimensions))
    return Count(values, margin, int(row["n"]))


async def current_generation(connection: Connection) -> int:
    return int(await connection.fetchval("SELECT generation FROM generations WHERE state = 'current'"))


async def office_names(connection: Connection, generation: int) -> dict[str, str]:
    rows = await connection.fetch("SELECT office_id, name FROM offices WHERE generation = $1", generation)
    return {str(r["office_id"]): r["name"] for r in rows}


async def organisations(connection: Connection) -> list[UUID]:
    return [r["tenant_id"] for r in await connection.fetch("SELECT tenant_id FROM organisations")]


async def headline(connection: Connection, generation: int, period: Period, office_id: UUID | None) -> Any:
    """Cases opened in the period, cases open at its end, deadlines computed in it."""

    row = await connection.fetchrow(
        """SELECT
             (SELECT count(*) FROM cases WHERE generation = $1 AND opened_at >= $2 AND opened_at < $3
                AND ($4::uuid IS NULL OR office_id = $4)) AS cases_opened,
             (SELECT count(*) FROM cases c WHERE c.generation = $1 AND c.opened_at < $3
                AND ($4::uuid IS NULL OR c.office_id = $4)
                AND NOT EXISTS (SELECT 1 FROM case_closings k WHERE k.generation = $1
                                AND k.case_id = c.case_id AND k.closed_at < $3)) AS cases_open,
             (SELECT count(*) FROM deadlines WHERE generation = $1 AND computed_at >= $2
                AND computed_at < $3 AND ($4::uuid IS NULL OR office_id = $4)) AS deadlines_computed""",
        generation,
        period.start,
        period.end,
        office_id,
    )
    return dict(row) if row else {}


async def organisation_name(connection: Connection, tenant: UUID) -> str | None:
    name = await connection.fetchval("SELECT name FROM organisations WHERE tenant_id = $1", tenant)
    return None if name is None else str(name)


async def office_ids(connection: Connection, generation: int) -> set[UUID]:
    """The organisation's offices, from the directory and from its cases."""

    rows = await connection.fetch(
        """SELECT office_id FROM offices WHERE generation = $1
           UNION SELECT DISTINCT office_id FROM cases WHERE generation = $1""",
        generation,
    )
    return {r["office_id"] for r in rows}
