"""A beneficiary's reminder through the running processes: intake registers the person and
their consents, deadlines computes the appeal deadline, notifications texts them through the
organisation's SMS provider (the HTTP SMS sink) and e-mails them through the real SMTP server,
in their language; a STOP reply through the provider's webhook withdraws their SMS consent."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from e2e_stack import Stack, api
from e2e_support import recent_notification_date, wait_until

from refuge_devstack.ports import free_port
from refuge_devstack.sms_sink import SmsSinkServer, SmsStore

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
PARIS = ZoneInfo("Europe/Paris")
T = TypeVar("T")
INBOUND_SECRET = "e2e-inbound-secret"
# The person lives where it is daytime now, so that quiet hours do not hold the SMS back.
ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata")


@pytest.fixture(scope="module")
def sms_sink() -> Iterator[SmsSinkServer]:
    sink = SmsSinkServer(SmsStore(None), free_port())
    sink.start()
    yield sink
    sink.stop()


def _daytime_zone() -> str:
    now = datetime.now(UTC)
    for zone in ZONES:
        if 9 <= now.astimezone(ZoneInfo(zone)).hour < 19:
            return zone
    raise AssertionError("no zone in daytime")  # the five zones cover every hour of the day


def _notifications_cli(stack: Stack, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "refuge_notifications", *args],
        env={**os.environ, **stack.env, "REFUGE_SMS_INBOUND_SECRET": INBOUND_SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_beneficiary_who_consented_is_texted_and_emailed_and_can_say_stop(
    stack: Stack, sms_sink: SmsSinkServer
) -> None:
    tenant = stack.onboard("Association d'aide juridique", f"cw-{uuid.uuid4().hex[:8]}@ngo.test")
    org = tenant.organisation_id
    url = f"{sms_sink.url}/sms"
    configured = _notifications_cli(
        stack, "sms-provider", "set", "--org", org, "--kind", "webhook", "--url", url
    )  # fmt: skip
    assert configured["kind"] == "webhook" and configured["secrets"] == ["inbound_secret"]
    zone = _daytime_zone()
    phone = f"+3361{uuid.uuid4().int % 10**7:07d}"
    address = f"amina-{uuid.uuid4().hex[:8]}@example.org"
    notified_at = datetime.combine(recent_notification_date(datetime.now(PARIS).date()), time(10, 30), PARIS)

    with api(stack, tenant) as client:
        registered = client.post(
            "/persons",
            json={
                "given_name": "Amina",
                "family_name": "Haddad",
                "birth_year": 1990,
                "preferred_language": "ar-SY",
                "phone": phone,
                "email": address,
                "timezone": zone,
            },
        )
        assert registered.status_code == 201, registered.text
        person_id = registered.json()["person_id"]
        opened = client.post(
            "/cases",
            json={
                "case_type": "removal_appeal",
                "channel": "in_person",
                "caseworker_id": tenant.caseworker_id,
                "person_id": person_id,
            },
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        for purpose in ("sms", "email"):
            consent = client.post(
                f"/cases/{case_id}/facts/consent_recorded", json={"purpose": purpose, "given": True}
            )
            assert consent.status_code == 201, consent.text
        decision = client.post(
            f"/cases/{case_id}/facts/decision_notified",
            json={"decision": "oqtf", "regime": "ordinary", "notified_at": notified_at.isoformat()},
        )
        assert decision.status_code == 201, decision.text

    [sms] = _arrived(
        stack, person_id, lambda: [m for m in sms_sink.store.messages if m["to"] == phone], "the SMS"
    )
    assert sms["body"].startswith("\u200fAssociation d'aide juridique: تنتهي مهلة تقديم طعنك يوم")
    assert "STOP" in sms["body"] and "Amina" not in sms["body"] and "Haddad" not in sms["body"]
    [mail] = _arrived(stack, person_id, lambda: stack.mail_to(address), "the beneficiary's e-mail")
    message = mail.message
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert 'dir="rtl"' in html and message["List-Unsubscribe"]
    assert wait_until(
        lambda: stack.mail_to(tenant.caseworker_email), timeout=60, what="the caseworker's e-mail"
    )

    notifications = stack.url("notifications")
    inbound = f"{notifications}/sms/{tenant.organisation_id}/webhook/inbound"
    refused = httpx.post(inbound, json={"from": phone, "body": "STOP"}, timeout=10)
    assert refused.status_code == 401
    stopped = httpx.post(
        inbound,
        json={"from": phone, "body": "STOP"},
        headers={"X-Refuge-Webhook-Secret": INBOUND_SECRET},
        timeout=10,
    )
    assert stopped.status_code == 200
    assert _sms_consent(stack, person_id) == (False, "stop_reply")


def _sms_consent(stack: Stack, person_id: str) -> tuple[bool, str] | None:
    async def query() -> tuple[bool, str] | None:
        connection = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            row = await connection.fetchrow(
                "SELECT given, source FROM notifications.consents WHERE person_id = $1 AND channel = 'sms'",
                uuid.UUID(person_id),
            )
        finally:
            await connection.close()
        return (row["given"], row["source"]) if row else None

    return asyncio.run(query())


def _arrived(stack: Stack, person_id: str, probe: Callable[[], list[T]], what: str) -> list[T]:
    """What ``probe`` finds within 90 s; else a failure that says where each of the person's
    messages stopped (the delivery log knows, and holds no personal data)."""

    try:
        return wait_until(probe, timeout=90, what=what)
    except AssertionError as error:
        raise AssertionError(f"{error}; the person's deliveries: {_deliveries(stack, person_id)}") from error


def _deliveries(stack: Stack, person_id: str) -> list[dict[str, object]]:
    async def query() -> list[dict[str, object]]:
        connection = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            rows = await connection.fetch(
                """SELECT channel, template, status, last_error, attempts, created_at, next_attempt_at,
                          lease_until
                   FROM notifications.deliveries WHERE recipient_id = $1 ORDER BY created_at""",
                uuid.UUID(person_id),
            )
        finally:
            await connection.close()
        return [dict(row) for row in rows]

    return asyncio.run(query())
