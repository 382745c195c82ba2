"""Consents: an assisted voluntary return departs only with the person's informed consent,
and a withdrawn SMS or e-mail consent is published for notifications to stop messages."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from refuge_common.contract.cases import CaseConsentRecorded
from refuge_common.contract.envelope import from_record
from refuge_common.contract.vocabulary import ConsentPurpose

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _open(intake: Intake, case_type: str, **extra: object) -> str:
    response = await intake.client.post(
        "/cases",
        json={"case_type": case_type, "channel": "in_person", **extra},
        headers=bearer(intake.a.caseworker_key),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def _post(intake: Intake, case_id: str, fact: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await intake.client.post(
        f"/cases/{case_id}/facts/{fact}", json=body, headers=bearer(intake.a.caseworker_key)
    )
    return response.status_code, response.json()


DEPART = {"outcome": "voluntary_return"}


async def test_an_assisted_return_departs_only_with_a_consent_not_withdrawn(intake: Intake) -> None:
    person = await intake.register_person(intake.a.caseworker_key)
    case_id = await _open(intake, "assisted_voluntary_return", person_id=person)

    status, body = await _post(intake, case_id, "closed", DEPART)
    assert status == 409 and body["detail"].startswith("consent:") and "assisted_return" in body["detail"]

    consent = {"purpose": "assisted_return", "given": True}
    assert (await _post(intake, case_id, "consent_recorded", consent))[0] == 201
    assert (await _post(intake, case_id, "consent_recorded", {**consent, "given": False}))[0] == 201
    status, body = await _post(intake, case_id, "closed", DEPART)
    assert status == 409 and "consent" in body["detail"] and "withdrew" in body["detail"]
    # Another purpose's consent does not stand in for it.
    assert (await _post(intake, case_id, "consent_recorded", {"purpose": "data_processing", "given": True}))[
        0
    ] == 201
    assert (await _post(intake, case_id, "closed", DEPART))[0] == 409

    assert (await _post(intake, case_id, "consent_recorded", consent))[0] == 201
    status, body = await _post(intake, case_id, "closed", DEPART)
    assert status == 201, body
    assert body["case"]["status"] == "closed" and body["case"]["outcome"] == "voluntary_return"


async def test_the_consent_rule_binds_only_the_departure_of_an_assisted_return(intake: Intake) -> None:
    avr = await _open(intake, "assisted_voluntary_return")
    assert (await _post(intake, avr, "closed", {"outcome": "withdrawn"}))[0] == 201
    asylum = await _open(intake, "asylum")
    assert (await _post(intake, asylum, "closed", DEPART))[0] == 201


async def test_a_consent_cannot_be_backdated_behind_the_one_on_record(intake: Intake) -> None:
    case_id = await _open(intake, "asylum")
    given = {"purpose": "sms", "given": True, "recorded_at": "2026-01-10T10:00:00+01:00"}
    assert (await _post(intake, case_id, "consent_recorded", given))[0] == 201
    earlier = {**given, "given": False, "recorded_at": "2026-01-09T10:00:00+01:00"}
    status, body = await _post(intake, case_id, "consent_recorded", earlier)
    assert status == 422 and "recorded_at" in body["detail"]


async def test_withdrawn_sms_and_email_consents_are_published_even_on_a_closed_case(intake: Intake) -> None:
    person = await intake.register_person(intake.a.caseworker_key)
    case_id = await _open(intake, "residence_permit_renewal", person_id=person)
    for purpose in ("sms", "email"):
        assert (await _post(intake, case_id, "consent_recorded", {"purpose": purpose, "given": True}))[
            0
        ] == 201
    assert (await _post(intake, case_id, "consent_recorded", {"purpose": "sms", "given": False}))[0] == 201
    assert (await _post(intake, case_id, "closed", {"outcome": "favourable"}))[0] == 201
    assert (await _post(intake, case_id, "consent_recorded", {"purpose": "email", "given": False}))[0] == 201

    records = await intake.case_records(case_id, 6)
    consents = [
        envelope.data
        for envelope in (from_record(r.headers, r.key, r.value) for r in records)
        if isinstance(envelope.data, CaseConsentRecorded)
    ]
    assert [(c.purpose, c.given) for c in consents] == [
        (ConsentPurpose.SMS, True),
        (ConsentPurpose.EMAIL, True),
        (ConsentPurpose.SMS, False),
        (ConsentPurpose.EMAIL, False),
    ]
    assert all(str(c.person_id) == person for c in consents)
    # On the wire, the purposes are the contract's values that notifications reads.
    raw = [json.loads(r.value) for r in records if b"consent_recorded" in dict(r.headers)["ce_type"]]
    assert [(v["purpose"], v["given"]) for v in raw] == [
        ("sms", True),
        ("email", True),
        ("sms", False),
        ("email", False),
    ]
