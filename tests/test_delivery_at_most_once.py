"""An e-mail is sent at most once per (event, recipient, channel), and none is lost silently,
even when the notifier is killed: through the running processes, on the real broker,
PostgreSQL and SMTP server."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from e2e_stack import Stack, Tenant, open_case_with_decision
from e2e_support import read_topic, recent_notification_date, wait_until

from refuge_common.presentation import case_reference

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
PARIS = ZoneInfo("Europe/Paris")
SETTLED = {"sent", "failed", "unknown"}


def _open_case_with_decision(stack: Stack, tenant: Tenant) -> str:
    notified_at = datetime.combine(recent_notification_date(datetime.now(PARIS).date()), time(9), PARIS)
    return open_case_with_decision(stack, tenant, notified_at)


def _deliveries(stack: Stack, tenant: Tenant) -> dict[str, str]:
    """Delivery status by case, for the tenant's caseworker e-mails."""

    async def query() -> dict[str, str]:
        connection = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            rows = await connection.fetch(
                "SELECT case_id::text, status FROM notifications.deliveries WHERE tenant_id = $1",
                uuid.UUID(tenant.organisation_id),
            )
        finally:
            await connection.close()
        return {row["case_id"]: row["status"] for row in rows}

    return asyncio.run(query())


def _settled(stack: Stack, tenant: Tenant, count: int) -> dict[str, str] | None:
    statuses = _deliveries(stack, tenant)
    return statuses if len(statuses) == count and set(statuses.values()) <= SETTLED else None


def _failures(stack: Stack, tenant: Tenant) -> list[dict[str, str]]:
    found = []
    for record in read_topic(stack.kafka, "refuge.notifications.v1", timeout=2):
        headers = dict(record.headers)
        if (
            headers.get("ce_tenantid") == tenant.organisation_id.encode()
            and headers.get("ce_type") == b"org.refuge.notification.failed.v1"
        ):
            found.append(json.loads(record.value))
    return found


def test_killing_the_notifier_mid_stream_neither_loses_nor_duplicates_email(stack: Stack) -> None:
    tenant = stack.onboard("Cimade test", f"cw-{uuid.uuid4().hex[:8]}@ngo.test")
    count = 25
    case_ids = [_open_case_with_decision(stack, tenant) for _ in range(count)]

    wait_until(
        lambda: len(stack.mail_to(tenant.caseworker_email)) >= 3, timeout=90, what="the first reminders"
    )
    stack.processes["notifications"].kill()  # SIGKILL, mid-stream
    stack.restart("notifications")
    statuses = wait_until(lambda: _settled(stack, tenant, count), timeout=120, what="every delivery settled")

    received = [m.message for m in stack.mail_to(tenant.caseworker_email)]
    message_ids = [message["Message-ID"] for message in received]
    assert len(message_ids) == len(set(message_ids)), "an e-mail was sent twice"
    in_mailbox = {c for c in case_ids if any(case_reference(c) in m["Subject"] for m in received)}
    # Sent means received. An e-mail the kill caught during its SMTP exchange is "unknown" and
    # reported, never silently dropped, never sent a second time. Only an exchange past the
    # *sending* mark can be caught so, and there are as many at once as SMTP connections.
    assert {c for c, status in statuses.items() if status == "sent"} <= in_mailbox
    unknown = {c for c, status in statuses.items() if status == "unknown"}
    assert set(case_ids) == in_mailbox | unknown
    assert len(unknown) <= int(stack.env["SMTP_POOL_SIZE"])
    assert set(statuses.values()) <= {"sent", "unknown"}
    # Each unknown one is reported to the caseworker's organisation, and nothing else is.
    failures = (
        wait_until(
            lambda: found if len(found := _failures(stack, tenant)) >= len(unknown) else None,
            timeout=30,
            what="a notification.failed for each unknown outcome",
        )
        if unknown
        else _failures(stack, tenant)
    )
    assert sorted((f["case_id"], f["reason"]) for f in failures) == sorted(
        (case_id, "outcome_unknown") for case_id in unknown
    )


def test_a_notifier_killed_while_the_server_holds_its_message_never_sends_it_again(stack: Stack) -> None:
    tenant = stack.onboard("Held reply test", f"cw-{uuid.uuid4().hex[:8]}@ngo.test")
    stack.mail.hold_replies()
    try:
        case_id = _open_case_with_decision(stack, tenant)
        # The server has the message; the notifier waits for its "250".
        wait_until(lambda: stack.mail_to(tenant.caseworker_email), timeout=60, what="the message handed over")
        assert _deliveries(stack, tenant) == {case_id: "sending"}
        stack.processes["notifications"].kill()
    finally:
        stack.mail.release_replies()
    stack.restart("notifications")

    statuses = wait_until(lambda: _settled(stack, tenant, 1), timeout=60, what="the abandoned send settled")
    assert statuses == {case_id: "unknown"}
    failures = wait_until(lambda: _failures(stack, tenant), timeout=30, what="notification.failed")
    assert [(f["case_id"], f["reason"]) for f in failures] == [(case_id, "outcome_unknown")]
    assert len(stack.mail_to(tenant.caseworker_email)) == 1
