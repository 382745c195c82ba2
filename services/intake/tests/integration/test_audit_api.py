"""GET /audit: an organisation admin reads who accessed whose data; nobody else, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
PERSON = {"given_name": "Nasrin", "family_name": "Karimi", "phone": "06 98 76 54 32", "birth_year": 1985}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _audit(intake: Intake, key: str, **params: Any) -> Any:
    response = await intake.client.get("/audit", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


async def _person_with_history(intake: Intake) -> str:
    """A person registered by A's caseworker, read by the coordinator, updated by the caseworker."""

    person_id = await intake.register_person(intake.a.caseworker_key, **PERSON)
    read = await intake.client.get(f"/persons/{person_id}", headers=bearer(intake.a.coordinator_key))
    assert read.status_code == 200
    updated = await intake.client.patch(
        f"/persons/{person_id}", json={"gender": "female"}, headers=bearer(intake.a.caseworker_key)
    )
    assert updated.status_code == 200
    return person_id


async def test_an_org_admin_reads_the_history_of_a_person_without_their_data(intake: Intake) -> None:
    person_id = await _person_with_history(intake)
    page = await _audit(intake, intake.a.org_admin_key, person_id=person_id)
    assert page["next_cursor"] is None
    assert [e["action"] for e in page["items"]] == ["update", "read", "create"]  # newest first
    caseworker_key_id = intake.a.caseworker_key.split("_")[1]
    assert page["items"][0] | {"key_id": caseworker_key_id, "role": "caseworker"} == page["items"][0]
    assert page["items"][0]["staff_id"] == str(intake.a.caseworker_staff)
    assert page["items"][1]["role"] == "coordinator" and page["items"][1]["staff_id"] is None
    assert {tuple(sorted(e)) for e in page["items"]} == {
        ("action", "at", "audit_id", "key_id", "person_id", "role", "staff_id")
    }
    text = str(page)
    assert not any(value in text for value in ("Nasrin", "Karimi", "1985", "98 76", "+3369876"))


async def test_filters_and_pages(intake: Intake) -> None:
    people = [await _person_with_history(intake) for _ in range(3)]
    key = intake.a.org_admin_key

    by_staff = await _audit(intake, key, staff_id=str(intake.a.caseworker_staff), limit=500)
    assert by_staff["items"] and {e["staff_id"] for e in by_staff["items"]} == {
        str(intake.a.caseworker_staff)
    }
    reads = await _audit(intake, key, action="read", limit=500)
    assert reads["items"] and {e["action"] for e in reads["items"]} == {"read"}
    assert set(people) <= {e["person_id"] for e in reads["items"]}

    newest = await _audit(intake, key, person_id=people[-1])
    update_at = datetime.fromisoformat(newest["items"][0]["at"])
    window = await _audit(
        intake,
        key,
        person_id=people[-1],
        **{"from": update_at.isoformat(), "to": (update_at + timedelta(microseconds=1)).isoformat()},
    )
    assert [e["action"] for e in window["items"]] == ["update"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await _audit(intake, key, **{"from": future}))["items"] == []

    everything = (await _audit(intake, key, limit=500))["items"]
    pages, cursor = [], None
    while True:
        page = await _audit(intake, key, limit=4, **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert all(len(p) == 4 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 4
    walked = [e["audit_id"] for p in pages for e in p]
    assert walked == [e["audit_id"] for e in everything] == sorted(walked, reverse=True)


async def test_only_the_organisations_rows_are_shown(intake: Intake) -> None:
    person_id = await _person_with_history(intake)
    other = await _audit(intake, intake.b.org_admin_key, person_id=person_id)
    assert other == {"items": [], "next_cursor": None}
    mine = await _audit(intake, intake.b.org_admin_key, limit=500)
    a_keys = {k.split("_")[1] for k in (intake.a.caseworker_key, intake.a.coordinator_key)}
    assert not {e["key_id"] for e in mine["items"]} & a_keys
    assert person_id not in str(mine)


@pytest.mark.parametrize("role", ["caseworker_key", "coordinator_key", "operator_key", "integrator_key"])
async def test_only_an_org_admin_may_read_it(intake: Intake, role: str) -> None:
    response = await intake.client.get("/audit", headers=bearer(getattr(intake.a, role)))
    assert response.status_code == 403 and "role" in response.text
    assert (await intake.client.get("/audit")).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"from": "2026-01-01T00:00:00"}, "from"),  # no offset: which midnight?
        ({"cursor": "0"}, "cursor"),
        ({"cursor": "99999999999999999999"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"action": "delete"}, "action"),
    ],
)
async def test_bad_filters_are_422_naming_them(intake: Intake, params: dict[str, str], field: str) -> None:
    response = await intake.client.get("/audit", params=params, headers=bearer(intake.a.org_admin_key))
    assert response.status_code == 422 and field in response.text
