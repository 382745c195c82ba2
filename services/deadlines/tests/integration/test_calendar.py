"""The office calendar, as JSON for caseworkers and as an iCalendar feed to subscribe to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract import cases

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def client(deadlines: Any) -> Any:
    transport = httpx.ASGITransport(app=deadlines.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://deadlines") as http:
        yield http


async def test_a_caseworker_sees_their_office_earliest_first_and_subscribes(
    deadlines: Any, client: httpx.AsyncClient, issuer: Any
) -> None:
    tenant, office, other_office = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _, case = await deadlines.new_case(tenant=tenant, office=office)
    _, elsewhere = await deadlines.new_case(tenant=tenant, office=other_office)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await deadlines.publish(
        tenant,
        cases.CaseHearingScheduled(
            case_id=case, hearing_id=uuid.uuid4(), scheduled_at=soon + timedelta(days=40)
        ),
    )
    await deadlines.publish(
        tenant,
        cases.CaseDecisionNotified(
            case_id=case, jurisdiction="FR", decision="oqtf", regime="ordinary", notified_at=datetime.now(UTC)
        ),
    )
    await deadlines.publish(
        tenant, cases.CaseHearingScheduled(case_id=elsewhere, hearing_id=uuid.uuid4(), scheduled_at=soon)
    )
    caseworker = {
        "Authorization": "Bearer "
        + issuer.token(Principal(key_id="k1", organisation_id=tenant, role=Role.CASEWORKER, office_id=office))
    }

    async def listed() -> list[dict[str, Any]] | None:
        response = await client.get("/calendar", headers=caseworker)
        assert response.status_code == 200, response.text
        return response.json() if len(response.json()) == 2 else None

    entries = await deadlines.eventually(listed)
    assert [e["purpose"] for e in entries] == ["appeal", "hearing"]
    assert all(e["case_id"] == str(case) for e in entries)
    assert entries[0]["due"] < entries[1]["due"]

    coordinator = {
        "Authorization": "Bearer "
        + issuer.token(Principal(key_id="k2", organisation_id=tenant, role=Role.COORDINATOR))
    }

    async def organisation_wide() -> set[str] | None:
        # The other office's case sits on another partition: it may be applied a little later.
        listed = {e["case_id"] for e in (await client.get("/calendar", headers=coordinator)).json()}
        return listed if len(listed) == 2 else None

    assert await deadlines.eventually(organisation_wide) == {str(case), str(elsewhere)}
    stranger = {
        "Authorization": "Bearer "
        + issuer.token(Principal(key_id="k3", organisation_id=uuid.uuid4(), role=Role.COORDINATOR))
    }
    assert (await client.get("/calendar", headers=stranger)).json() == []
    assert (await client.get("/calendar")).status_code == 401

    feed = await client.post("/calendar/feeds", headers=caseworker)
    assert feed.status_code == 201
    ics = await client.get(feed.json()["url"].replace("http://deadlines", ""))
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    events = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")
    assert len(events) == 2
    appeal, hearing = events
    assert isinstance(appeal.decoded("dtstart"), type(datetime.now(UTC).date()))  # all-day last day
    assert hearing.decoded("dtstart") == soon + timedelta(days=40)
    assert all(str(case).replace("-", "")[:8].upper() in str(e["summary"]) for e in events)
    tampered = feed.json()["url"].replace("http://deadlines", "")[:-3] + "xyz"
    assert (await client.get(tampered)).status_code == 404
