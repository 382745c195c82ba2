"""The development sinks keep what they receive, as a provider would answer."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from refuge_devstack.mail_sink import MailSink
from refuge_devstack.ports import free_port
from refuge_devstack.sms_sink import SmsStore, sink_app


@pytest.fixture
def mail(tmp_path: Path) -> MailSink:
    sink = MailSink(port=free_port(), directory=tmp_path / "mail")
    sink.start()
    yield sink  # type: ignore[misc]
    sink.stop()


def test_the_mail_sink_keeps_each_message_in_memory_and_on_disk(mail: MailSink, tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.test", "b@y.test", "Échéance"
    message["Message-ID"] = "<k1@refuge>"
    message.set_content("bonjour")
    with smtplib.SMTP("127.0.0.1", mail.port) as client:
        client.send_message(message)
    [received] = mail.messages
    assert received.envelope_to == ["b@y.test"]
    assert received.summary()["subject"] == "Échéance"
    assert received.message.get_content().strip() == "bonjour"
    assert [p.name for p in (tmp_path / "mail").iterdir()] == ["000001.eml"]


async def test_the_sms_sink_takes_the_webhook_and_the_twilio_shapes(tmp_path: Path) -> None:
    store = SmsStore(tmp_path / "sms")
    transport = httpx.ASGITransport(app=sink_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://sink") as client:
        webhook = await client.post(
            "/sms", json={"to": "+33612345678", "body": "Rappel"}, headers={"Idempotency-Key": "k1"}
        )
        assert webhook.status_code == 202
        twilio = await client.post(
            "/2010-04-01/Accounts/AC1/Messages.json",
            data={"To": "+33612345678", "From": "REFUGE", "Body": "STOP"},
        )
        assert twilio.status_code == 201 and twilio.json()["status"] == "queued"
        refused = await client.post("/sms", json={"to": "+33612345678"})
        assert refused.status_code == 422 and "body" in refused.text
        listed = (await client.get("/sms")).json()
    assert [(m["shape"], m["body"], m["idempotency_key"]) for m in listed] == [
        ("webhook", "Rappel", "k1"),
        ("twilio", "STOP", None),
    ]
    assert len((tmp_path / "sms" / "sms.jsonl").read_text().splitlines()) == 2
