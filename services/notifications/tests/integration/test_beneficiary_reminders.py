"""Beneficiary reminders through the running service: Kafka in, PostgreSQL, the real SMTP and
HTTP SMS sinks out. The right message, in the right language and local time, only with
consent, never at night, never twice, never to someone erased or who said STOP."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import sys
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from refuge_devstack.mail_sink import ReceivedMail
from refuge_devstack.sms_sink import Fault
from refuge_notifications.domain.rendering import format_instant
from refuge_notifications.domain.signatures import twilio_signature
from refuge_notifications.domain.sms_length import measure

if TYPE_CHECKING:
    from conftest import Notifications

pytestmark = pytest.mark.integration
PARIS = ZoneInfo("Europe/Paris")
SENT = {"sent"}


def _parsed(mail: ReceivedMail) -> EmailMessage:
    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _secret(n: Notifications) -> str:
    secret = n.settings.notifications_sms_default_inbound_secret
    assert secret is not None
    return secret.get_secret_value()


def _names(found: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str | None]]:
    return [(name, data["channel"], data.get("reason")) for name, data in found]


@pytest.mark.parametrize(
    ("language", "timezone", "locale", "sms_says", "encoding", "subject_says"),
    [
        (
            "fr",
            "Europe/Paris",
            "fr",
            "La Cimade : le délai pour faire votre recours se termine le",
            "gsm7",
            "rappel",
        ),
        (
            "en-GB",
            "Europe/London",
            "en_GB",
            "La Cimade: the deadline to file your appeal ends on",
            "gsm7",
            "reminder",
        ),
        (
            "es",
            "America/New_York",
            "es",
            "La Cimade: el plazo para presentar su recurso termina el",
            "gsm7",
            "recordatorio",
        ),
        ("ar-SY", "Asia/Beirut", "ar_SY", "\u200fLa Cimade: تنتهي مهلة تقديم طعنك يوم", "ucs2", "تذكير"),
    ],
)
async def test_a_beneficiary_is_reminded_in_their_language_and_local_time(
    notifications: Notifications,
    language: str,
    timezone: str,
    locale: str,
    sms_says: str,
    encoding: str,
    subject_says: str,
) -> None:
    n = notifications
    n.clock.daytime_in(timezone)
    tenant, office = await n.new_organisation("La Cimade")
    person = await n.new_person(tenant, office, language=language, timezone=timezone)
    due = (
        (n.clock() + timedelta(days=30))
        .astimezone(PARIS)
        .replace(hour=23, minute=59, second=59, microsecond=0)
    )
    trigger = await n.remind(person, due=due)

    rows = await n.settled(trigger, 2, SENT)
    code = language.split("-")[0]
    # the unit tests hold format_instant to hand-written strings; here: the recipient's zone
    local = due.astimezone(ZoneInfo(timezone))
    due_text = format_instant(due, timezone, code, locale=locale)
    assert str(local.day) in due_text and f"{local:%M}" in due_text
    assert (local.hour % 12 or 12) == int(re.findall(r"(\d{1,2})(?::| h )\d\d", due_text)[-1]) % 12 or 12

    [sms] = n.sms_to(person.phone)
    body = sms["body"]
    assert body.startswith(f"{sms_says} {due_text}.") and "STOP" in body
    assert measure(body).encoding.value == encoding and measure(body).segments <= 2
    assert sms["idempotency_key"] == rows["beneficiary:sms"]["idempotency_key"]
    assert "Amina" not in body and "Haddad" not in body  # nothing the templates were not given

    [mail] = n.mail_to(person.email)
    message = _parsed(mail)
    assert subject_says in message["Subject"] and "La Cimade" in message["Subject"]
    assert due_text in message["Subject"]
    assert message["From"].addresses[0].display_name == "La Cimade"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert due_text in text.get_content() and due_text in html.get_content()
    assert f'<html lang="{language}" dir="{"rtl" if code == "ar" else "ltr"}">' in html.get_content()
    assert message["Content-Language"] == code
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{n.settings.notifications_public_url}/unsubscribe/")
    assert (
        unsubscribe in text.get_content() and message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert "Amina" not in mail.raw.decode(errors="replace")

    events = await n.wait_events(tenant, lambda found: len(found) >= 2)
    sent = {data["channel"]: data for name, data in events if name == "sent"}
    assert set(sent) == {"sms", "email"}
    assert sent["sms"]["language"] == code and sent["sms"]["provider"] == "sms-webhook"
    assert sent["email"]["recipient_kind"] == "beneficiary" and sent["email"]["provider"] == "smtp"
    assert all(person.phone not in str(data) and person.email not in str(data) for _, data in events)


async def test_no_consent_means_no_message_and_a_suppressed_event(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, sms=None, email=None)
    trigger = await n.remind(person)

    rows = await n.settled(trigger, 2, {"suppressed"})
    assert {key: row["last_error"] for key, row in rows.items()} == {
        "beneficiary:sms": "no_consent",
        "beneficiary:email": "no_consent",
    }
    events = await n.wait_events(tenant, lambda found: len(found) >= 2)
    assert sorted(_names(events)) == [
        ("suppressed", "email", "no_consent"),
        ("suppressed", "sms", "no_consent"),
    ]
    await asyncio.sleep(0.5)
    assert n.sms_to(person.phone) == [] and n.mail_to(person.email) == []


async def test_a_withdrawn_consent_stops_the_next_reminder_and_an_older_one_does_not_undo_it(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    withdrawn_at = n.clock()
    withdrawal = await n.record_consent(person, "sms", False, withdrawn_at)
    # recorded earlier, arriving later: the withdrawal stays in force (latest recorded_at wins)
    older = await n.record_consent(person, "sms", True, withdrawn_at - timedelta(minutes=5))
    await n.applied(withdrawal, older)
    assert not await n.fetchval(
        "SELECT given FROM notifications.consents WHERE person_id = $1 AND channel = 'sms'", person.person_id
    )
    trigger = await n.remind(person)

    rows = await n.settled(trigger, 2, {"sent", "suppressed"})
    assert rows["beneficiary:sms"]["status"] == "suppressed"
    assert rows["beneficiary:sms"]["last_error"] == "opted_out"
    assert rows["beneficiary:email"]["status"] == "sent"  # e-mail consent is separate
    assert n.sms_to(person.phone) == []


async def test_quiet_hours_defer_the_sms_to_the_morning_then_send_it(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    night = (
        (n.clock() + timedelta(days=1)).astimezone(PARIS).replace(hour=23, minute=0, second=0, microsecond=0)
    )
    n.clock.move_to(night)
    trigger = await n.remind(person)

    async def deferred() -> dict[str, Any] | None:
        rows = await n.deliveries(trigger)
        sms = rows.get("beneficiary:sms")
        return rows if sms and sms["status"] == "pending" and sms["next_attempt_at"] > n.clock() else None

    rows = await n.eventually(deferred)
    morning = (night + timedelta(days=1)).replace(hour=8, minute=0)
    assert rows["beneficiary:sms"]["next_attempt_at"] == morning
    events = await n.wait_events(tenant, lambda found: any(name == "suppressed" for name, _ in found))
    [(_, notice)] = [(name, data) for name, data in events if name == "suppressed"]
    assert notice["reason"] == "quiet_hours_deferred"
    assert datetime.fromisoformat(notice["deferred_until"]) == morning
    # e-mail is not held back; the SMS is
    await n.eventually(lambda: asyncio.sleep(0, result=bool(n.mail_to(person.email))))
    await asyncio.sleep(1.5)
    assert n.sms_to(person.phone) == []

    n.clock.move_to(morning + timedelta(minutes=1))
    rows = await n.settled(trigger, 2, SENT)
    assert len(n.sms_to(person.phone)) == 1
    events = await n.wait_events(tenant, lambda found: sum(name == "sent" for name, _ in found) == 2)
    assert [name for name, data in events if data["channel"] == "sms"] == ["suppressed", "sent"]
    assert {data["notification_id"] for _, data in events if data["channel"] == "sms"} == {
        str(rows["beneficiary:sms"]["delivery_id"])
    }


async def test_an_urgent_reminder_goes_at_night_when_the_morning_would_be_too_late(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    night = (
        (n.clock() + timedelta(days=1)).astimezone(PARIS).replace(hour=23, minute=0, second=0, microsecond=0)
    )
    n.clock.move_to(night)
    # a 48-hour detention appeal that ends at 5 a.m.: waiting for 8 a.m. would be too late
    trigger = await n.remind(person, due=night + timedelta(hours=6), offset="PT6H")
    await n.settled(trigger, 2, SENT)
    assert len(n.sms_to(person.phone)) == 1


async def test_a_withdrawal_stops_a_deferred_sms_before_it_is_sent(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=None)
    night = (
        (n.clock() + timedelta(days=1)).astimezone(PARIS).replace(hour=22, minute=0, second=0, microsecond=0)
    )
    n.clock.move_to(night)
    trigger = await n.remind(person)
    await n.eventually(
        lambda: n.fetchval(
            """SELECT status = 'pending' AND next_attempt_at > $2 FROM notifications.deliveries
               WHERE trigger_event_id = $1 AND channel = 'sms'""",
            trigger,
            n.clock(),
        )
    )
    await n.record_consent(person, "sms", False, n.clock())
    rows = await n.settled(trigger, 2, {"suppressed"})
    assert rows["beneficiary:sms"]["last_error"] == "opted_out"
    n.clock.move_to(night + timedelta(hours=11))
    await asyncio.sleep(1.5)
    assert n.sms_to(person.phone) == []
    events = await n.wait_events(tenant, lambda found: len(found) >= 3)
    assert ("suppressed", "sms", "opted_out") in _names(events)


async def test_stop_by_sms_stops_the_next_reminder(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=None)
    first = await n.remind(person)
    await n.settled(first, 2, {"sent", "suppressed"})
    assert len(n.sms_to(person.phone)) == 1

    url = f"/sms/{tenant}/webhook/inbound"
    refused = await n.http.post(url, json={"from": person.phone, "body": "STOP"})
    assert refused.status_code == 401
    refused = await n.http.post(
        url, json={"from": person.phone, "body": "STOP"}, headers={"X-Refuge-Webhook-Secret": "wrong"}
    )
    assert refused.status_code == 401
    assert await n.fetchval(
        "SELECT given FROM notifications.consents WHERE person_id = $1 AND channel = 'sms'", person.person_id
    )
    # a reply that is not a STOP changes nothing
    other = await n.http.post(
        url, json={"from": person.phone, "body": "Merci !"}, headers={"X-Refuge-Webhook-Secret": _secret(n)}
    )
    assert other.status_code == 200
    stop = await n.http.post(
        url,
        json={"from": person.phone.replace("+33", "+33 "), "body": "Stop"},
        headers={"X-Refuge-Webhook-Secret": _secret(n)},
    )
    assert stop.status_code == 200
    consent = await n.fetch(
        "SELECT given, source FROM notifications.consents WHERE person_id = $1 AND channel = 'sms'",
        person.person_id,
    )
    assert consent == [{"given": False, "source": "stop_reply"}]

    second = await n.remind(person)
    rows = await n.settled(second, 2, {"suppressed"})
    assert rows["beneficiary:sms"]["last_error"] == "opted_out"
    await asyncio.sleep(0.5)
    assert len(n.sms_to(person.phone)) == 1
    # the phone number itself is nowhere in the read-model
    stored = await n.fetch(
        "SELECT * FROM notifications.person_contacts WHERE person_id = $1", person.person_id
    )
    assert person.phone not in str(stored) and person.phone[1:] not in str(stored)


async def test_a_provider_outage_is_retried_and_the_sms_arrives_once(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=None)
    n.sms.store.add_fault(Fault(count=2, status=503, retry_after=1))
    trigger = await n.remind(person)

    rows = await n.settled(trigger, 2, {"sent", "suppressed"})
    sms = rows["beneficiary:sms"]
    assert sms["status"] == "sent" and sms["attempts"] == 2 and sms["last_error"] == "http 503"
    refused = [m for m in n.sms.store.refused if m["to"] == person.phone]
    assert len(refused) == 2
    [kept] = n.sms_to(person.phone)
    assert kept["idempotency_key"] == sms["idempotency_key"] == refused[0]["idempotency_key"]
    assert sms["provider_message_id"] == kept["sid"]
    events = await n.wait_events(tenant, lambda found: any(name == "sent" for name, _ in found))
    assert [name for name, data in events if data["channel"] == "sms"] == ["sent"]


async def test_a_provider_that_never_answers_leaves_the_sms_unknown_and_never_sends_it_again(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, email=None)
    n.sms.store.add_fault(Fault(count=1, hang_seconds=3))
    trigger = await n.remind(person)

    rows = await n.settled(trigger, 2, {"unknown", "suppressed"})
    assert rows["beneficiary:sms"]["status"] == "unknown"
    events = await n.wait_events(tenant, lambda found: any(name == "failed" for name, _ in found))
    assert ("failed", "sms", "outcome_unknown") in _names(events)
    await asyncio.sleep(2)
    assert len(n.sms_to(person.phone)) == 1  # the sink had it; nobody sent it a second time


async def test_an_erased_person_receives_nothing_and_is_forgotten(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    night = (
        (n.clock() + timedelta(days=1)).astimezone(PARIS).replace(hour=22, minute=0, second=0, microsecond=0)
    )
    n.clock.move_to(night)
    planned = await n.remind(person)  # the SMS waits for the morning, the e-mail goes
    await n.eventually(
        lambda: n.fetchval(
            """SELECT bool_and(status = CASE channel WHEN 'sms' THEN 'pending' ELSE 'sent' END)
                      AND count(*) = 2
               FROM notifications.deliveries WHERE trigger_event_id = $1""",
            planned,
        )
    )
    mails_before = len(n.mail_to(person.email))
    await n.erase(person)

    rows = await n.settled(planned, 2, {"suppressed", "sent"})
    assert (
        rows["beneficiary:sms"]["status"] == "suppressed"
        and rows["beneficiary:sms"]["last_error"] == "erased"
    )
    for table in ("person_contacts", "consents"):
        assert (
            await n.fetchval(
                f"SELECT count(*) FROM notifications.{table} WHERE person_id = $1", person.person_id
            )
            == 0
        )
    assert (
        await n.fetchval(
            "SELECT count(*) FROM notifications.case_persons WHERE person_id = $1", person.person_id
        )
        == 0
    )

    n.clock.move_to(night + timedelta(hours=11))
    later = await n.remind(person)
    rows = await n.settled(later, 2, {"suppressed"})
    assert {row["last_error"] for row in rows.values()} == {"erased"}
    await asyncio.sleep(1.5)
    assert n.sms_to(person.phone) == [] and len(n.mail_to(person.email)) == mails_before
    events = await n.wait_events(
        tenant, lambda found: sum(d.get("reason") == "erased" for _, d in found) >= 3
    )
    assert all(data["recipient_id"] == str(person.person_id) for _, data in events)


async def test_the_unsubscribe_link_withdraws_email_consent(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office, language="es")
    first = await n.remind(person)
    await n.settled(first, 2, SENT)
    [mail] = n.mail_to(person.email)
    link = _parsed(mail)["List-Unsubscribe"].strip("<>")
    path = urlsplit(link).path

    page = await n.http.get(path)
    assert page.status_code == 200 and '<form method="post">' in page.text and 'lang="es"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert await n.fetchval(
        "SELECT given FROM notifications.consents WHERE person_id = $1 AND channel = 'email'",
        person.person_id,
    ), "opening the link alone changes nothing (link scanners open links)"
    tampered = await n.http.post(path[:-3] + "xyz")
    assert tampered.status_code == 404
    done = await n.http.post(path, content="List-Unsubscribe=One-Click")
    assert done.status_code == 200 and "La Cimade" in done.text
    consent = await n.fetch(
        "SELECT given, source FROM notifications.consents WHERE person_id = $1 AND channel = 'email'",
        person.person_id,
    )
    assert consent == [{"given": False, "source": "unsubscribe_link"}]

    second = await n.remind(person)
    rows = await n.settled(second, 2, {"sent", "suppressed"})
    assert rows["beneficiary:email"]["status"] == "suppressed" and rows["beneficiary:sms"]["status"] == "sent"
    assert len(n.mail_to(person.email)) == 1


async def test_delivery_receipts_become_delivered_and_failed_events(notifications: Notifications) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    alice = await n.new_person(tenant, office, email=None)
    bob = await n.new_person(tenant, office, email=None)
    rows_a = await n.settled(await n.remind(alice), 2, {"sent", "suppressed"})
    rows_b = await n.settled(await n.remind(bob), 2, {"sent", "suppressed"})
    headers = {"X-Refuge-Webhook-Secret": _secret(n)}
    url = f"/sms/{tenant}/webhook/status"

    sid = rows_a["beneficiary:sms"]["provider_message_id"]
    assert (await n.http.post(url, json={"id": sid, "status": "delivered"}, headers=headers)).json() == {
        "applied": True
    }
    again = await n.http.post(url, json={"id": sid, "status": "delivered"}, headers=headers)
    assert again.json() == {"applied": False}  # once
    key = rows_b["beneficiary:sms"]["idempotency_key"]
    failed = await n.http.post(
        url, json={"idempotency_key": key, "status": "undelivered", "error_code": "30003"}, headers=headers
    )
    assert failed.json() == {"applied": True}
    queued = await n.http.post(url, json={"id": "other", "status": "queued"}, headers=headers)
    assert queued.json() == {"applied": False}
    assert (await n.http.post(url, json={"id": sid, "status": "delivered"})).status_code == 401

    events = await n.wait_events(tenant, lambda found: any(name in {"delivered"} for name, _ in found))
    events = await n.wait_events(
        tenant, lambda found: sum(name in {"delivered", "failed"} for name, _ in found) == 2
    )
    receipts = {name: data for name, data in events if name in {"delivered", "failed"}}
    assert receipts["delivered"]["notification_id"] == str(rows_a["beneficiary:sms"]["delivery_id"])
    assert receipts["failed"]["notification_id"] == str(rows_b["beneficiary:sms"]["delivery_id"])
    assert (receipts["failed"]["reason"], receipts["failed"]["provider_code"]) == ("undeliverable", "30003")


async def test_an_organisation_can_turn_a_channel_off(notifications: Notifications, tmp_path: Any) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    person = await n.new_person(tenant, office)
    result = await _cli(
        n,
        "policy",
        "set",
        "--org",
        str(tenant),
        "--recipient",
        "beneficiary",
        "--channel",
        "email",
        "--disabled",
    )
    assert result["enabled"] is False and result["overridden"] is True
    shown = await _cli(n, "policy", "show", "--org", str(tenant))
    states = {
        (r["recipient"], r["channel"]): r["enabled"] for r in shown["rules"] if r["trigger"] == "reminder.due"
    }
    assert states == {
        ("beneficiary", "email"): False,
        ("beneficiary", "sms"): True,
        ("caseworker", "email"): True,
    }
    trigger = await n.remind(person)
    rows = await n.settled(trigger, 1, SENT)
    assert set(rows) == {"beneficiary:sms"}


async def _cli(n: Notifications, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    environment = {
        **os.environ,
        **(env or {}),
        "DATABASE_URL": n.settings.database_url,
        "REFUGE_MASTER_KEY": n.settings.master_key.get_secret_value() if n.settings.master_key else "",
        "NOTIFICATIONS_PUBLIC_URL": n.settings.notifications_public_url or "",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "refuge_notifications",
        *args,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


async def test_an_organisation_on_twilio_sends_receives_receipts_and_stop_replies(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation("Forum Réfugiés")
    configured = await _cli(
        n,
        "sms-provider",
        "set",
        "--org",
        str(tenant),
        "--kind",
        "twilio",
        "--url",
        n.sms.url,
        "--account-sid",
        "AC0123456789",
        "--sender",
        "+33700000001",
        "--display-name",
        "Forum",
        env={"REFUGE_SMS_AUTH_TOKEN": "twilio-auth-token"},
    )
    assert configured["kind"] == "twilio" and "auth_token" in configured["secrets"]
    assert "twilio-auth-token" not in str(configured)
    stored = await n.fetch("SELECT * FROM notifications.sms_providers WHERE tenant_id = $1", tenant)
    assert stored and "twilio-auth-token" not in str(stored)  # sealed under the organisation's key
    shown = await _cli(n, "sms-provider", "show", "--org", str(tenant))
    assert shown == {
        "organisation_id": str(tenant),
        "kind": "twilio",
        "url": n.sms.url,
        "account_sid": "AC0123456789",
        "sender": "+33700000001",
        "display_name": "Forum",
    }

    person = await n.new_person(tenant, office, email=None)
    rows = await n.settled(await n.remind(person), 2, {"sent", "suppressed"})
    [sms] = n.sms_to(person.phone)
    assert sms["shape"] == "twilio" and sms["auth"] == "Basic AC0123456789" and sms["from"] == "+33700000001"
    assert sms["body"].startswith("Forum : le délai pour faire votre recours")
    assert sms["status_callback"] == f"{n.settings.notifications_public_url}/sms/{tenant}/twilio/status"
    assert rows["beneficiary:sms"]["provider"] == "twilio"

    async def signed_post(path: str, form: dict[str, str], token: str = "twilio-auth-token") -> int:
        url = f"{n.settings.notifications_public_url}{path}"
        signature = twilio_signature(token, url, list(form.items()))
        response = await n.http.post(path, data=form, headers={"X-Twilio-Signature": signature})
        return response.status_code

    status_path = f"/sms/{tenant}/twilio/status"
    receipt = {"MessageSid": sms["sid"], "MessageStatus": "delivered", "AccountSid": "AC0123456789"}
    assert await signed_post(status_path, receipt, token="not-the-token") == 401
    assert (await n.http.post(status_path, data=receipt)).status_code == 401
    assert await signed_post(status_path, receipt) == 204
    # a generic-webhook call to a Twilio organisation is refused, even with the default secret
    generic = await n.http.post(
        f"/sms/{tenant}/webhook/inbound",
        json={"from": person.phone, "body": "STOP"},
        headers={"X-Refuge-Webhook-Secret": _secret(n)},
    )
    assert generic.status_code == 401

    inbound_path = f"/sms/{tenant}/twilio/inbound"
    reply = {"From": person.phone, "To": "+33700000001", "Body": "ARRÊT", "MessageSid": "SMin1"}
    assert await signed_post(inbound_path, {**reply, "Body": "STOP"}, token="nope") == 401
    assert await signed_post(inbound_path, reply) == 200
    consent = await n.fetch(
        "SELECT given, source FROM notifications.consents WHERE person_id = $1 AND channel = 'sms'",
        person.person_id,
    )
    assert consent == [{"given": False, "source": "stop_reply"}]
    events = await n.wait_events(tenant, lambda found: any(name == "delivered" for name, _ in found))
    assert ("delivered", "sms", None) in _names(events)

    second = await n.remind(person)
    assert (await n.settled(second, 2, {"suppressed"}))["beneficiary:sms"]["last_error"] == "opted_out"
    assert len(n.sms_to(person.phone)) == 1
