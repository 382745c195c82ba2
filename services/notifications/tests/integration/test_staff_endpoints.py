"""What caseworkers and operators see over HTTP, with real tokens from intake's issuer: a case's
and a person's notifications and their states, within their office or organisation only; and
previews of every message kind, rendered with sample values and sent to no one."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest

from refuge_common.auth.principal import Principal, Role
from refuge_notifications.domain.sms_length import measure

if TYPE_CHECKING:
    from conftest import Notifications

pytestmark = pytest.mark.integration


def _auth(n: Notifications, organisation: UUID, role: Role, office: UUID | None = None) -> dict[str, str]:
    principal = Principal(
        key_id=f"k-{uuid.uuid4().hex[:8]}", organisation_id=organisation, role=role, office_id=office
    )
    return {"Authorization": f"Bearer {n.issuer.token(principal)}"}


async def test_a_case_and_a_person_list_their_notifications_in_scope_only(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=False)
    trigger = await n.remind(person)
    rows = await n.settled(trigger, 2, {"sent", "suppressed"})

    response = await n.http.get(
        f"/cases/{person.case_id}/notifications", headers=_auth(n, tenant, Role.CASEWORKER, office)
    )
    assert response.status_code == 200, response.text
    listed: dict[str, Any] = {item["channel"]: item for item in response.json()["notifications"]}
    assert listed["sms"]["state"] == "sent" and listed["sms"]["kind"] == "beneficiary_reminder"
    assert listed["sms"]["notification_id"] == str(rows["beneficiary:sms"]["delivery_id"])
    assert listed["email"]["state"] == "suppressed"
    assert listed["email"]["suppression_reason"] == "opted_out"
    assert listed["sms"]["trigger"] == {"source": "/refuge/deadlines", "id": trigger}
    assert person.phone not in response.text and person.email not in response.text

    coordinator = _auth(n, tenant, Role.COORDINATOR)
    response = await n.http.get(f"/persons/{person.person_id}/notifications", headers=coordinator)
    assert response.status_code == 200, response.text
    assert {item["channel"] for item in response.json()["notifications"]} == {"sms", "email"}

    # a caseworker of another office, another organisation, an unknown id: all the same 404
    other_office = _auth(n, tenant, Role.CASEWORKER, uuid.uuid4())
    other_tenant = _auth(n, uuid.uuid4(), Role.COORDINATOR)
    for headers in (other_office, other_tenant):
        for path in (f"/cases/{person.case_id}/notifications", f"/persons/{person.person_id}/notifications"):
            response = await n.http.get(path, headers=headers)
            assert response.status_code == 404, (path, response.text)
    response = await n.http.get(f"/cases/{uuid.uuid4()}/notifications", headers=coordinator)
    assert response.status_code == 404 and "case_id" in response.json()["detail"]

    # no token, a role that sees no personal data
    assert (await n.http.get(f"/cases/{person.case_id}/notifications")).status_code == 401
    operator = _auth(n, tenant, Role.OPERATOR)
    assert (await n.http.get(f"/cases/{person.case_id}/notifications", headers=operator)).status_code == 403
    response = await n.http.get(
        f"/cases/{person.case_id}/notifications", params={"limit": 0}, headers=coordinator
    )
    assert response.status_code == 422 and "limit" in response.text


@pytest.mark.parametrize(
    ("kind", "language", "channel", "extra", "says"),
    [
        ("beneficiary_reminder", "fr", "sms", {"purpose": "appeal"}, "le délai pour faire votre recours"),
        ("beneficiary_hearing", "ar", "sms", {"change": "rescheduled"}, "الموعد الجديد"),
        ("beneficiary_hearing", "es", "email", {"change": "cancelled"}, "queda anulada"),
        ("deadline_missed", "en", "email", {}, "Deadline missed"),
        ("caseworker_digest", "fr", "email", {}, "Échéances de votre permanence"),
    ],
)
async def test_a_preview_renders_any_kind_without_sending(
    notifications: Notifications, kind: str, language: str, channel: str, extra: dict[str, str], says: str
) -> None:
    n = notifications
    tenant, _office = await n.new_organisation(name="Refuge Lyon")
    sent_before = (len(n.sms.store.messages), len(n.mail.messages))
    response = await n.http.get(
        "/notifications/preview",
        params={"kind": kind, "language": language, "channel": channel, **extra},
        headers=_auth(n, tenant, Role.OPERATOR),
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["sent"] is False and preview["direction"] == ("rtl" if language == "ar" else "ltr")
    if channel == "sms":
        body = preview["sms"]["body"]
        assert says in body and "Refuge Lyon" in body and "STOP" in body
        length = measure(body)
        assert (preview["sms"]["encoding"], preview["sms"]["segments"]) == (
            length.encoding.value,
            length.segments,
        )
        assert preview["sms"]["segments"] <= 2
        assert preview["sms"]["encoding"] == ("ucs2" if language == "ar" else "gsm7")
    else:
        assert says in preview["email"]["subject"] + preview["email"]["text"]
    assert (len(n.sms.store.messages), len(n.mail.messages)) == sent_before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "love_letter"}, "kind"),
        ({"kind": "deadline_missed", "language": "ar"}, "language"),
        ({"kind": "caseworker_digest", "channel": "sms"}, "channel"),
        ({"kind": "beneficiary_reminder", "purpose": "holiday"}, "purpose"),
        ({"kind": "beneficiary_hearing", "change": "held"}, "change"),
        ({"kind": "beneficiary_hearing", "timezone": "Mars/Olympus"}, "timezone"),
    ],
)
async def test_a_bad_preview_request_names_the_field(
    notifications: Notifications, params: dict[str, str], field: str
) -> None:
    n = notifications
    response = await n.http.get(
        "/notifications/preview", params=params, headers=_auth(n, uuid.uuid4(), Role.CASEWORKER)
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}:")
