"""Every fact of the v1 catalogue over HTTP, on the real database and broker: the CloudEvent
it publishes, what it changes on the case, the timeline, and what is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from refuge_common.contract.envelope import from_record
from refuge_common.contract.sealed import Sealed
from refuge_common.crypto.sealing import open_sealed
from refuge_common.db.pool import tenant_transaction

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
CASE = {"case_type": "removal_appeal", "channel": "phone"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def open_case(intake: Intake, key: str, **extra: object) -> str:
    response = await intake.client.post("/cases", json={**CASE, **extra}, headers=bearer(key))
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def post_fact(
    intake: Intake, key: str, case_id: str, fact: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await intake.client.post(f"/cases/{case_id}/facts/{fact}", json=body, headers=bearer(key))
    assert response.status_code == 201, f"{fact}: {response.status_code} {response.text}"
    answer: dict[str, Any] = response.json()
    assert answer["event_type"] == f"org.refuge.case.{fact}.v1" and answer["data"]["case_id"] == case_id
    return answer


async def test_every_fact_publishes_its_cloudevent_and_no_plaintext(intake: Intake) -> None:
    marker = uuid.uuid4().hex
    name, notes, document = f"Haddad{marker}", f"said {marker} at the desk", f"AGDREF{marker[:10]}"
    person = await intake.register_person(intake.a.caseworker_key, family_name=name)
    key, coordinator = intake.a.caseworker_key, intake.a.coordinator_key
    case_id = await open_case(intake, key, person_id=person)
    hearing = await post_fact(intake, key, case_id, "hearing_scheduled", {"scheduled_at": at(days=30)})
    hearing_id = hearing["data"]["hearing_id"]
    other = await post_fact(intake, key, case_id, "hearing_scheduled", {"scheduled_at": at(days=40)})
    steps: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "decision_notified",
            key,
            {"decision": "oqtf", "regime": "ordinary", "notified_at": at(days=-2)},
            {"decision": "oqtf", "regime": "ordinary", "jurisdiction": "FR"},
        ),
        (
            "hearing_rescheduled",
            key,
            {"hearing_id": hearing_id, "scheduled_at": at(days=31), "timezone": "Europe/Paris"},
            {"hearing_id": hearing_id, "previous_scheduled_at": hearing["data"]["scheduled_at"]},
        ),
        ("hearing_cancelled", key, {"hearing_id": other["data"]["hearing_id"]}, {}),
        (
            "hearing_held",
            key,
            {"hearing_id": hearing_id, "held_at": at(minutes=-1)},
            {"hearing_id": hearing_id},
        ),
        (
            "appeal_filed",
            key,
            {"filed_at": at(hours=-1), "decision": "oqtf", "court": "TA de Paris"},
            {"decision": "oqtf", "court": "TA de Paris"},
        ),
        (
            "detention_started",
            key,
            {"started_at": at(hours=-3), "kind": "administrative", "facility": "CRA de Vincennes"},
            {"kind": "administrative", "facility": "CRA de Vincennes"},
        ),
        ("detention_ended", key, {"ended_at": at(hours=-1), "reason": "released"}, {"reason": "released"}),
        (
            "permit_recorded",
            key,
            {"expires_on": "2027-03-01", "issued_on": "2026-03-02", "document_number": document},
            {"expires_on": "2027-03-01", "issued_on": "2026-03-02", "jurisdiction": "FR"},
        ),
        ("arrival_recorded", key, {"arrived_on": "2025-09-14"}, {"arrived_on": "2025-09-14"}),
        (
            "contact_logged",
            key,
            {"channel": "phone", "outcome": "appointment_given", "duration_minutes": 12, "notes": notes},
            {"channel": "phone", "outcome": "appointment_given", "duration_minutes": 12},
        ),
        (
            "interview_held",
            key,
            {"held_at": at(days=-1), "authority": "ofpra", "notes": notes},
            {"authority": "ofpra"},
        ),
        (
            "consent_recorded",
            key,
            {"purpose": "sms", "given": True},
            {"purpose": "sms", "given": True, "person_id": person},
        ),
        (
            "transferred",
            coordinator,
            {"office_id": str(intake.a.offices[1])},
            {"office_id": str(intake.a.offices[1]), "previous_office_id": str(intake.a.offices[0])},
        ),
        ("closed", coordinator, {"outcome": "favourable"}, {"outcome": "favourable"}),
    ]
    answers = [hearing, other]
    for fact, caller, body, expected in steps:
        answer = await post_fact(intake, caller, case_id, fact, body)
        assert expected.items() <= answer["data"].items(), (fact, answer["data"])
        answers.append(answer)

    records = await intake.case_records(case_id, 1 + len(answers))
    envelopes = [from_record(r.headers, r.key, r.value) for r in records]
    assert [e.type for e in envelopes][1:] == [a["event_type"] for a in answers]
    assert [e.id for e in envelopes][1:] == [a["event_id"] for a in answers]
    for record, envelope in zip(records, envelopes, strict=True):
        assert record.key == case_id.encode() and envelope.subject == case_id
        assert envelope.source == "/refuge/intake" and envelope.tenant_id == intake.a.organisation_id
        raw = bytes(record.value) + b"".join(bytes(v) for _, v in record.headers or ())
        assert marker.encode() not in raw and name.encode() not in raw and document.encode() not in raw
    # The notes and the document number are there, sealed under the person's key.
    async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
        person_key = await intake.keyring.get(connection, uuid.UUID(person))
    contact = next(e for e in envelopes if e.type.endswith("contact_logged.v1")).data.model_dump()
    permit = next(e for e in envelopes if e.type.endswith("permit_recorded.v1")).data.model_dump()
    assert open_sealed(person_key, Sealed(**contact["notes"])) == {"text": notes}
    assert open_sealed(person_key, Sealed(**permit["document"])) == {"document_number": document}

    timeline = (await intake.client.get(f"/cases/{case_id}", headers=bearer(coordinator))).json()["timeline"]
    assert [f["event_id"] for f in timeline] == [envelopes[0].id] + [a["event_id"] for a in answers]


async def test_a_transfer_moves_the_office_and_closing_closes(intake: Intake) -> None:
    a = intake.a
    case_id = await open_case(intake, a.caseworker_key, caseworker_id=str(a.caseworker_staff))
    moved = await post_fact(
        intake, a.caseworker_key, case_id, "transferred", {"office_id": str(a.offices[1])}
    )
    assert moved["case"]["office_id"] == str(a.offices[1])
    # Without a new caseworker the case keeps its own (deadlines' copy does the same).
    assert (
        moved["case"]["caseworker_id"] == str(a.caseworker_staff) and moved["data"]["caseworker_id"] is None
    )
    assert (await intake.client.get(f"/cases/{case_id}", headers=bearer(a.caseworker_key))).status_code == 404
    seen = await intake.client.get(f"/cases/{case_id}", headers=bearer(a.other_office_caseworker_key))
    assert seen.status_code == 200 and seen.json()["office_id"] == str(a.offices[1])

    back = await intake.client.post(
        f"/cases/{case_id}/facts/transferred",
        json={"office_id": str(a.offices[0]), "caseworker_id": str(a.caseworker_staff)},
        headers=bearer(a.other_office_caseworker_key),
    )
    assert back.status_code == 201 and back.json()["data"]["caseworker_id"] == str(a.caseworker_staff)
    for office, field in (
        (a.offices[0], "office_id"),
        (uuid.uuid4(), "office_id"),
        (intake.b.offices[0], "office_id"),
    ):
        refused = await intake.client.post(
            f"/cases/{case_id}/facts/transferred",
            json={"office_id": str(office)},
            headers=bearer(a.coordinator_key),
        )
        assert refused.status_code == 422 and field in refused.text, refused.text
    elsewhere = await intake.client.post(
        f"/cases/{case_id}/facts/transferred",
        json={"office_id": str(a.offices[1]), "caseworker_id": str(a.caseworker_staff)},
        headers=bearer(a.coordinator_key),
    )
    assert elsewhere.status_code == 422 and "caseworker_id" in elsewhere.text

    closed = await post_fact(intake, a.caseworker_key, case_id, "closed", {"outcome": "information_given"})
    case = closed["case"]
    assert case["status"] == "closed" and case["outcome"] == "information_given"
    assert case["closed_at"] == closed["data"]["closed_at"]
    stored = (await intake.client.get(f"/cases/{case_id}", headers=bearer(a.caseworker_key))).json()
    assert stored["status"] == "closed" and stored["closed_at"] is not None


async def test_a_closed_case_refuses_facts_but_takes_a_consent_withdrawal(intake: Intake) -> None:
    key = intake.a.caseworker_key
    case_id = await open_case(intake, key)
    await post_fact(intake, key, case_id, "closed", {"outcome": "lost_contact"})
    refusals = {
        "decision_notified": {"decision": "oqtf", "regime": "ordinary", "notified_at": at(hours=-1)},
        "hearing_scheduled": {"scheduled_at": at(days=3)},
        "contact_logged": {"channel": "phone", "outcome": "other"},
        "consent_recorded": {"purpose": "sms", "given": True},
        "closed": {"outcome": "withdrawn"},
    }
    for fact, body in refusals.items():
        response = await intake.client.post(f"/cases/{case_id}/facts/{fact}", json=body, headers=bearer(key))
        assert response.status_code == 409, (fact, response.text)
        assert "closed" in response.json()["detail"] and "case_id" in response.json()["detail"]
    withdrawn = await post_fact(
        intake, key, case_id, "consent_recorded", {"purpose": "email", "given": False}
    )
    assert withdrawn["data"]["given"] is False and withdrawn["case"]["status"] == "closed"
    timeline = (await intake.client.get(f"/cases/{case_id}", headers=bearer(key))).json()["timeline"]
    assert [f["event_type"].split(".")[3] for f in timeline] == ["opened", "closed", "consent_recorded"]


async def test_a_hearing_in_the_past_is_refused_naming_scheduled_at(intake: Intake) -> None:
    key = intake.a.caseworker_key
    case_id = await open_case(intake, key)
    for when in (at(minutes=-1), at(days=-30)):
        response = await intake.client.post(
            f"/cases/{case_id}/facts/hearing_scheduled", json={"scheduled_at": when}, headers=bearer(key)
        )
        assert response.status_code == 422 and "scheduled_at" in response.json()["detail"]
    hearing = await post_fact(intake, key, case_id, "hearing_scheduled", {"scheduled_at": at(days=9)})
    moved = await intake.client.post(
        f"/cases/{case_id}/facts/hearing_rescheduled",
        json={"hearing_id": hearing["data"]["hearing_id"], "scheduled_at": at(hours=-2)},
        headers=bearer(key),
    )
    assert moved.status_code == 422 and "scheduled_at" in moved.json()["detail"]
    timeline = (await intake.client.get(f"/cases/{case_id}", headers=bearer(key))).json()["timeline"]
    assert len(timeline) == 2


async def test_hearings_and_detention_follow_their_states(intake: Intake) -> None:
    key = intake.a.caseworker_key
    case_id, other_case = await open_case(intake, key), await open_case(intake, key)
    hearing_id = (await post_fact(intake, key, case_id, "hearing_scheduled", {"scheduled_at": at(days=5)}))[
        "data"
    ]["hearing_id"]

    async def attempt(case: str, fact: str, body: dict[str, Any]) -> tuple[int, str]:
        response = await intake.client.post(f"/cases/{case}/facts/{fact}", json=body, headers=bearer(key))
        return response.status_code, response.text

    assert await attempt(other_case, "hearing_cancelled", {"hearing_id": hearing_id}) == (
        422,
        '{"detail":"hearing_id: no such hearing on this case"}',
    )
    await post_fact(intake, key, case_id, "hearing_cancelled", {"hearing_id": hearing_id})
    code, text = await attempt(case_id, "hearing_held", {"hearing_id": hearing_id})
    assert code == 409 and "cancelled" in text
    await post_fact(
        intake, key, case_id, "hearing_rescheduled", {"hearing_id": hearing_id, "scheduled_at": at(days=6)}
    )
    await post_fact(intake, key, case_id, "hearing_held", {"hearing_id": hearing_id})
    for fact in ("hearing_cancelled", "hearing_held"):
        code, text = await attempt(case_id, fact, {"hearing_id": hearing_id})
        assert code == 409 and "held" in text

    code, text = await attempt(case_id, "detention_ended", {"ended_at": at(minutes=-5)})
    assert code == 409 and "ended_at" in text
    started = await post_fact(intake, key, case_id, "detention_started", {"started_at": at(hours=-5)})
    assert started["case"]["detained_since"] is not None
    code, text = await attempt(case_id, "detention_started", {"started_at": at(hours=-4)})
    assert code == 409 and "started_at" in text
    code, text = await attempt(case_id, "detention_ended", {"ended_at": at(hours=-6)})
    assert code == 422 and "ended_at" in text
    ended = await post_fact(intake, key, case_id, "detention_ended", {"ended_at": at(hours=-1)})
    assert ended["case"]["detained_since"] is None


@pytest.mark.parametrize(
    ("fact", "body", "field"),
    [
        ("arrival_recorded", {"arrived_on": "2026-02-30"}, "arrived_on"),
        ("arrival_recorded", {"arrived_on": "2999-01-01"}, "arrived_on"),
        ("permit_recorded", {"expires_on": "2027-13-01"}, "expires_on"),
        ("permit_recorded", {"expires_on": "2027-01-01", "issued_on": "2027-02-01"}, "issued_on"),
        ("contact_logged", {"channel": "fax", "outcome": "other"}, "channel"),
        ("contact_logged", {"channel": "phone", "outcome": "sorted"}, "outcome"),
        (
            "contact_logged",
            {"channel": "phone", "outcome": "other", "duration_minutes": -1},
            "duration_minutes",
        ),
        (
            "contact_logged",
            {"channel": "phone", "outcome": "other", "staff_id": str(uuid.uuid4())},
            "staff_id",
        ),
        ("contact_logged", {"channel": "phone", "outcome": "other", "notes": "x"}, "notes"),
        ("consent_recorded", {"purpose": "voluntary_return", "given": True}, "purpose"),
        ("consent_recorded", {"purpose": "sms", "given": "perhaps"}, "given"),
        ("closed", {"outcome": "departed"}, "outcome"),
        ("closed", {"outcome": "withdrawn", "closed_at": "2020-01-01T00:00:00Z"}, "closed_at"),
        ("decision_notified", {"decision": "oqtf", "notified_at": "2026-03-06T10:30:00"}, "notified_at"),
        (
            "decision_notified",
            {"decision": "oqtf", "notified_at": "2026-03-06T25:30:00+01:00"},
            "notified_at",
        ),
        ("decision_notified", {"decision": "oqtf", "notified_at": at(days=2)}, "notified_at"),
        ("detention_started", {"started_at": at(hours=-1), "kind": "hotel"}, "kind"),
        ("interview_held", {"held_at": at(days=-1), "authroity": "ofpra"}, "authroity"),
        ("hearing_held", {"hearing_id": "not-a-uuid"}, "hearing_id"),
    ],
)
async def test_bad_values_are_422_naming_the_field(
    intake: Intake, fact: str, body: dict[str, Any], field: str
) -> None:
    # No person on this case: notes cannot be sealed for anyone, which is refused too.
    case_id = await open_case(intake, intake.a.caseworker_key)
    response = await intake.client.post(
        f"/cases/{case_id}/facts/{fact}", json=body, headers=bearer(intake.a.caseworker_key)
    )
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_an_unknown_case_is_404(intake: Intake) -> None:
    response = await intake.client.post(
        f"/cases/{uuid.uuid4()}/facts/arrival_recorded",
        json={"arrived_on": "2025-01-01"},
        headers=bearer(intake.a.caseworker_key),
    )
    assert response.status_code == 404 and "case" in response.json()["detail"]


FACT_BODIES: dict[str, dict[str, Any]] = {
    "decision_notified": {
        "decision": "oqtf",
        "regime": "ordinary",
        "notified_at": "2026-01-05T10:00:00+01:00",
    },
    "hearing_scheduled": {"scheduled_at": "2099-01-05T10:00:00+01:00"},
    "hearing_rescheduled": {"hearing_id": "HEARING", "scheduled_at": "2099-02-05T10:00:00+01:00"},
    "hearing_cancelled": {"hearing_id": "HEARING"},
    "hearing_held": {"hearing_id": "HEARING"},
    "appeal_filed": {"filed_at": "2026-01-06T10:00:00+01:00"},
    "detention_started": {"started_at": "2026-01-06T10:00:00+01:00"},
    "detention_ended": {"ended_at": "2026-01-07T10:00:00+01:00"},
    "permit_recorded": {"expires_on": "2027-01-01"},
    "arrival_recorded": {"arrived_on": "2025-01-01"},
    "contact_logged": {"channel": "phone", "outcome": "other"},
    "interview_held": {"held_at": "2026-01-06T10:00:00+01:00"},
    "consent_recorded": {"purpose": "email", "given": False},
    "transferred": {"office_id": "OFFICE"},
    "closed": {"outcome": "withdrawn"},
}


async def test_another_tenants_or_offices_case_is_404_for_every_fact(intake: Intake) -> None:
    a, b = intake.a, intake.b
    case_id = await open_case(intake, a.caseworker_key)
    hearing = await post_fact(
        intake, a.caseworker_key, case_id, "hearing_scheduled", {"scheduled_at": at(days=3)}
    )
    routes = [(f"/cases/{case_id}/facts/{fact}", body) for fact, body in FACT_BODIES.items()]
    routes += [
        (f"/cases/{case_id}/litigation", {"court": "Tribunal administratif de Paris"}),
        (
            f"/cases/{case_id}/litigation/developments",
            {"occurred_on": "2026-01-05", "kind": "order", "summary": "Référé rejeté"},
        ),
    ]
    intruders = (
        b.caseworker_key,
        b.coordinator_key,
        b.org_admin_key,
        b.integrator_key,
        a.other_office_caseworker_key,
        a.operator_key,
    )
    for path, template in routes:
        body = {
            k: {"HEARING": hearing["data"]["hearing_id"], "OFFICE": str(b.offices[1])}.get(v, v)
            if isinstance(v, str)
            else v
            for k, v in template.items()
        }
        method = intake.client.put if path.endswith("/litigation") else intake.client.post
        for key in intruders:
            response = await method(
                path, json=body, headers={**bearer(key), "Idempotency-Key": uuid.uuid4().hex}
            )
            assert response.status_code == 404, (path, response.status_code, response.text)
            assert response.json() == {"detail": f"case {case_id} not found"}
    timeline = (await intake.client.get(f"/cases/{case_id}", headers=bearer(a.caseworker_key))).json()[
        "timeline"
    ]
    assert len(timeline) == 2
