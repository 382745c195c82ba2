"""The walking skeleton, through the running processes: intake → deadlines → notifications
→ reporting, on the real broker, PostgreSQL and SMTP server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import httpx
import pytest
from e2e_stack import Stack, api, open_case_with_decision
from e2e_support import FRENCH_MONTHS, l911_1_last_day, read_topic, recent_notification_date, wait_until

from refuge_common.presentation import case_reference

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
PARIS = ZoneInfo("Europe/Paris")


def test_a_removal_decision_becomes_a_deadline_an_email_and_a_figure(stack: Stack) -> None:
    tenant = stack.onboard("Association d'aide juridique", f"cw-{uuid.uuid4().hex[:8]}@ngo.test")
    notified_on = recent_notification_date(datetime.now(PARIS).date())
    notified_at = datetime.combine(notified_on, time(10, 30), PARIS)

    case_id = open_case_with_decision(stack, tenant, notified_at)

    # The caseworker is e-mailed through the real SMTP server, in French, with the date
    # the law gives (worked out here independently of the engine).
    mails = wait_until(
        lambda: stack.mail_to(tenant.caseworker_email), timeout=90, what="the caseworker's reminder e-mail"
    )
    assert len(mails) == 1
    message = mails[0].message
    last_day = l911_1_last_day(notified_on)
    due_text = f"{last_day.day} {FRENCH_MONTHS[last_day.month]} {last_day.year} à 23 h 59"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert due_text in text and due_text in html
    assert case_reference(case_id) in message["Subject"]
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"].endswith("@refuge.notifications>")

    # The events left through the outboxes as CloudEvents in Kafka binary mode, keyed by
    # aggregate, with no personal data in clear.
    case_records = [r for r in read_topic(stack.kafka, "refuge.cases.v1") if r.key == case_id.encode()]
    headers = [dict(r.headers) for r in case_records]
    assert [h["ce_type"] for h in headers] == [
        b"org.refuge.case.opened.v1",
        b"org.refuge.case.decision_notified.v1",
    ]
    assert all(
        h["ce_source"] == b"/refuge/intake"
        and h["ce_tenantid"] == tenant.organisation_id.encode()
        and h["ce_specversion"] == b"1.0"
        for h in headers
    )
    deadline_records = [
        r
        for r in read_topic(stack.kafka, "refuge.deadlines.v1")
        if dict(r.headers).get("ce_tenantid") == tenant.organisation_id.encode()
    ]
    computed = [
        r for r in deadline_records if dict(r.headers)["ce_type"] == b"org.refuge.deadline.computed.v1"
    ]
    assert len(computed) == 1
    assert b'"rule":"fr.ceseda.l911-1.oqtf_ordinary"' in computed[0].value.replace(b" ", b"")
    expected_due = datetime.combine(last_day, time(23, 59, 59), PARIS)
    assert expected_due.isoformat().encode() in computed[0].value
    for record in case_records + deadline_records:
        assert tenant.caseworker_email.encode() not in record.value
        assert b"Camille" not in record.value

    # Reporting counts the open case and the deadline, for a token from intake's token
    # endpoint verified against intake's published keys.
    token = httpx.post(
        f"{stack.url('intake')}/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": tenant.api_key},
    ).json()["access_token"]

    def figures() -> dict[str, int] | None:
        response = httpx.get(
            f"{stack.url('reporting')}/figures", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return body if body["deadlines_computed"] == 1 else None

    body = wait_until(figures, timeout=30, what="reporting's figures")
    assert body["cases_open"] == 1 and body["cases_opened"] == 1
    assert body["organisation_id"] == tenant.organisation_id


def test_a_malformed_case_event_is_dead_lettered_and_the_next_one_processed(stack: Stack) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    tenant = stack.onboard("Association test DLQ", f"cw-{uuid.uuid4().hex[:8]}@ngo.test")
    with api(stack, tenant) as client:
        opened = client.post(
            "/cases",
            json={"case_type": "removal_appeal", "channel": "phone", "caseworker_id": tenant.caseworker_id},
        )
        case_id = opened.json()["case_id"]

    async def publish_poison() -> tuple[int, int]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all")
        await producer.start()
        try:
            metadata = await producer.send_and_wait(
                "refuge.cases.v1",
                b'{"case_id": "not-a-uuid", "decision": 42}',
                key=case_id.encode(),
                headers=[
                    ("ce_specversion", b"1.0"),
                    ("ce_id", b"poison-1"),
                    ("ce_source", b"/test"),
                    ("ce_type", b"org.refuge.case.decision_notified.v1"),
                    ("content-type", b"application/json"),
                ],
            )
            return metadata.partition, metadata.offset
        finally:
            await producer.stop()

    partition, offset = asyncio.run(publish_poison())
    notified_at = datetime.now(UTC).replace(microsecond=0)
    with api(stack, tenant) as client:
        recorded = client.post(
            f"/cases/{case_id}/facts/decision_notified",
            json={"decision": "oqtf", "regime": "ordinary", "notified_at": notified_at.isoformat()},
        )
        assert recorded.status_code == 201

    def dead_letter() -> dict[str, bytes] | None:
        for record in read_topic(stack.kafka, "refuge.deadletter.v1", timeout=2):
            headers = dict(record.headers)
            if (
                headers.get("refuge_dlq_consumer") == b"refuge.deadlines.cases"
                and headers.get("refuge_dlq_partition") == str(partition).encode()
                and headers.get("refuge_dlq_offset") == str(offset).encode()
            ):
                return headers
        return None

    headers = wait_until(dead_letter, timeout=60, what="the dead letter")
    assert headers["refuge_dlq_topic"] == b"refuge.cases.v1"
    reason = headers["refuge_dlq_error"].decode()
    assert "case_id" in reason and "decision" in reason and "not-a-uuid" not in reason
    # The good decision behind it on the same partition was processed: its reminder came.
    wait_until(
        lambda: stack.mail_to(tenant.caseworker_email),
        timeout=60,
        what="the reminder of the decision after the poison message",
    )
