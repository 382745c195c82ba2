"""Every figure of the scripted year equals the count worked out from what was published."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

import asyncpg
import pytest
from reporting_year import Org, Reporting, Year

from refuge_common.auth.principal import Role
from refuge_common.db.migrations import app_dsn
from refuge_common.db.pool import set_tenant
from refuge_reporting.schema import SCHEMA

pytestmark = pytest.mark.integration

Y2026 = {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}


def cells(body: dict[str, Any]) -> dict[tuple[str | None, ...], int | None]:
    return {tuple(row["dimensions"].values()): row["value"] for row in body["rows"]}


def total(body: dict[str, Any]) -> int | None:
    (last,) = [row for row in body["rows"] if all(v is None for v in row["dimensions"].values())]
    return last["value"]


def persons_by_office(org: Org, year: int) -> dict[str, set[Any]]:
    found: dict[str, set[Any]] = defaultdict(set)
    for case in org.cases:
        for at, office in case.activity:
            if at.year == year:
                found[str(office)].add(case.person_key)
    return found


async def test_distinct_persons_across_cases_and_offices(reporting: Reporting, year: Year) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    body = await reporting.get("/figures/persons", coordinator, group_by="office", **Y2026)
    expected = persons_by_office(year.a, 2026)
    everyone = set().union(*expected.values())
    assert {k[0]: v for k, v in cells(body).items() if k[0]} == {o: len(p) for o, p in expected.items()}
    assert total(body) == len(everyone)
    # Someone accompanied by two offices is one person in the total, not two.
    assert total(body) < sum(len(p) for p in expected.values())
    assert body["office_names"][str(year.a.offices[0])] == "Office 0"


async def test_contacts_by_outcome_and_the_share_resolved_remotely(reporting: Reporting, year: Year) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    body = await reporting.get("/figures/contacts", coordinator, group_by="outcome", **Y2026)
    in_year = [c for c in year.a.contacts if c[0].year == 2026]
    by_outcome: dict[str, int] = defaultdict(int)
    for _at, _office, _channel, outcome in in_year:
        by_outcome[outcome] += 1
    assert {k[0]: v for k, v in cells(body).items() if k[0]} == by_outcome
    share = cells(body)[("resolved_remotely",)] / total(body)  # type: ignore[operator]
    assert share == pytest.approx(by_outcome["resolved_remotely"] / len(in_year))


async def test_persons_in_detention_by_gender_with_not_stated(reporting: Reporting, year: Year) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    body = await reporting.get("/figures/persons_detained", coordinator, group_by="gender", **Y2026)
    expected: dict[str, set[Any]] = defaultdict(set)
    for case in year.a.cases:
        if any(at.year == 2026 for at in case.detained_at):
            gender = year.a.genders[case.person] if case.person else "not_stated"
            expected[gender].add(case.person_key)
    assert {k[0]: v for k, v in cells(body).items() if k[0]} == {g: len(p) for g, p in expected.items()}
    assert "not_stated" in expected


async def test_year_over_year_by_office(reporting: Reporting, year: Year) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    body = await reporting.get(
        "/figures/cases_opened", coordinator, group_by="office", compare="true", **Y2026
    )
    for row in body["rows"]:
        office = row["dimensions"]["office"]
        now = [c for c in year.a.cases if c.opened_at.year == 2026 and office in (None, str(c.office))]
        before = [c for c in year.a.cases if c.opened_at.year == 2025 and office in (None, str(c.office))]
        assert (row["value"], row["previous"]) == (len(now), len(before))
        assert row["change"] == pytest.approx((len(now) - len(before)) / len(before))


async def test_deadlines_met_and_missed_and_notifications_by_status(reporting: Reporting, year: Year) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    for fate in ("met", "missed"):
        body = await reporting.get(f"/figures/deadlines_{fate}", coordinator, **Y2026)
        assert total(body) == sum(1 for d in year.a.deadlines if d[2] == fate and d[3].year == 2026)
    body = await reporting.get("/figures/notifications", coordinator, group_by="status", **Y2026)
    by_status: dict[str, int] = defaultdict(int)
    for _n, status, at in year.a.notifications:
        if at.year == 2026:
            by_status[status] += 1
    assert {k[0]: v for k, v in cells(body).items() if k[0]} == by_status


async def test_a_caseworker_sees_their_office_only(reporting: Reporting, year: Year) -> None:
    office = year.a.offices[1]
    caseworker = reporting.token(year.a, Role.CASEWORKER, office)
    body = await reporting.get("/figures/cases_opened", caseworker, group_by="office", **Y2026)
    assert set(cells(body)) == {(str(office),), (None,)}
    assert total(body) == sum(1 for c in year.a.cases if c.office == office and c.opened_at.year == 2026)
    other = await reporting.client.get(
        "/figures/cases_opened", headers=caseworker, params={"office_id": str(year.a.offices[0])}
    )
    assert other.status_code == 404


async def test_an_operator_sees_platform_totals_of_every_organisation(
    reporting: Reporting, year: Year, reporting_database: str
) -> None:
    connection = await asyncpg.connect(reporting_database)
    try:
        tenants = [
            r["tenant_id"] for r in await connection.fetch("SELECT tenant_id FROM reporting.organisations")
        ]
    finally:
        await connection.close()
    assert {year.a.tenant, year.b.tenant} <= set(tenants)
    expected = 0
    for tenant in tenants:
        coordinator = reporting.token(tenant, Role.COORDINATOR)
        expected += total(await reporting.get("/figures/cases_opened", coordinator)) or 0
    operator = reporting.token(year.a, Role.OPERATOR)
    body = await reporting.get("/figures/cases_opened", operator)
    assert body["organisation_id"] is None and body["suppressed_below"] == 5
    assert total(body) == expected


async def test_a_published_table_hides_small_cells_and_their_complements(
    reporting: Reporting, year: Year
) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    params = {"group_by": ["office", "gender"], "publish": "true", **Y2026}
    body = await reporting.get("/figures/persons_detained", coordinator, **params)
    open_body = await reporting.get(
        "/figures/persons_detained", coordinator, group_by=["office", "gender"], **Y2026
    )
    real = cells(open_body)
    shown = cells(body)
    assert any(0 < value < 5 for value in real.values() if value is not None), "the script has small cells"
    for key, value in shown.items():
        if value is None:
            continue
        assert value == real[key] and not 0 < value < 5
    for key, value in real.items():
        if 0 < (value or 0) < 5:
            assert shown[key] is None


async def test_figures_as_csv(reporting: Reporting, year: Year) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    body = await reporting.get("/figures/cases_opened", coordinator, group_by="case_type", **Y2026)
    text = await reporting.get(
        "/figures/cases_opened", coordinator, group_by="case_type", format="csv", **Y2026
    )
    lines = list(csv.DictReader(io.StringIO(text)))
    assert {line["case_type"]: int(line["value"]) for line in lines} == {
        k[0] or "(all)": v for k, v in cells(body).items()
    }


async def test_bad_queries_name_the_field(reporting: Reporting, year: Year) -> None:
    coordinator = reporting.token(year.a, Role.COORDINATOR)
    response = await reporting.client.get(
        "/figures/persons", headers=coordinator, params={"group_by": "shoe_size"}
    )
    assert response.status_code == 422 and "group_by" in response.text
    response = await reporting.client.get(
        "/figures/persons", headers=coordinator, params={"start": "2026-01-01T00:00:00"}
    )
    assert response.status_code == 422 and "start" in response.text
    response = await reporting.client.get("/figures/persons")
    assert response.status_code == 401


async def test_another_organisations_office_or_facts_are_out_of_reach(
    reporting: Reporting, year: Year, reporting_database: str
) -> None:
    coordinator_b = reporting.token(year.b, Role.COORDINATOR)
    response = await reporting.client.get(
        "/figures/cases_opened", headers=coordinator_b, params={"office_id": str(year.a.offices[0])}
    )
    assert response.status_code == 404 and "office_id" in response.text
    own = await reporting.get("/figures/cases_opened", coordinator_b, office_id=str(year.b.offices[0]))
    assert total(own) == len(year.b.cases)

    app = await asyncpg.connect(app_dsn(reporting_database, SCHEMA))  # the service's own role
    try:
        async with app.transaction():
            await set_tenant(app, year.b.tenant)
            tenants = {
                r["tenant_id"] for r in await app.fetch("SELECT DISTINCT tenant_id FROM reporting.cases")
            }
            partition = await app.fetchval("SELECT count(*) FROM reporting.cases_g1")
        assert tenants == {year.b.tenant}
        assert partition == 0  # a partition read directly shows nothing: forced RLS, no policy
    finally:
        await app.close()
