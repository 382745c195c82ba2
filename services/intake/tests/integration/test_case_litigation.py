"""A US class action in a federal district court, end to end: court, docket, filing date,
counsel and developments kept in intake; hearings and filings published with their court
only; nothing that could lead to a person on a topic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from refuge_common.contract.envelope import from_record
from refuge_common.contract.vocabulary import OfficeKind
from refuge_intake.service_layer import onboarding

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
DISTRICT = "U.S. District Court for the District of Columbia"
CIRCUIT = "U.S. Court of Appeals for the D.C. Circuit"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_class_action_in_a_federal_district_court(intake: Intake) -> None:
    a = intake.a
    desk = await onboarding.open_office(
        intake.pool,
        a.organisation_id,
        name="Litigation desk DC",
        kind=OfficeKind.LITIGATION_DESK,
        timezone="America/New_York",
        jurisdiction="US",
    )
    key, client = a.coordinator_key, intake.client
    opened = await client.post(
        "/cases",
        json={"case_type": "litigation", "channel": "email", "office_id": str(desk), "jurisdiction": "US-DC"},
        headers=bearer(key),
    )
    assert opened.status_code == 201 and opened.json()["jurisdiction"] == "US-DC"
    case_id = opened.json()["case_id"]
    docket, counsel = f"1:25-cv-{uuid.uuid4().int % 100000:05d}", f"Counsel {uuid.uuid4().hex[:8]}"
    litigation = {
        "court": DISTRICT,
        "docket_number": docket,
        "filed_on": "2025-03-15",
        "class_action": True,
        "counsel": [
            {"name": counsel, "role": "lead", "organisation": "Immigrants' Rights Project"},
            {"name": "Second Counsel", "role": "co_counsel"},
        ],
    }
    put = await client.put(f"/cases/{case_id}/litigation", json=litigation, headers=bearer(key))
    assert put.status_code == 200, put.text
    assert put.json()["docket_number"] == docket and put.json()["counsel"][1]["organisation"] is None

    developments = [
        ("2025-03-15", "complaint_filed", "Class complaint and motion for a TRO filed", 1),
        ("2025-04-02", "class_certification", "Class provisionally certified", 41),
        ("2025-03-16", "injunction", "TRO granted, removals under the challenged policy enjoined", 12),
    ]
    for occurred_on, kind, summary, entry in developments:
        added = await client.post(
            f"/cases/{case_id}/litigation/developments",
            json={"occurred_on": occurred_on, "kind": kind, "summary": summary, "docket_entry": entry},
            headers=bearer(key),
        )
        assert added.status_code == 201, added.text
        assert added.json()["kind"] == kind and added.json()["development_id"] > 0
    hearing_at = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    hearing = await client.post(
        f"/cases/{case_id}/facts/hearing_scheduled",
        json={"scheduled_at": hearing_at.isoformat(), "timezone": "America/New_York", "court": DISTRICT},
        headers=bearer(key),
    )
    assert hearing.status_code == 201
    appeal = await client.post(
        f"/cases/{case_id}/facts/appeal_filed",
        json={"filed_at": datetime.now(UTC).isoformat(), "court": CIRCUIT},
        headers=bearer(key),
    )
    assert appeal.status_code == 201

    case = (await client.get(f"/cases/{case_id}", headers=bearer(key))).json()
    assert case["case_type"] == "litigation" and case["office_id"] == str(desk)
    recorded = case["litigation"]
    assert {k: recorded[k] for k in litigation} == {
        **litigation,
        "counsel": [{**c, "organisation": c.get("organisation")} for c in litigation["counsel"]],
    }
    assert [d["occurred_on"] for d in recorded["developments"]] == ["2025-03-15", "2025-03-16", "2025-04-02"]
    assert [d["docket_entry"] for d in recorded["developments"]] == [1, 12, 41]
    assert [f["event_type"].split(".")[3] for f in case["timeline"]] == [
        "opened",
        "hearing_scheduled",
        "appeal_filed",
    ]

    records = await intake.case_records(case_id, 3)
    envelopes = [from_record(r.headers, r.key, r.value) for r in records]
    assert envelopes[1].data.model_dump()["court"] == DISTRICT
    assert envelopes[2].data.model_dump()["court"] == CIRCUIT
    for record in records:
        raw = bytes(record.value) + b"".join(bytes(v) for _, v in record.headers or ())
        assert docket.encode() not in raw and counsel.encode() not in raw and b"Immigrants" not in raw


async def test_litigation_writes_are_checked(intake: Intake) -> None:
    key, client = intake.a.caseworker_key, intake.client
    opened = await client.post(
        "/cases", json={"case_type": "litigation", "channel": "phone"}, headers=bearer(key)
    )
    case_id = opened.json()["case_id"]
    development = {"occurred_on": "2025-05-01", "kind": "order", "summary": "Scheduling order"}
    early = await client.post(
        f"/cases/{case_id}/litigation/developments", json=development, headers=bearer(key)
    )
    assert early.status_code == 422 and "litigation" in early.json()["detail"]
    for body, field in (
        ({"court": ""}, "court"),
        ({"court": "TA de Paris", "filed_on": "2999-01-01"}, "filed_on"),
        ({"court": "TA de Paris", "counsel": [{"name": "X", "role": "judge"}]}, "role"),
        ({"court": "TA de Paris", "caption": "Doe v. Noem"}, "caption"),
    ):
        response = await client.put(f"/cases/{case_id}/litigation", json=body, headers=bearer(key))
        assert response.status_code == 422 and field in response.text, response.text
    assert (
        await client.put(f"/cases/{case_id}/litigation", json={"court": "TA de Paris"}, headers=bearer(key))
    ).status_code == 200
    future = {**development, "occurred_on": "2999-01-01"}
    response = await client.post(
        f"/cases/{case_id}/litigation/developments", json=future, headers=bearer(key)
    )
    assert response.status_code == 422 and "occurred_on" in response.text
    await client.post(f"/cases/{case_id}/facts/closed", json={"outcome": "unfavourable"}, headers=bearer(key))
    closed = await client.put(
        f"/cases/{case_id}/litigation", json={"court": "CAA de Paris"}, headers=bearer(key)
    )
    assert closed.status_code == 409
