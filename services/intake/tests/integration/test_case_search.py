"""GET /cases: filters, keyset pages with neither duplicates nor gaps, and who sees what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest

from refuge_common.auth.principal import Role
from refuge_common.contract.vocabulary import OfficeKind
from refuge_common.db.pool import tenant_transaction
from refuge_intake.service_layer import onboarding

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# (case type, opened at (UTC), closed): 23:30 UTC on 9 March is 10 March in Paris.
OPENINGS = [
    ("asylum", datetime(2026, 3, 6, 9, 0, tzinfo=UTC), False),
    ("asylum", datetime(2026, 3, 7, 9, 0, tzinfo=UTC), True),
    ("removal_appeal", datetime(2026, 3, 7, 9, 0, tzinfo=UTC), False),  # same instant: case_id breaks the tie
    ("removal_appeal", datetime(2026, 3, 8, 9, 0, tzinfo=UTC), False),
    ("litigation", datetime(2026, 3, 9, 23, 30, tzinfo=UTC), False),
    ("asylum", datetime(2026, 3, 11, 9, 0, tzinfo=UTC), False),
    ("other", datetime(2026, 3, 12, 9, 0, tzinfo=UTC), True),
]


async def _office_with_cases(intake: Intake) -> tuple[UUID, str, dict[str, dict[str, Any]]]:
    """A fresh office of organisation A, its caseworker's key, and its cases by id."""

    pool, org = intake.pool, intake.a.organisation_id
    office = await onboarding.open_office(
        pool,
        org,
        name=f"Search {uuid.uuid4().hex[:6]}",
        kind=OfficeKind.SHELTER,
        timezone="Europe/Paris",
        jurisdiction="FR",
    )
    key = await onboarding.create_api_key(pool, org, role=Role.CASEWORKER, office_id=office)
    cases: dict[str, dict[str, Any]] = {}
    for n, (case_type, opened_at, closed) in enumerate(OPENINGS):
        body = {"case_type": case_type, "channel": "phone"}
        if n % 2 == 0:
            body["caseworker_id"] = str(intake.a.caseworker_staff)
        case_id = (await intake.client.post("/cases", json=body, headers=bearer(key))).json()["case_id"]
        if closed:
            closing = await intake.client.post(
                f"/cases/{case_id}/facts/closed", json={"outcome": "withdrawn"}, headers=bearer(key)
            )
            assert closing.status_code == 201
        async with tenant_transaction(pool, org) as connection:
            await connection.execute(
                "UPDATE cases SET opened_at = $2 WHERE case_id = $1", UUID(case_id), opened_at
            )
        cases[case_id] = {"case_type": case_type, "opened_at": opened_at, "closed": closed, "n": n}
    return office, key, cases


async def _all_pages(intake: Intake, key: str, query: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    url: str | None = f"/cases?{query}&limit={limit}"
    while url is not None:
        response = await intake.client.get(url, headers=bearer(key))
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["case_id"] for item in body["items"]])
        url = body["next"]
        assert (url is None) == (body["next_cursor"] is None)
        assert len(pages) < 20
    return pages


async def test_pages_are_newest_first_without_duplicates_or_gaps(intake: Intake) -> None:
    office, key, cases = await _office_with_cases(intake)
    expected = sorted(cases, key=lambda c: (cases[c]["opened_at"], UUID(c)), reverse=True)
    for limit in (1, 2, 3, 7, 50):
        pages = await _all_pages(intake, intake.a.coordinator_key, f"office_id={office}", limit)
        assert [case for page in pages for case in page] == expected
        assert all(len(page) == limit for page in pages[:-1]) and 0 < len(pages[-1]) <= limit
    # A case opened between two pages appears on no later page and moves nothing.
    first = (await intake.client.get(f"/cases?office_id={office}&limit=3", headers=bearer(key))).json()
    await intake.client.post("/cases", json={"case_type": "asylum", "channel": "phone"}, headers=bearer(key))
    rest = (await intake.client.get(first["next"], headers=bearer(key))).json()
    assert [i["case_id"] for i in first["items"] + rest["items"]] == expected[:6]


@pytest.mark.parametrize(
    ("query", "selected"),
    [
        ("case_type=asylum", lambda c: c["case_type"] == "asylum"),
        ("status=closed", lambda c: c["closed"]),
        (
            "status=open&case_type=removal_appeal",
            lambda c: not c["closed"] and c["case_type"] == "removal_appeal",
        ),
        ("opened_from=2026-03-07&opened_to=2026-03-08", lambda c: 1 <= c["n"] <= 3),
        # Dates are the office's: 23:30 UTC on 9 March was 10 March in Paris.
        ("opened_from=2026-03-10&opened_to=2026-03-10", lambda c: c["n"] == 4),
        ("opened_to=2026-03-09", lambda c: c["n"] <= 3),
        ("opened_from=2026-03-12", lambda c: c["n"] == 6),
        ("caseworker_id=CASEWORKER", lambda c: c["n"] % 2 == 0),
    ],
)
async def test_filters(intake: Intake, query: str, selected: Any) -> None:
    office, key, cases = await _office_with_cases(intake)
    query = query.replace("CASEWORKER", str(intake.a.caseworker_staff))
    for caller in (key, intake.a.coordinator_key):
        pages = await _all_pages(intake, caller, f"office_id={office}&{query}", 2)
        assert sorted(case for page in pages for case in page) == sorted(
            c for c in cases if selected(cases[c])
        )


async def test_a_caseworker_lists_their_office_only(intake: Intake) -> None:
    office, key, cases = await _office_with_cases(intake)
    mine = await _all_pages(intake, key, "", 50)
    assert sorted(case for page in mine for case in page) == sorted(cases)
    elsewhere = await intake.client.get(f"/cases?office_id={intake.a.offices[0]}", headers=bearer(key))
    assert elsewhere.status_code == 200 and elsewhere.json()["items"] == []
    opened = {"case_type": "asylum", "channel": "phone"}
    await intake.client.post("/cases", json=opened, headers=bearer(intake.a.caseworker_key))
    other = (await intake.client.get("/cases?limit=200", headers=bearer(intake.a.caseworker_key))).json()
    assert other["items"] and {i["office_id"] for i in other["items"]} == {str(intake.a.offices[0])}
    everything = await _all_pages(intake, intake.a.coordinator_key, "", 200)
    assert set(cases) <= {case for page in everything for case in page}
    assert (
        await intake.client.get(f"/cases?office_id={office}", headers=bearer(intake.b.coordinator_key))
    ).json()["items"] == []
    assert (await intake.client.get("/cases", headers=bearer(intake.a.operator_key))).status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("case_type=deportation", "case_type"),
        ("status=pending", "status"),
        ("office_id=nowhere", "office_id"),
        ("opened_from=2026-02-30", "opened_from"),
        ("opened_from=2026-03-02&opened_to=2026-03-01", "opened_to"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=bm90IGEgY3Vyc29y", "cursor"),
    ],
)
async def test_bad_filters_are_422_naming_the_field(intake: Intake, query: str, field: str) -> None:
    response = await intake.client.get(f"/cases?{query}", headers=bearer(intake.a.coordinator_key))
    assert response.status_code == 422 and field in response.text, response.text
