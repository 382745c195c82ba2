"""Gathering one year's published figures into the annual activity report."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from babel.dates import get_month_names

from refuge_common.auth.principal import Principal
from refuge_common.db.pool import tenant_transaction
from refuge_reporting.adapters import figures as queries
from refuge_reporting.domain import annual_report as report
from refuge_reporting.domain.measures import Measure, Period
from refuge_reporting.domain.report_labels import value_label
from refuge_reporting.service_layer.figures import FiguresQuery, FigureTable, figure_table, scope


def _pairs(found: FigureTable) -> tuple[dict[str, report.Pair], report.Pair]:
    cells: dict[str, report.Pair] = {}
    total: report.Pair = (None, None)
    for row in found.rows:
        (value,) = row.dimensions.values() if row.dimensions else (None,)
        if value is None:
            total = (row.value, row.previous)
        else:
            cells[value] = (row.value, row.previous)
    return cells, total


async def annual_report(
    pool: asyncpg.Pool, principal: Principal, year: int, language: str, *, threshold: int
) -> report.AnnualReport:
    period = Period(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))

    async def get(
        measure: Measure, *group_by: str, within: Period = period, compare: bool = True
    ) -> FigureTable:
        query = FiguresQuery(measure, within, group_by, compare=compare, publish=True)
        return await figure_table(pool, principal, query, threshold=threshold)

    def total(found: FigureTable) -> report.Pair:
        return _pairs(found)[1]

    organisation, _office = scope(principal, None)
    found = report.AnnualReport(year, await _organisation_name(pool, organisation), threshold)
    contacts = _pairs(await get(Measure.CONTACTS, "outcome"))
    remote, all_contacts = contacts[0].get("resolved_remotely", (0, 0)), contacts[1]
    met, missed = total(await get(Measure.DEADLINES_MET)), total(await get(Measure.DEADLINES_MISSED))
    for key, measure in (
        ("persons", Measure.PERSONS),
        ("cases_opened", Measure.CASES_OPENED),
        ("cases_closed", Measure.CASES_CLOSED),
        ("interviews", Measure.INTERVIEWS),
        ("persons_detained", Measure.PERSONS_DETAINED),
        ("contacts", Measure.CONTACTS),
    ):
        found.headlines.append(report.Headline(key, *total(await get(measure))))
    found.headlines += [
        report.Headline(
            "remote_share",
            report.ratio(remote[0], all_contacts[0]),
            report.ratio(remote[1], all_contacts[1]),
            share=True,
        ),
        report.Headline(
            "missed_rate",
            report.missed_rate(missed[0], met[0]),
            report.missed_rate(missed[1], met[1]),
            share=True,
        ),
    ]
    by_office = await get(Measure.CASES_OPENED, "office")
    found.tables.append(report.table("by_office", "office", *_pairs(by_office), by_office.labels))
    for key, dimension, measure, group_by in (
        ("by_procedure", "procedure", Measure.CASES_OPENED, "case_type"),
        ("by_gender_detained", "gender", Measure.PERSONS_DETAINED, "gender"),
    ):
        cells, whole = _pairs(await get(measure, group_by))
        names = {k: value_label(language, k) for k in cells}
        found.tables.append(report.table(key, dimension, cells, whole, names))
    found.bars = report.procedure_bars(found.tables[1])
    months = [get_month_names("abbreviated", locale=language)[m] for m in range(1, 13)]
    current = _by_month(await get(Measure.CASES_OPENED, "month", compare=False))
    previous = _by_month(await get(Measure.CASES_OPENED, "month", within=period.year_before(), compare=False))
    found.months = report.monthly_line(months, current, previous)
    return found


def _by_month(found: FigureTable) -> dict[int, int | None]:
    cells, _total = _pairs(found)
    return {int(key[5:7]): value for key, (value, _p) in cells.items()}


async def _organisation_name(pool: asyncpg.Pool, organisation: UUID | None) -> str:
    if organisation is None:
        return "Refuge"
    async with tenant_transaction(pool, None) as connection:
        name = await queries.organisation_name(connection, organisation)
    return name or ""


def report_csv(found: report.AnnualReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "label", "value", "previous_year", "suppressed_below"])
    for headline in found.headlines:
        writer.writerow(
            ["headline", headline.key, _cell(headline.value), _cell(headline.previous), found.threshold]
        )
    for table in found.tables:
        for line in [*table.lines, table.total]:
            writer.writerow([table.key, line.label, _cell(line.value), _cell(line.previous), found.threshold])
    return out.getvalue()


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)
