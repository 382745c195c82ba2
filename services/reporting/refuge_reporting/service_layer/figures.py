"""Figures for a caller: scope by role, year-over-year comparison, small-cell suppression.

A caseworker sees their office, a coordinator (or org admin) their organisation, an
operator the platform totals. Platform totals cross organisations, so they are always
suppressed, like any figure asked for publication. Each organisation is read under its
own row-level security and the counts are added: a case or a person belongs to one
organisation, so sums across organisations are exact.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from refuge_common.auth.principal import Principal, Role
from refuge_common.db.pool import tenant_transaction
from refuge_reporting.adapters import figures as queries
from refuge_reporting.domain.measures import MEASURES, InvalidQuery, Measure, Period, change, check_grouping
from refuge_reporting.domain.suppression import suppress


class NotFound(Exception):
    """Something outside the caller's reach: answered as if it did not exist."""


@dataclass(frozen=True)
class FiguresQuery:
    measure: Measure
    period: Period
    group_by: tuple[str, ...] = ()
    office_id: UUID | None = None
    compare: bool = False
    publish: bool = False


@dataclass
class Cell:
    dimensions: dict[str, str | None]  # None: totalled over this dimension
    value: int | None
    previous: int | None = None
    change: float | None = None
    suppressed: bool = False


@dataclass
class FigureTable:
    measure: Measure
    period: Period
    group_by: tuple[str, ...]
    organisation_id: UUID | None
    office_id: UUID | None
    suppressed_below: int | None
    rows: list[Cell] = field(default_factory=list)  # the cells, then the margins, then the total
    labels: dict[str, str] = field(default_factory=dict)  # office id -> office name

    def as_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure.value,
            "description": MEASURES[self.measure].description,
            "start": self.period.start,
            "end": self.period.end,
            "organisation_id": self.organisation_id,
            "office_id": self.office_id,
            "group_by": list(self.group_by),
            "suppressed_below": self.suppressed_below,
            "office_names": self.labels,
            "rows": [vars(row) for row in self.rows],
        }


def scope(principal: Principal, office_id: UUID | None) -> tuple[UUID | None, UUID | None]:
    """(organisation, office) the caller may see; organisation None means every one."""

    if principal.role is Role.OPERATOR:
        if office_id is not None:
            raise InvalidQuery("office_id: operators see platform totals only")
        return None, None
    if principal.role is Role.CASEWORKER and principal.office_id is not None:
        if office_id not in (None, principal.office_id):
            raise NotFound("office_id: no such office")
        return principal.organisation_id, principal.office_id
    return principal.organisation_id, office_id


async def figure_table(
    pool: asyncpg.Pool, principal: Principal, query: FiguresQuery, *, threshold: int
) -> FigureTable:
    organisation, office = scope(principal, query.office_id)
    if organisation is not None and office is not None and office != principal.office_id:
        await _check_office(pool, organisation, office)
    published = query.publish or organisation is None
    group_by = check_grouping(query.measure, list(query.group_by), published=published)
    tenants = [organisation] if organisation else await _organisations(pool)
    current, labels = await _counts(pool, tenants, query, group_by, query.period, office)
    previous = (
        (await _counts(pool, tenants, query, group_by, query.period.year_before(), office))[0]
        if query.compare
        else None
    )
    table = FigureTable(
        query.measure,
        query.period,
        group_by,
        organisation,
        office,
        threshold if published else None,
        labels=labels if organisation else {},
    )
    hidden = _suppressed(current, group_by, threshold) if published else set()
    hidden_before = (
        _suppressed(previous, group_by, threshold) if published and previous is not None else set()
    )
    keys = sorted(current.keys() | (previous or {}).keys(), key=_order)
    for key in keys:
        value = current.get(key, 0)
        before = previous.get(key, 0) if previous is not None else None
        cell = Cell(dict(zip(group_by, key, strict=True)), value, before, change(value, before))
        if key in hidden:
            cell.value, cell.change, cell.suppressed = None, None, True
        if key in hidden_before:
            cell.previous, cell.change, cell.suppressed = None, None, True
        table.rows.append(cell)
    return table


Key = tuple[str | None, ...]


def _order(key: Key) -> tuple[int, tuple[str, ...]]:
    # Cells first, then margins, the grand total last.
    return sum(v is None for v in key), tuple(v or "" for v in key)


async def _check_office(pool: asyncpg.Pool, organisation: UUID, office: UUID) -> None:
    """Another organisation's office answers as one that does not exist."""

    async with tenant_transaction(pool, organisation) as connection:
        generation = await queries.current_generation(connection)
        if office not in await queries.office_ids(connection, generation):
            raise NotFound("office_id: no such office")


async def _organisations(pool: asyncpg.Pool) -> list[UUID]:
    async with tenant_transaction(pool, None) as connection:
        return await queries.organisations(connection)


async def _counts(
    pool: asyncpg.Pool,
    tenants: list[UUID],
    query: FiguresQuery,
    group_by: tuple[str, ...],
    period: Period,
    office: UUID | None,
) -> tuple[dict[Key, int], dict[str, str]]:
    totals: dict[Key, int] = defaultdict(int)
    labels: dict[str, str] = {}
    for tenant in tenants:
        async with tenant_transaction(pool, tenant) as connection:
            generation = await queries.current_generation(connection)
            for count in await queries.counts(
                connection, generation, query.measure, group_by, period, office
            ):
                totals[count.values] += count.count
            if "office" in group_by:
                labels.update(await queries.office_names(connection, generation))
    if not totals:
        totals[tuple(None for _ in group_by)] = 0
    return dict(totals), labels


def _suppressed(counts: dict[Key, int], group_by: tuple[str, ...], threshold: int) -> set[Key]:
    """The keys to hide: small cells and margins, and the complements that would give them away."""

    if not group_by:
        total = counts.get((), 0)
        return {()} if 0 < total < threshold else set()
    cells = [k for k in counts if None not in k]
    rows = sorted({k[0] for k in cells}, key=str)
    columns = sorted({k[1] for k in cells}, key=str) if len(group_by) == 2 else [None]
    matrix = [[counts.get(_key(r, c), 0) for c in columns] for r in rows]
    if not rows:
        return set()
    result = suppress(matrix, threshold)
    hidden: set[Key] = set()
    for index in result.hidden:
        figure = result.figures[index]
        if figure.kind == "cell":
            assert figure.row is not None and figure.column is not None
            hidden.add(_key(rows[figure.row], columns[figure.column]))
        elif figure.kind == "row_total":
            assert figure.row is not None
            hidden.add((rows[figure.row], None))
        elif figure.kind == "column_total":
            assert figure.column is not None
            hidden.add((None, columns[figure.column]) if len(group_by) == 2 else (None,))
        else:
            hidden.add(tuple(None for _ in group_by))
    if len(group_by) == 2:
        # A margin over a single row or column is that row or column itself: the model leaves
        # it out, and it follows its cells here.
        for r, c in [(r, c) for r in rows for c in columns]:
            if _key(r, c) in hidden:
                hidden |= {(None, c)} if len(rows) == 1 else set()
                hidden |= {(r, None)} if len(columns) == 1 else set()
    # Margins of distinct counts (a person in two offices) are not sums of their cells:
    # whatever the model says, no figure under the threshold is shown.
    return hidden | {key for key, value in counts.items() if 0 < value < threshold}


def _key(row: str | None, column: str | None) -> Key:
    return (row,) if column is None else (row, column)
