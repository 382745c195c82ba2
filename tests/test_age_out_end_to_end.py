"""An unaccompanied minor registered at intake gets an age-out deadline from deadlines,
through the running processes, without the birth date ever travelling in clear."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from e2e_stack import Stack, api
from e2e_support import read_topic, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_a_minor_registered_at_intake_gets_an_age_out_deadline(stack: Stack) -> None:
    tenant = stack.onboard("Age-out test", f"cw-{uuid.uuid4().hex[:8]}@ngo.test")
    birth = date(date.today().year - 17, 3, 20)
    with api(stack, tenant) as client:
        registered = client.post(
            "/persons",
            json={
                "given_name": "Yonas",
                "birth_date": birth.isoformat(),
                "gender": "male",
                "nationalities": ["ER"],
                "unaccompanied_minor": True,
            },
        )
        assert registered.status_code == 201, registered.text
        person_id = registered.json()["person_id"]
        opened = client.post(
            "/cases",
            json={"case_type": "residence_permit_first", "channel": "in_person", "person_id": person_id},
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]

    def age_out() -> dict[str, Any] | None:
        for record in read_topic(stack.kafka, "refuge.deadlines.v1", timeout=2):
            data = json.loads(record.value)
            if data.get("case_id") == case_id and data.get("purpose") == "age_out":
                return dict(data)
        return None

    deadline = wait_until(age_out, timeout=60, what="the age-out deadline")
    assert deadline["due"].startswith(f"{birth.year + 18}-05-01T23:59:59")
    assert deadline["rule"] == "fr.ceseda.r431-5.age_out"
    persons = [r.value for r in read_topic(stack.kafka, "refuge.persons.v1", timeout=2)]
    assert persons and not any(birth.isoformat().encode() in value or b"Yonas" in value for value in persons)
